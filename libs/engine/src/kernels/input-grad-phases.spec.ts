import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { flippedSwappedTaps, flippedTaps } from './input-grad-phases.js';

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

describe('flippedSwappedTaps', () => {
  it('equals transpose(flippedTaps(filter), [0, 1, 3, 2]) on wasm (in the heap) and on cpu (ops), leaking nothing', async () => {
    for (const backendName of ['wasm', 'cpu']) {
      await tf.setBackend(backendName);
      const before = tf.memory().numTensors;
      for (const [kh, kw, c, m] of [
        [1, 1, 3, 2],
        [3, 3, 40, 70], // partial tiles
        [5, 2, 33, 1],
        [2, 4, 64, 96],
      ] as const) {
        const filter = tf.tensor4d(
          Float32Array.from({ length: kh * kw * c * m }, (_, i) => (i % 13 === 0 ? -0 : i * 0.5 - 7)),
          [kh, kw, c, m]
        );
        for (const s of [1, 2, 3]) {
          for (let fh = 0; fh < Math.min(s, kh); fh++) {
            for (let fw = 0; fw < Math.min(s, kw); fw++) {
              const got = tf.tidy(() => flippedSwappedTaps(filter, fh, s, fw, s));
              const want = tf.tidy(() => tf.transpose(flippedTaps(filter, fh, s, fw, s), [0, 1, 3, 2]));
              const label = JSON.stringify({ backendName, kh, kw, c, m, s, fh, fw });
              expect(got.shape, label).toEqual(want.shape);
              const g = got.dataSync();
              const w = want.dataSync();
              expect(
                Array.from(g, (v) => Object.is(v, -0)),
                label
              ).toEqual(Array.from(w, (v) => Object.is(v, -0)));
              expect(Array.from(g), label).toEqual(Array.from(w));
              tf.dispose([got, want]);
            }
          }
        }
        filter.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    }
    await tf.setBackend('wasm');
  });
});
