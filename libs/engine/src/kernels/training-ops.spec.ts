import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

/**
 * A small network with every layer kind the zoo trains: strided and 1×1 convolutions, depthwise 3×3 (Mix-FFN),
 * batch and layer normalisation, GELU/ReLU, max (same, valid, ceil-like padded) and average pooling, concatenation,
 * attention-style batched matMul with softmax, dense and softmax cross-entropy.
 */
function buildModel(): tfl.LayersModel {
  // Seeded initializers: the same weights on every run, so what a test sees does not depend on the draw.
  let seed = 1;
  const init = () => tfl.initializers.glorotUniform({ seed: seed++ });
  const input = tfl.input({ shape: [12, 12, 3] });
  const conv = (filters: number, kernelSize: number, strides = 1) =>
    tfl.layers.conv2d({ filters, kernelSize, strides, padding: 'same', kernelInitializer: init() });
  let h = conv(8, 3, 2).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.batchNormalization().apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.activation({ activation: 'relu' }).apply(h) as tfl.SymbolicTensor;
  const branches = [
    conv(4, 1).apply(h),
    tfl.layers
      .depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, depthwiseInitializer: init() })
      .apply(h),
    tfl.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }).apply(h),
    tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }).apply(h),
  ] as tfl.SymbolicTensor[];
  h = tfl.layers.concatenate().apply(branches) as tfl.SymbolicTensor;
  h = tfl.layers.layerNormalization().apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.activation({ activation: 'gelu' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers
    .zeroPadding2d({
      padding: [
        [0, 1],
        [0, 1],
      ],
    })
    .apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid' }).apply(h) as tfl.SymbolicTensor;
  h = conv(6, 3, 2).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor;
  const output = tfl.layers
    .dense({ units: 5, activation: 'softmax', kernelInitializer: init() })
    .apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output });
}

function inputs(): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const x = tf.tensor4d(
    Float32Array.from({ length: 4 * 12 * 12 * 3 }, (_, i) => Math.sin(i * 0.37)),
    [4, 12, 12, 3]
  );
  const y = tf.oneHot(tf.tensor1d([0, 3, 1, 4], 'int32'), 5, 1, 0, 'float32') as tf.Tensor2D;
  return { x, y };
}

/** Loss gradients of every trainable weight plus the attention-style block, as plain arrays. */
function allGradients(model: tfl.LayersModel): number[][] {
  return tf.tidy(() => {
    const { x, y } = inputs();
    const { grads } = tf.variableGrads(() => {
      const p = model.apply(x, { training: true }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(y, p) as tf.Scalar;
    });
    const q = tf.tensor3d(
      Float32Array.from({ length: 2 * 6 * 4 }, (_, i) => Math.cos(i * 0.3)),
      [2, 6, 4]
    );
    const attention = tf.grad((t: tf.Tensor) => {
      const scores = tf.softmax(tf.div(tf.matMul(t as tf.Tensor3D, t as tf.Tensor3D, false, true), 2));
      return tf.sum(tf.square(tf.matMul(scores, t as tf.Tensor3D)));
    })(q);
    return [
      ...model.trainableWeights.map((w) => Array.from(grads[w.name]!.dataSync())),
      Array.from(attention.dataSync()),
    ];
  });
}

describe('training the zoo’s layers on wasm', () => {
  it('gives the same gradients as the cpu backend (relative error ≤ 1e-4)', async () => {
    await tf.setBackend('wasm');
    const model = buildModel();
    const wasm = allGradients(model);
    await tf.setBackend('cpu');
    const cpu = allGradients(model);
    await tf.setBackend('wasm');
    expect(wasm).toHaveLength(cpu.length);
    wasm.forEach((g, i) => {
      const ref = cpu[i]!;
      const num = Math.hypot(...g.map((v, k) => v - ref[k]!));
      const den = Math.hypot(...ref);
      // The first convolution's bias feeds batch normalisation, which removes it: its true gradient is 0 and both
      // backends return float noise (≈1e-8), so an absolute floor keeps that case meaningful.
      expect(num).toBeLessThanOrEqual(1e-4 * den + 1e-6);
    });
    model.dispose();
  });

  it('fits with Adam and SGD on wasm without leaking tensors', async () => {
    await tf.setBackend('wasm');
    const { x, y } = inputs();
    const before = tf.memory().numTensors;
    // Each optimizer trains the same seeded initial weights, so the test does not depend on a random draw.
    for (const optimizer of [tf.train.adam(0.01), tf.train.sgd(0.01)]) {
      const model = buildModel();
      model.compile({ optimizer, loss: 'categoricalCrossentropy' });
      const history = await model.fit(x, y, { epochs: 3, batchSize: 2, verbose: 0, shuffle: false });
      const losses = history.history['loss'] as number[];
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses.at(-1)!).toBeLessThan(losses[0]!);
      model.dispose();
      optimizer.dispose();
    }
    // Models and optimizers (with Adam's moments) disposed: nothing may be left behind.
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(4);
    tf.dispose([x, y]);
  });
});
