import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { onBoth } from './run-on-both-backends.spec-helper.js';
import { unsortedSegmentSumWasm } from './unsorted-segment-sum.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

describe('OneHot on wasm', () => {
  it('honours the requested dtype and values', () => {
    const ids = tf.tensor1d([2, 0, -1], 'int32');
    const floats = tf.oneHot(ids, 3, 1, 0, 'float32');
    expect(floats.dtype).toBe('float32');
    expect(Array.from(floats.dataSync())).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(tf.oneHot(ids, 3, 0.9, 0.05, 'float32').dataSync())).toEqual(
      [0.05, 0.05, 0.9, 0.9, 0.05, 0.05, 0.05, 0.05, 0.05].map(Math.fround)
    );
    expect(Array.from(tf.oneHot(ids, 3).dataSync())).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0]);
    tf.dispose([ids, floats]);
  });
});

describe('UnsortedSegmentSum on wasm', () => {
  it('sums rows by segment like the cpu backend, dropping ids out of range', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor3d(
          Float32Array.from({ length: 7 * 3 * 2 }, (_, i) => Math.sin(i)),
          [7, 3, 2]
        );
        const ids = tf.tensor1d([2, 0, 2, -1, 4, 1, 2], 'int32');
        return Array.from(tf.unsortedSegmentSum(x, ids, 4).dataSync());
      });
    const { wasm, cpu } = await onBoth(run);
    expect(wasm).toHaveLength(4 * 3 * 2);
    wasm.forEach((v, i) => expect(v).toBeCloseTo(cpu[i]!, 5));
  });

  it('keeps int32 data exact and handles chunked id lists', () => {
    const ids = tf.tensor1d(
      Int32Array.from({ length: 5000 }, (_, i) => (i * 7) % 1001),
      'int32'
    );
    const x = tf.tensor1d(
      Int32Array.from({ length: 5000 }, (_, i) => i),
      'int32'
    );
    const out = unsortedSegmentSumWasm(x, ids, 1001);
    expect(out.dtype).toBe('int32');
    const expected = new Array<number>(1001).fill(0);
    for (let i = 0; i < 5000; i++) expected[(i * 7) % 1001]! += i;
    expect(Array.from(out.dataSync())).toEqual(expected);
    tf.dispose([ids, x, out]);
  });

  it('gives gather a gradient on wasm', async () => {
    const run = () =>
      tf.tidy(() => {
        const table = tf.tensor2d(
          Float32Array.from({ length: 12 }, (_, i) => i / 3),
          [6, 2]
        );
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, [0, 5, 5, 2]))))(table);
        return Array.from(g.dataSync());
      });
    const { wasm, cpu } = await onBoth(run);
    wasm.forEach((v, i) => expect(v).toBeCloseTo(cpu[i]!, 5));
  });
});
