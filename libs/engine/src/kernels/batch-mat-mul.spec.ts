import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { productCost } from './batch-mat-mul.js';
import { onBoth } from './run-on-both-backends.spec-helper.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

function relativeError(actual: readonly number[], expected: readonly number[]): number {
  expect(actual).toHaveLength(expected.length);
  const scale = Math.max(1e-30, ...expected.map(Math.abs));
  return Math.max(0, ...actual.map((v, i) => Math.abs(v - expected[i]!))) / scale;
}

function values(shape: number[], seed: number): tf.Tensor {
  const size = shape.reduce((p, d) => p * d, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.731 + seed) + 0.1 * Math.cos(i * 0.17)),
    shape
  );
}

/** [a's shape, b's shape] for op(a) · op(b) with op(a): m × k and op(b): k × n. */
function shapes(m: number, k: number, n: number, ta: boolean, tb: boolean, batchA: number[], batchB: number[]) {
  return [
    [...batchA, ...(ta ? [k, m] : [m, k])],
    [...batchB, ...(tb ? [n, k] : [k, n])],
  ] as const;
}

const CASES: { m: number; k: number; n: number; batchA: number[]; batchB: number[] }[] = [
  { m: 1, k: 1, n: 1, batchA: [], batchB: [] },
  { m: 7, k: 13, n: 5, batchA: [], batchB: [] },
  { m: 4, k: 300, n: 257, batchA: [], batchB: [] }, // a dense layer: b (the weight) is large, so dy · Wᵀ swaps
  { m: 300, k: 4, n: 33, batchA: [], batchB: [] }, // tall: xᵀ · dy keeps the direct form
  { m: 6, k: 9, n: 11, batchA: [3], batchB: [3] },
  { m: 6, k: 9, n: 11, batchA: [2, 3], batchB: [1, 3] }, // broadcast batch axes, as attention does
  { m: 5, k: 64, n: 3, batchA: [1], batchB: [4] },
];

describe('BatchMatMul on wasm', () => {
  it('multiplies with every transpose flag like the cpu backend (≤ 1e-5 relative error)', async () => {
    for (const c of CASES) {
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const [aShape, bShape] = shapes(c.m, c.k, c.n, ta, tb, c.batchA, c.batchB);
        const run = () =>
          tf.tidy(() => {
            const out = tf.matMul(values([...aShape], 1), values([...bShape], 2), ta, tb);
            return { shape: out.shape, data: Array.from(out.dataSync()) };
          });
        const { wasm, cpu } = await onBoth(run);
        expect(wasm.shape, JSON.stringify({ ...c, ta, tb })).toEqual(cpu.shape);
        expect(relativeError(wasm.data, cpu.data), JSON.stringify({ ...c, ta, tb })).toBeLessThan(1e-5);
      }
    }
  });

  it('gives the dense-layer gradients of the cpu backend and leaks no tensors', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = values([8, 96], 3);
        const w = values([96, 40], 4);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.matMul(a, b))))([x, w]);
        return [...dx!.dataSync(), ...dw!.dataSync()];
      });
    const before = tf.memory().numTensors;
    const { wasm, cpu } = await onBoth(run);
    expect(tf.memory().numTensors).toBe(before);
    expect(relativeError(wasm, cpu)).toBeLessThan(1e-4);
  });

  it('transposes whichever side copies fewer elements', () => {
    // dy · Wᵀ of a 9216 → 4096 dense layer at batch 32: swapping copies dy and the product, not W.
    expect(productCost([32, 4096], [9216, 4096], false, true).swap).toBe(true);
    // xᵀ · dy (its weight gradient): transposing x is cheaper than transposing dy and the 9216 × 4096 product.
    expect(productCost([32, 9216], [32, 4096], true, false).swap).toBe(false);
    expect(productCost([2, 3], [3, 4], false, false)).toEqual({ direct: 0, swapped: 6 + 12 + 8, swap: false });
  });
});
