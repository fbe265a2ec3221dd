import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { onBoth } from './run-on-both-backends.spec-helper.js';
import { tileAsBroadcast } from './tile.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

const CASES: { shape: number[]; reps: number[] }[] = [
  { shape: [1, 1, 1, 6], reps: [2, 3, 4, 1] }, // batch-norm statistics to the activation's shape
  { shape: [5, 1], reps: [1, 7] }, // innermost repeat
  { shape: [3], reps: [4] },
  { shape: [2, 3], reps: [3, 2] },
  { shape: [2, 1, 4, 3], reps: [1, 5, 1, 2] },
  { shape: [2, 3, 2, 3], reps: [2, 2, 2, 2] }, // eight axes after interleaving: the native kernel
  { shape: [2, 2, 2, 2, 2], reps: [1, 2, 1, 3, 1] },
  { shape: [4, 3], reps: [1, 1] },
  { shape: [0, 3], reps: [2, 2] },
];

describe('Tile on wasm', () => {
  it('repeats float32, int32 and bool tensors exactly like the cpu backend, leaking nothing', async () => {
    for (const { shape, reps } of CASES) {
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const size = shape.reduce((p, d) => p * d, 1);
        const run = () =>
          tf.tidy(() => {
            const data = Array.from({ length: size }, (_, i) =>
              dtype === 'float32' ? (i % 5 === 0 ? -0 : Math.sin(i) * 1e3) : dtype === 'int32' ? i * 7 - 20 : i % 3
            );
            const out = tf.tile(tf.tensor(data, shape, dtype), reps);
            return { shape: out.shape, dtype: out.dtype, data: Array.from(out.dataSync()) };
          });
        const before = tf.memory().numTensors;
        const { wasm, cpu } = await onBoth(run);
        expect(tf.memory().numTensors).toBe(before);
        expect(wasm, JSON.stringify({ shape, reps, dtype })).toEqual(cpu);
      }
    }
  });

  it('keeps NaN, infinities and the sign of zero', () => {
    const out = tf.tile(tf.tensor1d([Number.NaN, Infinity, -Infinity, -0]), [2]);
    const v = Array.from(out.dataSync());
    expect(v.slice(0, 4)).toEqual([Number.NaN, Infinity, -Infinity, -0]);
    expect(Object.is(v[7], -0)).toBe(true);
    out.dispose();
  });

  it('plans one broadcast product with merged axes', () => {
    expect(tileAsBroadcast([1, 1, 1, 256], [32, 16, 16, 1])).toEqual({ xShape: [1, 256], onesShape: [8192, 1] });
    expect(tileAsBroadcast([5, 1], [1, 7])).toEqual({ xShape: [5, 1], onesShape: [1, 7] });
    expect(tileAsBroadcast([2, 3, 2, 3], [2, 2, 2, 2])).toBeNull();
  });
});
