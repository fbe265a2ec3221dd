import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { onBoth } from '../kernels/run-on-both-backends.spec-helper.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

const CASES: { shape: number[]; reps: number[] }[] = [
  { shape: [2, 5, 1], reps: [1, 1, 8] }, // layer norm: per-token mean tiled over channels
  { shape: [1, 1, 8], reps: [2, 5, 1] }, // layer norm: gamma tiled over batch and tokens
  { shape: [1, 1, 1, 6], reps: [2, 3, 4, 1] },
  { shape: [3], reps: [4] },
  { shape: [2, 3], reps: [3, 2] },
  { shape: [2, 1, 4, 3], reps: [1, 5, 1, 2] },
  { shape: [2, 3, 2, 3], reps: [2, 2, 2, 2] }, // eight axes after interleaving: the previous gradient
  { shape: [4, 3], reps: [1, 1] },
];

/** The independent reference: every element of `dy` added to the `x` element it was tiled from, in float64. */
function referenceGrad(shape: number[], reps: number[], dy: Float32Array): number[] {
  const out = new Array<number>(shape.reduce((p, d) => p * d, 1)).fill(0);
  const outShape = shape.map((d, i) => d * (reps[i] as number));
  for (let flat = 0; flat < dy.length; flat++) {
    let rest = flat;
    let src = 0;
    let stride = 1;
    for (let a = outShape.length - 1; a >= 0; a--) {
      const coord = rest % (outShape[a] as number);
      rest = Math.floor(rest / (outShape[a] as number));
      src += (coord % (shape[a] as number)) * stride;
      stride *= shape[a] as number;
    }
    out[src] = (out[src] as number) + (dy[flat] as number);
  }
  return out;
}

describe('the engine gradient of Tile', () => {
  it('sums dy over the repetitions like an independent float64 loop, on wasm and cpu, leaking nothing', async () => {
    for (const { shape, reps } of CASES) {
      const size = shape.reduce((p, d) => p * d, 1) * reps.reduce((p, r) => p * r, 1);
      const dyData = Float32Array.from({ length: size }, (_, i) => Math.sin(i * 1.3) * 10);
      const expected = referenceGrad(shape, reps, dyData);
      const run = () =>
        tf.tidy(() => {
          const x = tf.ones(shape);
          const dy = tf.tensor(
            dyData,
            shape.map((d, i) => d * (reps[i] as number))
          );
          const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tile(t, reps), dy)))(x);
          return { shape: g.shape, data: Array.from(g.dataSync()) };
        });
      const before = tf.memory().numTensors;
      const { wasm, cpu } = await onBoth(run);
      expect(tf.memory().numTensors).toBe(before);
      for (const got of [wasm, cpu]) {
        expect(got.shape).toEqual(shape);
        got.data.forEach((v, i) => expect(v, JSON.stringify({ shape, reps, i })).toBeCloseTo(expected[i] as number, 3));
      }
    }
  });

  it('is one Sum, not a slice and an addition per repetition (the layer-norm case of MiT-b0)', () => {
    const x = tf.ones([1, 1, 64]);
    const counts = new Map<string, number>();
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.tile(t, [4, 256, 1])))(x);
    const profile = tf.profile(() =>
      tf
        .grad((t: tf.Tensor) => tf.sum(tf.tile(t, [4, 256, 1])))(x)
        .dispose()
    );
    return profile.then((p) => {
      p.kernels.forEach((k) => counts.set(k.name, (counts.get(k.name) ?? 0) + 1));
      expect(counts.get('Slice') ?? 0).toBe(0);
      expect(Array.from(g.dataSync())).toEqual(new Array(64).fill(1024));
      tf.dispose([x, g]);
    });
  });
});
