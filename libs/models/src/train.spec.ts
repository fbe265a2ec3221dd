import { initEngine } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from './build-model.js';
import { setDropoutStep } from './dropout-step.js';
import { MODEL_NAMES } from './model-names.js';

const BATCH = 2;
const STEPS = 3;
const LEARNING_RATE = 0.002;

beforeAll(async () => {
  const info = await initEngine({ backend: 'wasm' });
  expect(info.backend).toBe('wasm');
});

/** A fixed, seeded batch: 64 × 64 grey images with a class-dependent bright square, labels 0 … BATCH − 1. */
function batch(): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const noise = tf.randomUniform([BATCH, 64, 64, 1], 0, 0.2, 'float32', 11);
    const marks = tf.buffer([BATCH, 64, 64, 1]);
    for (let n = 0; n < BATCH; n++)
      for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) marks.set(1, n, 8 * n + i, 8 * n + j, 0);
    const x = tf.add(noise, marks.toTensor()) as tf.Tensor4D;
    const y = tf.cast(tf.oneHot(tf.range(0, BATCH, 1, 'int32'), 10), 'float32') as tf.Tensor2D;
    return { x, y };
  });
}

describe('training on the wasm backend', () => {
  it.each(MODEL_NAMES)(`%s lowers its loss on a fixed batch in ${STEPS} SGD steps without leaking tensors`, (name) => {
    const model = buildModel(name, { seed: 1 });
    const { x, y } = batch();
    const lossOf = () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
    // Before and after training, the loss in training mode with the same dropout masks (step 0): comparable values.
    const evaluate = () => {
      setDropoutStep(model, 0);
      const value = tf.tidy(() => lossOf().dataSync()[0]!);
      setDropoutStep(model, 0);
      return value;
    };
    const before = evaluate();
    const optimizer = tf.train.sgd(LEARNING_RATE);
    const losses: number[] = [];
    const tensorsAfterStep: number[] = [];
    for (let step = 0; step < STEPS; step++) {
      const loss = optimizer.minimize(lossOf, true) as tf.Scalar;
      losses.push(loss.dataSync()[0]!);
      loss.dispose();
      tensorsAfterStep.push(tf.memory().numTensors);
    }
    const after = evaluate();
    console.info(
      `${name}: wasm, batch ${BATCH}, SGD ${LEARNING_RATE}: loss ${before.toFixed(4)} → ${after.toFixed(4)} ` +
        `(steps ${losses.map((l) => l.toFixed(4)).join(', ')})`
    );
    expect([before, after, ...losses].every(Number.isFinite)).toBe(true);
    expect(after).toBeLessThan(before);
    expect(tensorsAfterStep[STEPS - 1]).toBe(tensorsAfterStep[0]);
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  });
});
