import { ADAM_UPDATE_KERNEL, initEngine, SGD_UPDATE_KERNEL } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createOptimizer } from './optimizer.js';
import type { ResolvedOptimizer } from './spec.js';

const BASE: ResolvedOptimizer = {
  kind: 'sgd',
  learningRate: 0.1,
  weightDecay: 0,
  momentum: 0,
  nesterov: false,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
};

/** torch.optim.SGD / Adam's update rules written out in float64, one parameter vector. */
function reference(spec: ResolvedOptimizer, p0: number[], grads: number[][]): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g0, step) => {
    const t = step + 1;
    for (let i = 0; i < p.length; i++) {
      const g = (g0[i] as number) + spec.weightDecay * (p[i] as number);
      if (spec.kind === 'sgd') {
        let d = g;
        if (spec.momentum > 0) {
          m[i] = t === 1 ? g : spec.momentum * (m[i] as number) + g;
          d = spec.nesterov ? g + spec.momentum * (m[i] as number) : (m[i] as number);
        }
        p[i] = (p[i] as number) - spec.learningRate * d;
      } else {
        m[i] = spec.beta1 * (m[i] as number) + (1 - spec.beta1) * g;
        v[i] = spec.beta2 * (v[i] as number) + (1 - spec.beta2) * g * g;
        const denom = Math.sqrt(v[i] as number) / Math.sqrt(1 - spec.beta2 ** t) + spec.epsilon;
        p[i] = (p[i] as number) - (spec.learningRate / (1 - spec.beta1 ** t)) * ((m[i] as number) / denom);
      }
    }
  });
  return p;
}

describe('createOptimizer', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'wasm', threads: 1 }); // registers the fused updates this file checks on wasm
    await initEngine({ backend: 'cpu' });
  });

  const p0 = [0.5, -1.25, 2, 0.01];
  const grads = [
    [0.3, -0.2, 0.1, 1],
    [-0.1, 0.4, 0.2, -2],
    [0.05, 0.05, -0.3, 0.5],
  ];
  const cases: [string, ResolvedOptimizer][] = [
    ['plain SGD', BASE],
    ['SGD with weight decay (the original training)', { ...BASE, learningRate: 3e-2, weightDecay: 3e-2 }],
    ['SGD with momentum', { ...BASE, momentum: 0.9 }],
    ['SGD with Nesterov momentum', { ...BASE, momentum: 0.9, nesterov: true }],
    ['Adam (the original pretraining)', { ...BASE, kind: 'adam', learningRate: 3e-2 }],
    ['Adam with L2 weight decay', { ...BASE, kind: 'adam', learningRate: 1e-2, weightDecay: 0.1 }],
  ];

  it.each(cases)('follows PyTorch for %s', (_, spec) => {
    const variable = tf.variable(tf.tensor1d(p0));
    const optimizer = createOptimizer(spec, [variable]);
    for (const g of grads) {
      const grad = tf.tensor1d(g);
      optimizer.apply([grad]);
      grad.dispose();
    }
    const got = Array.from(variable.dataSync());
    const want = reference(spec, p0, grads);
    got.forEach((x, i) => expect(x).toBeCloseTo(want[i] as number, 5));
    expect(optimizer.iterations).toBe(3);
    optimizer.dispose();
    variable.dispose();
  });

  it.each(cases)(
    'scales the gradient inside the update to the bits of scaling it first, on wasm and cpu: %s',
    async (_, spec) => {
      const run = (scaleInside: boolean): Uint32Array => {
        const variable = tf.variable(tf.tensor1d(p0));
        const optimizer = createOptimizer(spec, [variable]);
        for (const g of grads) {
          const sum = tf.tensor1d(g.map((x) => x * 7));
          if (scaleInside) optimizer.apply([sum], 1 / 7);
          else tf.tidy(() => optimizer.apply([tf.mul(sum, 1 / 7)])); // ShardedStep's own pass before the fusion
          sum.dispose();
        }
        const bits = new Uint32Array(Float32Array.from(variable.dataSync()).buffer);
        optimizer.dispose();
        variable.dispose();
        return bits;
      };
      for (const backend of ['wasm', 'cpu']) {
        await tf.setBackend(backend);
        expect(Array.from(run(true)), backend).toEqual(Array.from(run(false)));
      }
      // On wasm (the stock one-thread build here: an unshared heap) each variable's update is one fused kernel.
      await tf.setBackend('wasm');
      const variable = tf.variable(tf.tensor1d(p0));
      const optimizer = createOptimizer(spec, [variable]);
      const grad = tf.tensor1d(grads[0] as number[]);
      const { kernels } = await tf.profile(() => optimizer.apply([grad], 0.5));
      expect(kernels.map((k) => k.name)).toEqual([spec.kind === 'adam' ? ADAM_UPDATE_KERNEL : SGD_UPDATE_KERNEL]);
      tf.dispose([variable, grad]);
      optimizer.dispose();
      await tf.setBackend('cpu');
    }
  );

  it('resumes from exported state exactly where it left off', () => {
    const spec: ResolvedOptimizer = { ...BASE, kind: 'adam', learningRate: 1e-2 };
    const straight = tf.variable(tf.tensor1d(p0));
    const a = createOptimizer(spec, [straight]);
    const resumed = tf.variable(tf.tensor1d(p0));
    let b = createOptimizer(spec, [resumed]);
    grads.forEach((g, i) => {
      const grad = tf.tensor1d(g);
      a.apply([grad]);
      if (i === 1) {
        const state = b.exportState();
        b.dispose();
        b = createOptimizer(spec, [resumed]);
        b.importState(state);
      }
      b.apply([grad]);
      grad.dispose();
    });
    expect(Array.from(resumed.dataSync())).toEqual(Array.from(straight.dataSync()));
    a.dispose();
    b.dispose();
    straight.dispose();
    resumed.dispose();
  });

  it('leaves no tensors behind per step', () => {
    const variable = tf.variable(tf.tensor1d(p0));
    const optimizer = createOptimizer({ ...BASE, kind: 'adam' }, [variable]);
    const grad = tf.tensor1d(grads[0] as number[]);
    optimizer.apply([grad]);
    const before = tf.memory().numTensors;
    optimizer.apply([grad]);
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
    grad.dispose();
    variable.dispose();
  });

  it('rejects a gradient list that does not match its variables', () => {
    const variable = tf.variable(tf.tensor1d(p0));
    const optimizer = createOptimizer(BASE, [variable]);
    expect(() => optimizer.apply([])).toThrow(/Optimizer\.apply: grads has 0 tensors, expected 1/);
    expect(() => optimizer.apply([variable], Number.NaN)).toThrow(/Optimizer\.apply: gradScale must be a finite/);
    expect(optimizer.iterations).toBe(0);
    optimizer.dispose();
    variable.dispose();
  });
});
