import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { onBoth } from '../kernels/run-on-both-backends.spec-helper.js';
import { validateModule } from '../wasm-module.js';
import { ADAM_UPDATE_KERNEL, adamUpdate, SGD_UPDATE_KERNEL, sgdUpdate } from './optimizer-updates.js';
import { adamProgram, sgdProgram } from './update-program.js';
import { encodeModule } from './wasm-update-module.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

/** 4k + 3 elements (a scalar tail after the vectors) spanning magnitudes, zeros of both signs and subnormals. */
function values(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const u = s / 2147483648;
    const magnitude = [1, 1e-3, 1e3, 1e-20, 1e-41][i % 5] as number;
    out[i] = i % 17 === 0 ? (i % 2 === 0 ? 0 : -0) : (u - 0.5) * magnitude * scale;
  }
  return out;
}

const N = 4 * 251 + 3;

interface AdamCase {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly lr: number;
  readonly weightDecay: number;
  readonly gradScale: number;
}

const ADAM_CASES: AdamCase[] = [
  { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, lr: 3e-5, weightDecay: 0, gradScale: 1 }, // the original's pretraining
  { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, lr: 1e-2, weightDecay: 0.1, gradScale: 1 },
  { beta1: 0.8, beta2: 0.99, epsilon: 1e-6, lr: 1e-3, weightDecay: 0, gradScale: 1 / 200 },
  { beta1: 0.5, beta2: 0.9, epsilon: 1e-3, lr: 0.3, weightDecay: 3e-6, gradScale: 1 / 7 },
];

/** `@supwalsh/method`'s optimizer before the fused update, step by step, as TF.js ops (the sequence to match). */
function adamAsBefore(c: AdamCase, p: tf.Variable, m: tf.Variable, v: tf.Variable, grad: tf.Tensor, t: number): void {
  tf.tidy(() => {
    let g = c.gradScale === 1 ? grad : tf.mul(grad, c.gradScale);
    if (c.weightDecay !== 0) g = tf.add(g, tf.mul(p, c.weightDecay));
    m.assign(tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1)));
    v.assign(tf.add(tf.mul(v, c.beta2), tf.mul(tf.square(g), 1 - c.beta2)));
    const bc1 = 1 - c.beta1 ** t;
    const bc2 = 1 - c.beta2 ** t;
    const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), c.epsilon);
    p.assign(tf.sub(p, tf.mul(tf.div(m, denom), c.lr / bc1)));
  });
}

function adamFused(c: AdamCase, p: tf.Variable, m: tf.Variable, v: tf.Variable, grad: tf.Tensor, t: number): void {
  tf.tidy(() => {
    const out = adamUpdate(p, grad, m, v, {
      beta1: c.beta1,
      beta2: c.beta2,
      epsilon: c.epsilon,
      lrOverBc1: c.lr / (1 - c.beta1 ** t),
      sqrtBc2: Math.sqrt(1 - c.beta2 ** t),
      weightDecay: c.weightDecay,
      gradScale: c.gradScale,
    });
    p.assign(out.p);
    m.assign(out.m);
    v.assign(out.v);
  });
}

const STEPS = 4;

/** Runs STEPS Adam steps with `step`; returns p, m and v as raw bits. */
function adamRun(c: AdamCase, step: typeof adamFused): Uint32Array[] {
  const p = tf.variable(tf.tensor1d(values(N, 1)));
  const m = tf.variable(tf.zeros([N]));
  const v = tf.variable(tf.zeros([N]));
  for (let t = 1; t <= STEPS; t++) {
    const grad = tf.tensor1d(values(N, 100 + t, c.gradScale === 1 ? 1 : 50));
    step(c, p, m, v, grad, t);
    grad.dispose();
  }
  const bits = [p, m, v].map((x) => new Uint32Array(Float32Array.from(x.dataSync()).buffer));
  tf.dispose([p, m, v]);
  return bits;
}

/** The same steps in float64 (torch.optim.Adam's formula), the independent reference. */
function adamFloat64(c: AdamCase): Float64Array {
  const p = Float64Array.from(values(N, 1));
  const m = new Float64Array(N);
  const v = new Float64Array(N);
  for (let t = 1; t <= STEPS; t++) {
    const grad = values(N, 100 + t, c.gradScale === 1 ? 1 : 50);
    for (let i = 0; i < N; i++) {
      const g = (grad[i] as number) * c.gradScale + c.weightDecay * (p[i] as number);
      m[i] = c.beta1 * (m[i] as number) + (1 - c.beta1) * g;
      v[i] = c.beta2 * (v[i] as number) + (1 - c.beta2) * g * g;
      const denom = Math.sqrt(v[i] as number) / Math.sqrt(1 - c.beta2 ** t) + c.epsilon;
      p[i] = (p[i] as number) - (c.lr / (1 - c.beta1 ** t)) * ((m[i] as number) / denom);
    }
  }
  return p;
}

interface SgdCase {
  readonly lr: number;
  readonly weightDecay: number;
  readonly gradScale: number;
  readonly momentum: number;
  readonly nesterov: boolean;
}

const SGD_CASES: SgdCase[] = [
  { lr: 0.1, weightDecay: 0, gradScale: 1, momentum: 0, nesterov: false },
  { lr: 3e-2, weightDecay: 3e-6, gradScale: 1 / 32, momentum: 0, nesterov: false }, // the original's training
  { lr: 0.05, weightDecay: 0, gradScale: 1, momentum: 0.9, nesterov: false },
  { lr: 0.05, weightDecay: 1e-4, gradScale: 1 / 3, momentum: 0.9, nesterov: true },
  { lr: 0.01, weightDecay: 0.01, gradScale: 1, momentum: 0.5, nesterov: false },
];

function sgdAsBefore(c: SgdCase, p: tf.Variable, buf: tf.Variable, grad: tf.Tensor, t: number): void {
  tf.tidy(() => {
    let g = c.gradScale === 1 ? grad : tf.mul(grad, c.gradScale);
    if (c.weightDecay !== 0) g = tf.add(g, tf.mul(p, c.weightDecay));
    if (c.momentum > 0) {
      buf.assign(t > 1 ? tf.add(tf.mul(buf, c.momentum), g) : g);
      g = c.nesterov ? tf.add(g, tf.mul(buf, c.momentum)) : buf;
    }
    p.assign(tf.sub(p, tf.mul(g, c.lr)));
  });
}

function sgdFused(c: SgdCase, p: tf.Variable, buf: tf.Variable, grad: tf.Tensor, t: number): void {
  tf.tidy(() => {
    const out = sgdUpdate(p, grad, c.momentum > 0 ? buf : null, {
      learningRate: c.lr,
      weightDecay: c.weightDecay,
      gradScale: c.gradScale,
      momentum: c.momentum,
      nesterov: c.nesterov,
      firstStep: t === 1,
    });
    p.assign(out.p);
    if (out.buf !== null) buf.assign(out.buf);
  });
}

function sgdRun(c: SgdCase, step: typeof sgdFused): Uint32Array[] {
  const p = tf.variable(tf.tensor1d(values(N, 1)));
  const buf = tf.variable(tf.zeros([N]));
  for (let t = 1; t <= STEPS; t++) {
    const grad = tf.tensor1d(values(N, 100 + t, c.gradScale === 1 ? 1 : 30));
    step(c, p, buf, grad, t);
    grad.dispose();
  }
  const bits = [p, buf].map((x) => new Uint32Array(Float32Array.from(x.dataSync()).buffer));
  tf.dispose([p, buf]);
  return bits;
}

function sgdFloat64(c: SgdCase): Float64Array {
  const p = Float64Array.from(values(N, 1));
  const buf = new Float64Array(N);
  for (let t = 1; t <= STEPS; t++) {
    const grad = values(N, 100 + t, c.gradScale === 1 ? 1 : 30);
    for (let i = 0; i < N; i++) {
      let g = (grad[i] as number) * c.gradScale + c.weightDecay * (p[i] as number);
      if (c.momentum > 0) {
        buf[i] = t === 1 ? g : c.momentum * (buf[i] as number) + g;
        g = c.nesterov ? g + c.momentum * (buf[i] as number) : (buf[i] as number);
      }
      p[i] = (p[i] as number) - c.lr * g;
    }
  }
  return p;
}

/** Bits of `a` and `b` that differ (0: identical). */
function differing(a: Uint32Array, b: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/**
 * Within float32 rounding of a few operations per step, relative to the larger of the result and the starting value
 * (the update may cancel most of the value). Elements that start subnormal are left to the bit-identity checks: their
 * float32 products keep only a few significant bits, which float64 does not reproduce.
 */
function expectClose(bits: Uint32Array, want: Float64Array, label: string): void {
  const got = new Float32Array(bits.buffer);
  const start = values(N, 1);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(start[i] as number) < 1.1754943508222875e-38) continue;
    const w = want[i] as number;
    worst = Math.max(worst, Math.abs((got[i] as number) - w) / Math.max(Math.abs(w), Math.abs(start[i] as number)));
  }
  expect(worst, label).toBeLessThan(1e-4);
}

/** Names of the kernels `fn` runs. */
async function kernelsOf(fn: () => void): Promise<string[]> {
  const info = await tf.profile(fn);
  return [...new Set(info.kernels.map((k) => k.name))];
}

describe('adamUpdate', () => {
  it.each(ADAM_CASES)(
    'gives the bits of the op sequence on wasm and cpu, and float64 Adam within rounding: %o',
    async (c) => {
      const { wasm, cpu } = await onBoth(() => ({ fused: adamRun(c, adamFused), before: adamRun(c, adamAsBefore) }));
      for (const [backend, run] of [
        ['wasm', wasm],
        ['cpu', cpu],
      ] as const) {
        run.fused.forEach((bits, k) => {
          expect(differing(bits, run.before[k] as Uint32Array), `${backend} ${['p', 'm', 'v'][k]}`).toBe(0);
        });
      }
      // The two backends' TF.js kernels agree too: the sequence is IEEE float32 everywhere.
      wasm.fused.forEach((bits, k) => expect(differing(bits, cpu.fused[k] as Uint32Array)).toBe(0));
      expectClose(wasm.fused[0] as Uint32Array, adamFloat64(c), 'p vs float64');
    }
  );

  it('runs as one kernel on wasm and as the op sequence on cpu, leaking nothing', async () => {
    const measure = async (backend: string) => {
      await tf.setBackend(backend);
      const [p, g, m, v] = [1, 2, 3, 4].map((s) => tf.abs(tf.tensor1d(values(N, s)))) as tf.Tensor[];
      const before = tf.memory().numTensors;
      const names = await kernelsOf(() => {
        const out = adamUpdate(p as tf.Tensor, g as tf.Tensor, m as tf.Tensor, v as tf.Tensor, {
          beta1: 0.9,
          beta2: 0.999,
          epsilon: 1e-8,
          lrOverBc1: 0.1,
          sqrtBc2: 0.5,
          weightDecay: 0.01,
          gradScale: 0.5,
        });
        tf.dispose([out.p, out.m, out.v]);
      });
      const leaked = tf.memory().numTensors - before;
      tf.dispose([p, g, m, v] as tf.Tensor[]);
      return { names, leaked };
    };
    const cpu = await measure('cpu');
    const wasm = await measure('wasm');
    expect(wasm).toEqual({ names: [ADAM_UPDATE_KERNEL], leaked: 0 });
    expect(cpu.leaked).toBe(0);
    expect(cpu.names).toEqual(expect.arrayContaining(['Multiply', 'Add', 'Sqrt', 'RealDiv', 'Sub', 'Square']));
    expect(cpu.names).not.toContain(ADAM_UPDATE_KERNEL);
  });

  it('rejects bad input naming the field, before touching anything', () => {
    const p = tf.zeros([4]);
    const base = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, lrOverBc1: 0.1, sqrtBc2: 0.5 };
    expect(() => adamUpdate(p, tf.zeros([3]), p, p, base)).toThrow(/adamUpdate: g has shape \[3\], expected p's \[4\]/);
    expect(() => adamUpdate(p, p, tf.zeros([4], 'int32'), p, base)).toThrow(/adamUpdate: m must be float32/);
    expect(() => adamUpdate(p, p, p, p, { ...base, beta2: Number.NaN })).toThrow(
      /adamUpdate: config\.beta2 must be a finite number/
    );
    expect(() => adamUpdate(p, p, p, p, { ...base, gradScale: Infinity })).toThrow(/config\.gradScale/);
  });
});

describe('sgdUpdate', () => {
  it.each(SGD_CASES)(
    'gives the bits of the op sequence on wasm and cpu, and float64 SGD within rounding: %o',
    async (c) => {
      const { wasm, cpu } = await onBoth(() => ({ fused: sgdRun(c, sgdFused), before: sgdRun(c, sgdAsBefore) }));
      for (const run of [wasm, cpu]) {
        run.fused.forEach((bits, k) => expect(differing(bits, run.before[k] as Uint32Array)).toBe(0));
      }
      wasm.fused.forEach((bits, k) => expect(differing(bits, cpu.fused[k] as Uint32Array)).toBe(0));
      expectClose(wasm.fused[0] as Uint32Array, sgdFloat64(c), 'p vs float64');
    }
  );

  it('runs as one kernel on wasm', async () => {
    const [p, g] = [tf.tensor1d(values(N, 1)), tf.tensor1d(values(N, 2))];
    const names = await kernelsOf(() => {
      const out = sgdUpdate(p, g, null, { learningRate: 0.1, weightDecay: 3e-6, gradScale: 1 / 32 });
      expect(out.buf).toBeNull();
      out.p.dispose();
    });
    expect(names).toEqual([SGD_UPDATE_KERNEL]);
    tf.dispose([p, g]);
  });

  it('rejects bad input naming the field', () => {
    const p = tf.zeros([4]);
    expect(() => sgdUpdate(p, p, null, { learningRate: 0.1, momentum: 0.9 })).toThrow(
      /sgdUpdate: buf is required with momentum > 0/
    );
    expect(() => sgdUpdate(p, p, null, { learningRate: 0.1, momentum: -1 })).toThrow(/sgdUpdate: config\.momentum/);
    expect(() => sgdUpdate(p, p, tf.zeros([2, 2]), { learningRate: 0.1, momentum: 0.9 })).toThrow(
      /sgdUpdate: buf has shape \[2,2\]/
    );
    expect(() => sgdUpdate(p, p, null, { learningRate: Number.NaN })).toThrow(/config\.learningRate/);
  });
});

describe('the fused modules', () => {
  it('validate for every program variant, with a shared and an unshared heap', () => {
    const programs = [
      ...[false, true].flatMap((scaled) => [false, true].map((decayed) => adamProgram({ scaled, decayed }))),
      ...[false, true].flatMap((scaled) =>
        (['none', 'first', 'running'] as const).flatMap((momentum) =>
          [false, true].map((nesterov) => sgdProgram({ scaled, decayed: !scaled, momentum, nesterov }))
        )
      ),
    ];
    for (const program of programs) {
      for (const shared of [false, true]) expect(validateModule(encodeModule(program, shared))).toBe(true);
    }
  });
});
