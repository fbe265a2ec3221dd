// The usage example of README.md, verbatim apart from the assertions: keep the two in sync.
import { initEngine } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { buildModel, countParameters } from './index.js';

it('runs the README example: build, count, one training step on wasm', async () => {
  await initEngine({ backend: 'wasm' }); // registers the training kernels wasm lacks
  const model = buildModel('googlenet', { inputShape: [64, 64, 1], numClasses: 10, init: 'he', seed: 42 });
  expect(countParameters(model)).toEqual({ trainable: 5_603_882, nonTrainable: 14_560 });

  const x = tf.randomUniform([4, 64, 64, 1]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
  const optimizer = tf.train.sgd(0.01);
  const loss = () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
  const before = model.getLayer('fc').getWeights()[0]!.dataSync().slice();
  optimizer.minimize(loss);

  const after = model.getLayer('fc').getWeights()[0]!.dataSync();
  expect(after.some((v, i) => v !== before[i])).toBe(true);
  tf.dispose([x, y]);
  model.dispose();
});
