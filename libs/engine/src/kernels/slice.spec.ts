import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { createRng } from '../rng.js';
import { sliceConfig } from './slice.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

interface SliceCase {
  shape: number[];
  begin: number[];
  size: number[];
  dtype: 'float32' | 'int32' | 'bool';
}

/** Random slices of ranks 1–5: contiguous, long runs (> 64 values) and short runs, in every dtype. */
function cases(): SliceCase[] {
  const rng = createRng('slice-cases');
  const out: SliceCase[] = [];
  for (let i = 0; i < 60; i++) {
    const rank = 1 + (i % 5);
    const shape = Array.from({ length: rank }, (_, d) => 1 + rng.int(d === rank - 1 && i % 3 === 0 ? 150 : 7));
    const begin = shape.map((s) => rng.int(s));
    const size = shape.map((s, d) =>
      i % 4 === 0 && d > 0 ? s - (begin[d] as number) : 1 + rng.int(s - (begin[d] as number))
    );
    if (i % 4 === 0) begin.fill(0, 1);
    out.push({
      shape,
      begin,
      size: size.map((v, d) => Math.min(v, (shape[d] as number) - (begin[d] as number))),
      dtype: (['float32', 'int32', 'bool'] as const)[i % 3]!,
    });
  }
  return out;
}

function run(c: SliceCase): number[] {
  return tf.tidy(() => {
    const n = c.shape.reduce((a, b) => a * b, 1);
    const values = Int32Array.from({ length: n }, (_, k) => (c.dtype === 'bool' ? (k * 7) % 2 : k - 7));
    const x = tf.cast(tf.tensor(values, c.shape, 'int32'), c.dtype);
    const y = tf.slice(x, c.begin, c.size);
    expect(y.dtype).toBe(c.dtype);
    expect(y.shape).toEqual(c.size);
    return Array.from(y.dataSync());
  });
}

describe('Slice on wasm', () => {
  it('is the engine’s kernel', () => {
    expect(tf.getKernel('Slice', 'wasm')).toBe(sliceConfig);
  });

  it('matches the cpu backend on contiguous, long-run and short-run slices of every dtype', async () => {
    for (const c of cases()) {
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const wasm = run(c);
      expect(tf.memory().numTensors, JSON.stringify(c)).toBe(before);
      await tf.setBackend('cpu');
      expect(wasm, JSON.stringify(c)).toEqual(run(c));
    }
    await tf.setBackend('wasm');
  });

  it('splits like the cpu backend', async () => {
    const parts = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(
          Float32Array.from({ length: 3 * 4 * 5 * 6 }, (_, i) => i),
          [3, 4, 5, 6]
        );
        return [0, 1, 2, 3].flatMap((axis) =>
          tf.split(x, axis === 3 ? [1, 2, 3] : 1 + (axis % 2), axis).map((p) => [p.shape, Array.from(p.dataSync())])
        );
      });
    await tf.setBackend('wasm');
    const wasm = parts();
    await tf.setBackend('cpu');
    const cpu = parts();
    await tf.setBackend('wasm');
    expect(wasm).toEqual(cpu);
  });

  it('gives concatenation the right gradient', async () => {
    const grads = () =>
      tf.tidy(() => {
        const a = tf.tensor4d(
          Float32Array.from({ length: 2 * 5 * 5 * 3 }, (_, i) => Math.sin(i)),
          [2, 5, 5, 3]
        );
        const b = tf.tensor4d(
          Float32Array.from({ length: 2 * 5 * 5 * 70 }, (_, i) => Math.cos(i)),
          [2, 5, 5, 70]
        );
        const w = tf.tensor4d(
          Float32Array.from({ length: 2 * 5 * 5 * 73 }, (_, i) => i % 11),
          [2, 5, 5, 73]
        );
        const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.concat([p, q], 3), w)))([a, b]);
        return [...ga!.dataSync(), ...gb!.dataSync()];
      });
    await tf.setBackend('wasm');
    const wasm = grads();
    await tf.setBackend('cpu');
    const cpu = grads();
    await tf.setBackend('wasm');
    expect(wasm).toEqual(cpu);
  });
});
