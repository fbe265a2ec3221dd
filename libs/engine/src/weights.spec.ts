import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { WeightsFormatError } from './errors.js';
import { initEngine } from './init-engine.js';
import { readWeightsHeader, WEIGHTS_FORMAT_VERSION, weightsFromBytes, weightsToBytes } from './weights.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

function build(units = 6, seed = 1): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [6, 6, 2],
        filters: 3,
        kernelSize: 3,
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
        biasInitializer: tfl.initializers.randomNormal({ seed: seed + 1 }),
      }),
      tfl.layers.batchNormalization({ movingMeanInitializer: tfl.initializers.randomUniform({ seed: seed + 2 }) }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units, kernelInitializer: tfl.initializers.heNormal({ seed: seed + 3 }) }),
    ],
  });
}

function values(model: tfl.LayersModel): number[][] {
  return model.weights.map((w) => Array.from(w.read().dataSync()));
}

describe('weightsToBytes / weightsFromBytes', () => {
  it('round-trips every weight, trainable or not, bit-exactly into another build of the model', async () => {
    const source = build(6, 1);
    const target = build(6, 99);
    expect(values(target)).not.toEqual(values(source));
    const bytes = await weightsToBytes(source);
    const { weights } = readWeightsHeader(bytes);
    expect(weights.map((w) => [w.shape, w.dtype])).toEqual(source.weights.map((w) => [w.shape, w.dtype]));
    expect(weights).toHaveLength(8); // conv kernel+bias, BN gamma/beta/mean/variance, dense kernel+bias
    const before = tf.memory().numTensors;
    weightsFromBytes(target, bytes);
    expect(tf.memory().numTensors).toBe(before);
    expect(values(target)).toEqual(values(source));
    source.dispose();
    target.dispose();
  });

  it('reads blobs that sit at an unaligned offset of a larger buffer', async () => {
    const source = build();
    const bytes = await weightsToBytes(source);
    const framed = new Uint8Array(bytes.length + 3);
    framed.set(bytes, 3);
    const target = build(6, 5);
    weightsFromBytes(target, framed.subarray(3));
    expect(values(target)).toEqual(values(source));
    source.dispose();
    target.dispose();
  });

  it('names the weight whose shape differs', async () => {
    const bytes = await weightsToBytes(build(6));
    const other = build(7);
    expect(() => weightsFromBytes(other, bytes)).toThrow(WeightsFormatError);
    expect(() => weightsFromBytes(other, bytes)).toThrow(
      /weight \d+ \('dense_Dense\d+\/kernel'\) is float32 \[48, 6\] in the bytes .* but float32 \[48, 7\] in the model/
    );
    other.dispose();
  });

  it('rejects corrupted, truncated, foreign and future-version bytes', async () => {
    const model = build();
    const bytes = await weightsToBytes(model);
    const flipped = bytes.slice();
    flipped[flipped.length - 5]! ^= 0x10;
    expect(() => weightsFromBytes(model, flipped)).toThrow(/checksum mismatch/);
    expect(() => weightsFromBytes(model, bytes.subarray(0, bytes.length - 8))).toThrow(/checksum mismatch/);
    expect(() => weightsFromBytes(model, new TextEncoder().encode('{"not": "weights"}'))).toThrow(/magic bytes differ/);
    const future = bytes.slice();
    new DataView(future.buffer).setUint32(4, WEIGHTS_FORMAT_VERSION + 1, true);
    expect(() => weightsFromBytes(model, future)).toThrow(
      `format version ${WEIGHTS_FORMAT_VERSION + 1} is not supported`
    );
    expect(() => weightsFromBytes(model, bytes.subarray(0, 4))).toThrow(/too short/);
    model.dispose();
  });

  it('checks names only when asked (TF.js renames layers per build)', async () => {
    const a = build();
    const b = build();
    const bytes = await weightsToBytes(a);
    expect(() => weightsFromBytes(b, bytes)).not.toThrow();
    expect(() => weightsFromBytes(b, bytes, { checkNames: true })).toThrow(/in the bytes but .* in the model/);
    expect(() => weightsFromBytes(a, bytes, { checkNames: true })).not.toThrow();
    a.dispose();
    b.dispose();
  });
});
