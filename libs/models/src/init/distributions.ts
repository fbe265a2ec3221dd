import type { Rng } from '@supwalsh/engine';

/** How one weight tensor is filled (independently per element, except `orthogonal`). */
export type Distribution =
  | { kind: 'zeros' }
  | { kind: 'constant'; value: number }
  /** U(−bound, bound). */
  | { kind: 'uniform'; bound: number }
  /** N(0, std²), redrawn outside ±truncate when given (PyTorch's `trunc_normal_` bounds are absolute). */
  | { kind: 'normal'; std: number; truncate?: number }
  /** `nn.init.orthogonal_(gain)` on the PyTorch-shaped `[out, fan_in]` matrix. */
  | { kind: 'orthogonal'; gain: number };

export function fill(out: Float32Array, d: Distribution, random: Rng): Float32Array {
  switch (d.kind) {
    case 'zeros':
      out.fill(0);
      break;
    case 'constant':
      out.fill(d.value);
      break;
    case 'uniform':
      for (let i = 0; i < out.length; i++) out[i] = (2 * random.next() - 1) * d.bound;
      break;
    case 'normal': {
      // Box–Muller keeping both draws of each pair (twice as fast as one normal per two uniforms).
      const limit = d.truncate ?? Infinity;
      let i = 0;
      while (i < out.length) {
        const radius = Math.sqrt(-2 * Math.log(1 - random.next())) * d.std;
        const angle = 2 * Math.PI * random.next();
        const a = radius * Math.cos(angle);
        const b = radius * Math.sin(angle);
        if (Math.abs(a) <= limit) out[i++] = a;
        if (i < out.length && Math.abs(b) <= limit) out[i++] = b;
      }
      break;
    }
    case 'orthogonal':
      throw new Error('fill: orthogonal weights are matrices, not element-wise draws');
  }
  return out;
}

/** Human-readable form used in docs and error messages, e.g. `U(±0.0156)`. */
export function describeDistribution(d: Distribution): string {
  switch (d.kind) {
    case 'zeros':
      return '0';
    case 'constant':
      return String(d.value);
    case 'uniform':
      return `U(±${d.bound.toPrecision(3)})`;
    case 'normal':
      return `N(0, ${d.std.toPrecision(3)}²)${d.truncate === undefined ? '' : ` truncated at ±${d.truncate}`}`;
    case 'orthogonal':
      return `orthogonal × ${d.gain}`;
  }
}
