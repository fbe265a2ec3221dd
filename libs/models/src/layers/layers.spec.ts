import { initEngine } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { adaptiveBins, poolOutputSize } from '../torch-shapes.js';
import { AdaptiveAvgPool2d } from './adaptive-avg-pool-2d.js';
import { DropPath } from './drop-path.js';
import { MultiHeadAttention } from './multi-head-attention.js';
import { SeededDropout } from './seeded-dropout.js';
import { TorchBatchNorm } from './torch-batch-norm.js';
import { TorchMaxPool2d } from './torch-max-pool-2d.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

/** Deterministic pseudo-random values in [−1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** PyTorch's max-pool by definition: the max over each window clipped to the input (−∞ padding never wins). */
function naiveMaxPool(x: Float32Array, [b, h, w, c]: number[], k: number, s: number, p: number, ceil: boolean) {
  const oh = poolOutputSize(h!, k, s, p, ceil);
  const ow = poolOutputSize(w!, k, s, p, ceil);
  const out: number[] = [];
  for (let n = 0; n < b!; n++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let ch = 0; ch < c!; ch++) {
          let m = -Infinity;
          for (let r = Math.max(0, i * s - p); r < Math.min(h!, i * s - p + k); r++)
            for (let q = Math.max(0, j * s - p); q < Math.min(w!, j * s - p + k); q++)
              m = Math.max(m, x[((n * h! + r) * w! + q) * c! + ch]!);
          out.push(m);
        }
  return { out, shape: [b, oh, ow, c] };
}

function naiveAdaptiveAvg(x: Float32Array, [b, h, w, c]: number[], oh: number, ow: number): number[] {
  const out: number[] = [];
  const rows = adaptiveBins(h!, oh);
  const cols = adaptiveBins(w!, ow);
  for (let n = 0; n < b!; n++)
    for (const [r0, r1] of rows)
      for (const [c0, c1] of cols)
        for (let ch = 0; ch < c!; ch++) {
          let sum = 0;
          for (let r = r0; r < r1; r++) for (let q = c0; q < c1; q++) sum += x[((n * h! + r) * w! + q) * c! + ch]!;
          out.push(sum / ((r1 - r0) * (c1 - c0)));
        }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

/** A layer rebuilt from its serialized config must compute the same outputs. */
function roundTrip<T extends tfl.layers.Layer>(layer: T): T {
  const cls = layer.constructor as unknown as { fromConfig(cls: unknown, config: tf.serialization.ConfigDict): T };
  return cls.fromConfig(cls, layer.getConfig());
}

describe('TorchMaxPool2d', () => {
  it.each([
    // [h, w, kernel, stride, padding, ceilMode]
    [29, 29, 3, 2, 0, true], // SqueezeNet features.2
    [16, 15, 3, 2, 0, true], // uneven sides, ceil
    [8, 8, 3, 1, 1, true], // GoogLeNet branch4
    [32, 32, 3, 2, 1, false], // ResNet maxpool
    [5, 7, 2, 2, 0, true], // GoogLeNet maxpool4 on odd maps
    [2, 2, 3, 2, 0, true], // smaller than the kernel
  ])('equals PyTorch max-pooling on %i × %i, kernel %i, stride %i, padding %i, ceil %s', (h, w, k, s, p, ceil) => {
    const shape = [2, h, w, 3];
    const data = values(2 * h * w * 3, h * 31 + w);
    const expected = naiveMaxPool(data, shape, k, s, p, ceil);
    const layer = new TorchMaxPool2d({ kernelSize: k, strides: s, padding: p, ceilMode: ceil });
    const y = layer.apply(tf.tensor4d(data, shape as [number, number, number, number])) as tf.Tensor;
    expect(y.shape).toEqual(expected.shape);
    expect(layer.computeOutputShape([null, h, w, 3])).toEqual([null, expected.shape[1], expected.shape[2], 3]);
    expectClose(y.dataSync(), expected.out, 0);
    const again = roundTrip(layer).apply(tf.tensor4d(data, shape as [number, number, number, number])) as tf.Tensor;
    expectClose(again.dataSync(), expected.out, 0);
  });

  it('routes the gradient only to each window maximum inside the input', () => {
    const x = tf.tensor4d([1, 5, 2, 4, 3, 6, 0, 7, 8], [1, 3, 3, 1]);
    const layer = new TorchMaxPool2d({ kernelSize: 2, strides: 2, ceilMode: true });
    const grad = tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t) as tf.Tensor))(x);
    expect(Array.from(grad.dataSync())).toEqual([0, 1, 0, 0, 0, 1, 0, 1, 1]);
  });

  it('rejects padding above half the kernel, as PyTorch does', () => {
    expect(() => new TorchMaxPool2d({ kernelSize: 3, padding: 2 })).toThrow('padding 2 must be at most kernelSize / 2');
  });
});

describe('AdaptiveAvgPool2d', () => {
  it.each([
    [1, 1, 6, 6], // AlexNet at 64 × 64: replicate
    [2, 2, 7, 7], // VGG-19 at 64 × 64: overlapping bins
    [5, 3, 3, 2], // uneven, shrinking
    [12, 12, 6, 6], // divisible: plain average pooling
    [3, 3, 3, 3], // identity
    [4, 6, 1, 1], // global average
  ])('equals AdaptiveAvgPool2d from %i × %i to %i × %i', (h, w, oh, ow) => {
    const shape = [2, h, w, 3];
    const data = values(2 * h * w * 3, h * 7 + w);
    const layer = new AdaptiveAvgPool2d({ outputSize: [oh, ow] });
    const y = layer.apply(tf.tensor4d(data, shape as [number, number, number, number])) as tf.Tensor;
    expect(y.shape).toEqual([2, oh, ow, 3]);
    expectClose(y.dataSync(), naiveAdaptiveAvg(data, shape, oh, ow));
    const again = roundTrip(layer).apply(tf.tensor4d(data, shape as [number, number, number, number])) as tf.Tensor;
    expectClose(again.dataSync(), naiveAdaptiveAvg(data, shape, oh, ow));
  });

  it('spreads the gradient back through overlapping bins', () => {
    const layer = new AdaptiveAvgPool2d({ outputSize: [3, 1] });
    const grad = tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t) as tf.Tensor))(tf.ones([1, 2, 1, 1]));
    // Bins [0,1), [0,2), [1,2): each input row gets 1 + ½.
    expectClose(grad.dataSync(), [1.5, 1.5]);
  });
});

describe('MultiHeadAttention', () => {
  it('equals per-head softmax attention with keys before values in the fused projection', () => {
    const [b, n, m, c, heads] = [2, 5, 3, 6, 2];
    const d = c / heads;
    const q = values(b * n * c, 1);
    const kv = values(b * m * 2 * c, 2);
    const layer = new MultiHeadAttention({ numHeads: heads });
    const y = layer.apply([tf.tensor3d(q, [b, n, c]), tf.tensor3d(kv, [b, m, 2 * c])]) as tf.Tensor;
    const expected: number[] = [];
    for (let s = 0; s < b; s++)
      for (let i = 0; i < n; i++)
        for (let h = 0; h < heads; h++) {
          const scores = Array.from({ length: m }, (_, j) => {
            let dot = 0;
            for (let e = 0; e < d; e++) dot += q[(s * n + i) * c + h * d + e]! * kv[(s * m + j) * 2 * c + h * d + e]!;
            return dot / Math.sqrt(d);
          });
          const top = Math.max(...scores);
          const weights = scores.map((v) => Math.exp(v - top));
          const total = weights.reduce((a, v) => a + v, 0);
          for (let e = 0; e < d; e++) {
            let sum = 0;
            for (let j = 0; j < m; j++) sum += (weights[j]! / total) * kv[(s * m + j) * 2 * c + c + h * d + e]!;
            expected.push(sum);
          }
        }
    expect(y.shape).toEqual([b, n, c]);
    expectClose(y.dataSync(), expected);
    expect(roundTrip(layer).numHeads).toBe(heads);
  });
});

describe('SeededDropout', () => {
  it('passes inputs through unchanged outside training', () => {
    const layer = new SeededDropout({ rate: 0.5, seed: 1 });
    expectClose(
      (layer.apply(tf.ones([100]), { training: false }) as tf.Tensor).dataSync(),
      new Float32Array(100).fill(1)
    );
    expect(layer.step).toBe(0);
  });

  it('draws a fresh mask every training call, replayable from the seed and step', () => {
    const layer = new SeededDropout({ rate: 0.25, seed: 7 });
    const call = () => Array.from((layer.apply(tf.ones([4000]), { training: true }) as tf.Tensor).dataSync());
    const first = call();
    const second = call();
    expect(second).not.toEqual(first);
    layer.step = 0;
    expect(call()).toEqual(first);
    // Survivors are scaled by 1 / (1 − rate); the kept fraction is 0.75 within 4 standard errors.
    expect(new Set(first)).toEqual(new Set([0, Math.fround(1 / 0.75)]));
    const kept = first.filter((v) => v > 0).length / first.length;
    expect(Math.abs(kept - 0.75)).toBeLessThan(4 * Math.sqrt((0.75 * 0.25) / 4000));
    expect(roundTrip(layer).seed).toBe(7);
  });

  it('gives each row of a global batch the same mask whichever slice of the batch a rank holds', () => {
    const layer = new SeededDropout({ rate: 0.5, seed: 3 });
    const x = tf.ones([10, 64]);
    const whole = Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync());
    for (const [offset, rows] of [
      [0, 4],
      [4, 3],
      [7, 3],
    ] as const) {
      layer.step = 0;
      layer.batchWindow = { offset, total: 10 };
      const part = layer.apply(tf.ones([rows, 64]), { training: true }) as tf.Tensor;
      expect(Array.from(part.dataSync())).toEqual(whole.slice(offset * 64, (offset + rows) * 64));
    }
    layer.batchWindow = { offset: 8, total: 10 };
    expect(() => layer.apply(tf.ones([3, 64]), { training: true })).toThrow(
      /batchWindow 8\+3 rows exceeds its total 10/
    );
  });
});

describe('DropPath', () => {
  it('is the identity outside training', () => {
    const layer = new DropPath({ rate: 0.5, seed: 1 });
    const x = tf.tensor(values(24, 2), [4, 3, 2]);
    expect(Array.from((layer.apply(x, { training: false }) as tf.Tensor).dataSync())).toEqual(Array.from(x.dataSync()));
    expect(layer.step).toBe(0);
  });

  it('drops or keeps each sample as a whole, scaled by 1 / (1 − rate), a fresh replayable draw per call', () => {
    const layer = new DropPath({ rate: 0.3, seed: 5 });
    const rows = 2000;
    const call = () => Array.from((layer.apply(tf.ones([rows, 3, 2]), { training: true }) as tf.Tensor).dataSync());
    const first = call();
    const second = call();
    expect(second).not.toEqual(first);
    layer.step = 0;
    expect(call()).toEqual(first);
    const scale = Math.fround(1 / 0.7);
    const perSample = Array.from({ length: rows }, (_, n) => first.slice(6 * n, 6 * n + 6));
    expect(perSample.every((v) => v.every((e) => e === v[0]) && (v[0] === 0 || v[0] === scale))).toBe(true);
    const kept = perSample.filter((v) => v[0]! > 0).length / rows;
    expect(Math.abs(kept - 0.7)).toBeLessThan(4 * Math.sqrt((0.7 * 0.3) / rows));
    expect(roundTrip(layer).rate).toBe(0.3);
  });

  it('gives each sample of a global batch the same mask whichever slice a rank holds', () => {
    const layer = new DropPath({ rate: 0.5, seed: 9 });
    const x = tf.tensor(values(12 * 5, 4), [12, 5]);
    const whole = Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync());
    expect(whole.some((v) => v === 0)).toBe(true);
    expect(whole.some((v) => v !== 0)).toBe(true);
    for (const [offset, rows] of [
      [0, 6],
      [6, 6],
      [3, 5],
    ] as const) {
      layer.step = 0;
      layer.batchWindow = { offset, total: 12 };
      const part = layer.apply(tf.slice(x, [offset], [rows]), { training: true }) as tf.Tensor;
      expect(Array.from(part.dataSync())).toEqual(whole.slice(offset * 5, (offset + rows) * 5));
    }
  });
});

describe('TorchBatchNorm', () => {
  /** Per-channel mean and biased/unbiased variance of channels-last data, in float64. */
  function stats(x: Float32Array, channels: number) {
    const n = x.length / channels;
    const mean = new Float64Array(channels);
    const sq = new Float64Array(channels);
    for (let i = 0; i < x.length; i++) mean[i % channels]! += x[i]! / n;
    for (let i = 0; i < x.length; i++) sq[i % channels]! += (x[i]! - mean[i % channels]!) ** 2;
    return { n, mean, biased: sq.map((v) => v / n), unbiased: sq.map((v) => v / (n - 1)) };
  }

  it('normalizes with batch statistics and updates the running variance with the unbiased one, as PyTorch', () => {
    const shape = [3, 4, 5, 2];
    const data = values(3 * 4 * 5 * 2, 17).map((v, i) => 3 * v + (i % 2) * 5);
    const layer = new TorchBatchNorm({ momentum: 0.1, epsilon: 1e-5 });
    layer.build(shape);
    const gamma = [1.5, -0.5];
    const beta = [0.25, 2];
    layer.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta), tf.tensor1d([0.5, -1]), tf.tensor1d([2, 0.5])]);
    const y = (layer.apply(tf.tensor(data, shape), { training: true }) as tf.Tensor).dataSync();
    const { n, mean, biased, unbiased } = stats(data, 2);
    expect(n).toBe(60);
    const expected = Array.from(data, (v, i) => {
      const c = i % 2;
      return ((v - mean[c]!) / Math.sqrt(biased[c]! + 1e-5)) * gamma[c]! + beta[c]!;
    });
    expectClose(y, expected, 2e-5);
    const [, , movingMean, movingVariance] = layer.getWeights().map((w) => Array.from(w.dataSync()));
    expectClose(movingMean!, [0.9 * 0.5 + 0.1 * mean[0]!, 0.9 * -1 + 0.1 * mean[1]!], 1e-6);
    expectClose(movingVariance!, [0.9 * 2 + 0.1 * unbiased[0]!, 0.9 * 0.5 + 0.1 * unbiased[1]!], 1e-5);
    // The biased variance would differ by 0.1·var/(n − 1): far above the tolerance.
    expect(Math.abs(movingVariance![0]! - (0.9 * 2 + 0.1 * biased[0]!))).toBeGreaterThan(1e-3);
  });

  it('normalizes with the running statistics in inference and leaves them alone', () => {
    const layer = new TorchBatchNorm({ epsilon: 1e-3 });
    layer.build([2, 3]);
    layer.setWeights([
      tf.tensor1d([2, 1, 0.5]),
      tf.tensor1d([0, 1, -1]),
      tf.tensor1d([1, 2, 3]),
      tf.tensor1d([4, 1, 9]),
    ]);
    const x = [1, 2, 3, 5, 0, -3];
    const y = (layer.apply(tf.tensor(x, [2, 3]), { training: false }) as tf.Tensor).dataSync();
    const [g, b, m, v] = [
      [2, 1, 0.5],
      [0, 1, -1],
      [1, 2, 3],
      [4, 1, 9],
    ];
    expectClose(
      y,
      x.map((xi, i) => ((xi - m![i % 3]!) / Math.sqrt(v![i % 3]! + 1e-3)) * g![i % 3]! + b![i % 3]!)
    );
    expect(Array.from(layer.getWeights()[3]!.dataSync())).toEqual([4, 1, 9]);
    expect(roundTrip(layer).epsilon).toBe(1e-3);
  });

  it('rejects training on one value per channel, as PyTorch does', () => {
    const layer = new TorchBatchNorm({ name: 'bn1' });
    expect(() => layer.apply(tf.ones([1, 1, 1, 4]), { training: true })).toThrow(
      /bn1: expected more than 1 value per channel when training/
    );
  });
});
