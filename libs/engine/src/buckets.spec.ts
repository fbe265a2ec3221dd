import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createBucketLayout,
  DEFAULT_BUCKET_BYTES,
  flattenGradients,
  unflattenGradients,
  type NamedGradient,
} from './buckets.js';
import { EngineArgumentError } from './errors.js';
import { initEngine } from './init-engine.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

const variables = [
  { name: 'a', shape: [3, 4] }, // 12
  { name: 'b', shape: [5] }, // 5
  { name: 'c', shape: [2, 2, 10] }, // 40: larger than a bucket below
  { name: 'd', shape: [] }, // 1 (scalar)
  { name: 'e', shape: [0, 3] }, // empty
];

function gradsFor(vars: readonly { name: string; shape: number[] }[], seed: number): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  vars.forEach((v, i) => {
    const size = v.shape.reduce((a, b) => a * b, 1);
    out[v.name] = tf.tensor(
      Float32Array.from({ length: size }, (_, k) => Math.sin(seed + i * 100 + k) * 1e3 + 1 / (k + 1)),
      v.shape
    );
  });
  return out;
}

function byName(named: readonly NamedGradient[]): tf.NamedTensorMap {
  return Object.fromEntries(named.map((g) => [g.name, g.tensor]));
}

describe('createBucketLayout', () => {
  it('fills every bucket but the last exactly, splitting variables across boundaries', () => {
    const layout = createBucketLayout(variables, { bucketBytes: 64 }); // 16 values per bucket
    expect(layout.bucketElements).toBe(16);
    expect(layout.totalElements).toBe(58);
    expect(layout.buckets.map((b) => b.elements)).toEqual([16, 16, 16, 10]);
    expect(layout.buckets[0]!.segments).toEqual([
      { variable: 0, variableOffset: 0, bucketOffset: 0, length: 12 },
      { variable: 1, variableOffset: 0, bucketOffset: 12, length: 4 },
    ]);
    expect(layout.buckets[1]!.segments).toEqual([
      { variable: 1, variableOffset: 4, bucketOffset: 0, length: 1 },
      { variable: 2, variableOffset: 0, bucketOffset: 1, length: 15 },
    ]);
    expect(layout.buckets[3]!.segments).toEqual([
      { variable: 2, variableOffset: 31, bucketOffset: 0, length: 9 },
      { variable: 3, variableOffset: 0, bucketOffset: 9, length: 1 },
    ]);
    for (const b of layout.buckets) expect(b.segments.reduce((n, s) => n + s.length, 0)).toBe(b.elements);
  });

  it('has a fingerprint that depends on shapes, order and bucket size but not on names', () => {
    const base = createBucketLayout(variables, { bucketBytes: 64 });
    const renamed = createBucketLayout(
      variables.map((v, i) => ({ ...v, name: `process2_${i}` })),
      { bucketBytes: 64 }
    );
    expect(renamed.fingerprint).toBe(base.fingerprint);
    expect(base.fingerprint).toMatch(/^[0-9a-f]{32}$/);
    expect(createBucketLayout([...variables].reverse(), { bucketBytes: 64 }).fingerprint).not.toBe(base.fingerprint);
    expect(createBucketLayout(variables, { bucketBytes: 128 }).fingerprint).not.toBe(base.fingerprint);
    expect(createBucketLayout(variables).bucketBytes).toBe(DEFAULT_BUCKET_BYTES);
  });

  it('rejects bad bucket sizes, non-float variables and repeated names', () => {
    expect(() => createBucketLayout(variables, { bucketBytes: 10 })).toThrow(
      new EngineArgumentError('createBucketLayout', 'bucketBytes', 'must be a positive multiple of 4, got 10')
    );
    expect(() => createBucketLayout(variables, { bucketBytes: 0 })).toThrow(EngineArgumentError);
    expect(() => createBucketLayout([{ name: 'i', shape: [2], dtype: 'int32' }])).toThrow(/must be float32/);
    expect(() => createBucketLayout([variables[0]!, variables[0]!])).toThrow(/repeats the name 'a'/);
  });
});

describe('flattenGradients / unflattenGradients', () => {
  it('round-trips bit-exactly through buckets of several sizes', async () => {
    const grads = gradsFor(variables, 1);
    for (const bucketBytes of [4, 64, 100, 4096]) {
      const layout = createBucketLayout(variables, { bucketBytes });
      const { buckets } = await flattenGradients(grads, layout);
      expect(buckets.map((b) => b.length)).toEqual(layout.buckets.map((b) => b.elements));
      const back = byName(unflattenGradients(buckets, layout));
      for (const v of variables) {
        expect(back[v.name]!.shape).toEqual(v.shape);
        expect(Array.from(back[v.name]!.dataSync())).toEqual(Array.from(grads[v.name]!.dataSync()));
      }
      tf.dispose(back);
    }
    tf.dispose(grads);
  });

  it('puts the values in layout order whatever the order of the gradient map', async () => {
    const layout = createBucketLayout(variables, { bucketBytes: 64 });
    const grads = gradsFor(variables, 2);
    const shuffled: tf.NamedTensorMap = {};
    for (const key of ['e', 'c', 'a', 'd', 'b']) shuffled[key] = grads[key]!;
    const inOrder = await flattenGradients(grads, layout);
    const fromShuffled = await flattenGradients(shuffled, layout);
    const fromArray = await flattenGradients(
      variables.map((v) => grads[v.name]!),
      layout
    );
    expect(fromShuffled.buckets).toEqual(inOrder.buckets);
    expect(fromArray.buckets).toEqual(inOrder.buckets);
    const flat = Float32Array.from(inOrder.buckets.flatMap((b) => Array.from(b)));
    const expected = Float32Array.from(variables.flatMap((v) => Array.from(grads[v.name]!.dataSync())));
    expect(flat).toEqual(expected);
    tf.dispose(grads);
  });

  it('reuses the buffers it is given and makes a layout from options', async () => {
    const grads = gradsFor(variables, 3);
    const first = await flattenGradients(grads, { bucketBytes: 64 });
    expect(first.layout.variables.map((v) => v.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const second = await flattenGradients(grads, first.layout, first.buckets);
    second.buckets.forEach((b, i) => expect(b).toBe(first.buckets[i]));
    tf.dispose(grads);
  });

  it('gives the same layout for the same architecture built twice (names differ per build)', () => {
    const build = () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3 }),
          tfl.layers.batchNormalization(),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 10 }),
        ],
      });
    const one = build();
    const two = build();
    const l1 = createBucketLayout(one.trainableWeights, { bucketBytes: 256 });
    const l2 = createBucketLayout(two.trainableWeights, { bucketBytes: 256 });
    expect(l1.variables.map((v) => v.name)).not.toEqual(l2.variables.map((v) => v.name));
    expect(l2.fingerprint).toBe(l1.fingerprint);
    expect(l2.buckets).toEqual(l1.buckets);
    one.dispose();
    two.dispose();
  });

  it('names what is wrong when gradients do not fit the layout', async () => {
    const layout = createBucketLayout(variables, { bucketBytes: 64 });
    const grads = gradsFor(variables, 4);
    const missing = { ...grads };
    delete missing['c'];
    await expect(flattenGradients(missing, layout)).rejects.toThrow("has no gradient for 'c'");
    const wrong = { ...grads, b: tf.zeros([6]) };
    await expect(flattenGradients(wrong, layout)).rejects.toThrow("grads['b'] has shape [6], the layout [5]");
    expect(() => unflattenGradients([new Float32Array(16)], layout)).toThrow('has 1 buckets, the layout 4');
    tf.dispose([grads, wrong['b']!]);
  });

  it('makes tensors that keep their values when the buckets are overwritten afterwards', async () => {
    const grads = gradsFor(variables, 6);
    const layout = createBucketLayout(variables, { bucketBytes: 4096 });
    const { buckets } = await flattenGradients(grads, layout);
    const back = byName(unflattenGradients(buckets, layout));
    buckets.forEach((b) => b.fill(-7));
    for (const v of variables) expect(back[v.name]!.dataSync()).toEqual(grads[v.name]!.dataSync());
    tf.dispose([grads, back]);
  });

  it('does not leave tensors behind', async () => {
    const layout = createBucketLayout(variables, { bucketBytes: 64 });
    const grads = gradsFor(variables, 5);
    const before = tf.memory().numTensors;
    const { buckets } = await flattenGradients(grads, layout);
    expect(tf.memory().numTensors).toBe(before);
    const back = unflattenGradients(buckets, layout);
    expect(back.map((g) => g.name)).toEqual(variables.map((v) => v.name));
    expect(tf.memory().numTensors).toBe(before + variables.length);
    tf.dispose([grads, back.map((g) => g.tensor)]);
  });
});
