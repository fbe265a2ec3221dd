import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBucketLayout, flattenGradients, unflattenGradients } from './buckets.js';
import { initEngine } from './init-engine.js';

// On wasm the buckets are filled straight from the heap and the tensors made from views of the buckets; these
// tests hold that path to the values `dataSync()` reads (the backend's own read), and pin the backend behaviour it
// relies on: a tensor made from a view does not change when the viewed buffer is overwritten afterwards.
beforeAll(async () => {
  await initEngine({ backend: 'wasm', threads: 1 });
});

const variables = [
  { name: 'a', shape: [3, 4] }, // 12
  { name: 'b', shape: [5] }, // 5
  { name: 'c', shape: [2, 2, 10] }, // 40: larger than the small buckets below
  { name: 'd', shape: [] }, // 1
  { name: 'e', shape: [0, 3] }, // empty
];

function gradsFor(seed: number): tf.Tensor[] {
  return variables.map((v, i) => {
    const size = v.shape.reduce((a, b) => a * b, 1);
    // Made by ops, so the values live in the wasm heap as gradients do.
    return tf.tidy(() =>
      tf.mul(
        tf.tensor(
          Float32Array.from({ length: size }, (_, k) => Math.sin(seed + i * 100 + k)),
          v.shape
        ),
        1e3
      )
    );
  });
}

describe('flattenGradients / unflattenGradients on wasm', () => {
  it('runs on the wasm backend', () => {
    expect(tf.getBackend()).toBe('wasm');
  });

  it('fills the buckets with the bits dataSync reads and round-trips them, whole or split variables', async () => {
    const grads = gradsFor(1);
    const expected = Float32Array.from(grads.flatMap((g) => Array.from(g.dataSync())));
    for (const bucketBytes of [4, 64, 100, 4096]) {
      const layout = createBucketLayout(variables, { bucketBytes });
      const { buckets } = await flattenGradients(grads, layout);
      expect(Float32Array.from(buckets.flatMap((b) => Array.from(b)))).toEqual(expected);
      const back = unflattenGradients(buckets, layout);
      back.forEach((g, i) => {
        expect(g.tensor.shape).toEqual(variables[i]!.shape);
        expect(g.tensor.dataSync()).toEqual(grads[i]!.dataSync());
      });
      tf.dispose(back.map((g) => g.tensor));
    }
    tf.dispose(grads);
  });

  it('makes tensors that keep their values when the buckets are overwritten afterwards', async () => {
    const grads = gradsFor(2);
    const layout = createBucketLayout(variables, { bucketBytes: 4096 });
    const { buckets } = await flattenGradients(grads, layout);
    const back = unflattenGradients(buckets, layout);
    buckets.forEach((b) => b.fill(-7));
    back.forEach((g, i) => expect(g.tensor.dataSync()).toEqual(grads[i]!.dataSync()));
    tf.dispose([grads, back.map((g) => g.tensor)]);
  });

  it('does not leave tensors behind', async () => {
    const grads = gradsFor(3);
    const layout = createBucketLayout(variables, { bucketBytes: 64 });
    const before = tf.memory().numTensors;
    const { buckets } = await flattenGradients(grads, layout);
    expect(tf.memory().numTensors).toBe(before);
    const back = unflattenGradients(buckets, layout);
    expect(tf.memory().numTensors).toBe(before + variables.length);
    tf.dispose([grads, back.map((g) => g.tensor)]);
  });
});
