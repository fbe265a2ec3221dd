import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { flippedTaps } from './input-grad-phases.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

describe('flippedTaps', () => {
  it('equals reverse(stridedSlice(filter)) for every phase of strides 1–4 and kernels 1–5', () => {
    const before = tf.memory().numTensors;
    for (const [kh, kw] of [
      [1, 1],
      [3, 3],
      [5, 2],
      [4, 5],
    ] as const) {
      const filter = tf.tensor4d(
        Float32Array.from({ length: kh * kw * 3 * 2 }, (_, i) => i),
        [kh, kw, 3, 2]
      );
      for (const s of [1, 2, 3, 4]) {
        for (let fh = 0; fh < Math.min(s, kh); fh++) {
          for (let fw = 0; fw < Math.min(s, kw); fw++) {
            const got = tf.tidy(() => flippedTaps(filter, fh, s, fw, s).arraySync());
            const want = tf.tidy(() =>
              tf.reverse(tf.stridedSlice(filter, [fh, fw, 0, 0], [kh, kw, 3, 2], [s, s, 1, 1]), [0, 1]).arraySync()
            );
            expect(got, JSON.stringify({ kh, kw, s, fh, fw })).toEqual(want);
          }
        }
      }
      filter.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
