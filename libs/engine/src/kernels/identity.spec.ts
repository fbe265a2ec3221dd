import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

describe('Identity on wasm', () => {
  it('clones without copying: the clone shares the data and outlives the original, and vice versa', () => {
    const backend = tf.engine().backend;
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const buffersBefore = backend.numDataIds();
    const b = tf.clone(a);
    expect(backend.numDataIds()).toBe(buffersBefore);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    const c = tf.clone(b);
    c.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    b.dispose();
    expect(backend.numDataIds()).toBe(buffersBefore - 1);
  });

  it('keeps a variable and a clone of its old value apart after assign', () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const snapshot = tf.clone(v);
    v.assign(tf.tensor1d([7, 8, 9]));
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(v.dataSync())).toEqual([7, 8, 9]);
    tf.dispose([v, snapshot]);
  });

  it('still clones int32, bool and string tensors', () => {
    for (const t of [tf.tensor1d([1, -2], 'int32'), tf.tensor1d([1, 0], 'bool'), tf.tensor1d(['x', 'yz'])]) {
      const c = tf.clone(t);
      expect(c.dtype).toBe(t.dtype);
      expect(c.arraySync()).toEqual(t.arraySync());
      tf.dispose([t, c]);
    }
  });

  it('trains through gradients that save their inputs without leaking', () => {
    const w = tf.variable(tf.tensor2d([0.5, -0.25, 0.75, 1], [2, 2]));
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const opt = tf.train.sgd(0.1);
    const step = () => opt.minimize(() => tf.sum(tf.square(tf.matMul(x, w))) as tf.Scalar);
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    expect(w.dataSync().every(Number.isFinite)).toBe(true);
    tf.dispose([w, x]);
    opt.dispose();
  });
});
