import { initEngine } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryRing } from './memory-ring.spec-helper.js';
import { ShardedStep, sumCrossEntropy } from './reducer.js';
import { readStepProfile, resetStepProfile } from './step-profile.js';

function tinyModel(): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [tfl.layers.dense({ inputShape: [6], units: 5, activation: 'tanh' }), tfl.layers.dense({ units: 3 })],
  });
  model.setWeights(model.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.5, 'float32', 100 + i)));
  return model;
}

describe('ShardedStep', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
  });

  const x = tf.randomNormal([7, 6], 0, 1, 'float32', 3);
  const y = tf.tensor1d([0, 2, 1, 1, 0, 2, 2], 'int32');

  async function stepOn(worldSize: number): Promise<{ grads: number[][]; loss: number; correct: number }[]> {
    const model = tinyModel();
    const variables = model.trainableWeights.map((v) => v.read() as tf.Variable);
    const ring = memoryRing(worldSize);
    const results = await Promise.all(
      ring.map(async (reducer) => {
        // Uneven shards, and rank 2 of 4 gets one sample fewer than rank 0.
        const start = Math.floor((reducer.rank * 7) / worldSize);
        const end = Math.floor(((reducer.rank + 1) * 7) / worldSize);
        const forward =
          end > start
            ? () =>
                sumCrossEntropy(
                  model.apply(tf.slice(x, [start, 0], [end - start, 6])) as tf.Tensor2D,
                  tf.slice(y, [start], [end - start])
                )
            : null;
        const r = await new ShardedStep(variables, reducer).run(forward, 7);
        // The optimizer multiplies by the scale inside its update; the same float32 product here.
        const grads = r.gradSums.map((g) => tf.tidy(() => Array.from(tf.mul(g, r.gradScale).dataSync())));
        expect(r.gradScale).toBe(1 / 7);
        r.gradSums.forEach((g) => g.dispose());
        return { grads, loss: r.loss, correct: r.correct };
      })
    );
    model.dispose();
    return results;
  }

  it('counts every step and where its time went in the step profile', async () => {
    resetStepProfile();
    expect(readStepProfile()).toEqual({
      steps: 0,
      forwardBackwardMs: 0,
      readBackMs: 0,
      reduceMs: 0,
      unpackMs: 0,
      optimizerMs: 0,
    });
    await stepOn(3); // one step on each of three ranks
    const profile = readStepProfile();
    expect(profile.steps).toBe(3);
    expect(profile.forwardBackwardMs).toBeGreaterThan(0);
    for (const [field, ms] of Object.entries(profile)) expect(ms, field).toBeGreaterThanOrEqual(0);
    expect(profile.optimizerMs).toBe(0); // timed by the phase loops, not by the step
  });

  it('gives every world size the gradient of the global mean loss', async () => {
    const [single] = await stepOn(1);
    // Independent computation: tf.grads of the mean cross-entropy over the whole batch.
    const model = tinyModel();
    const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
    const { grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(tf.oneHot(y, 3), model.apply(x) as tf.Tensor2D) as tf.Scalar,
      vars
    );
    const want = vars.map((v) => Array.from((grads[v.name] as tf.Tensor).dataSync()));
    single?.grads.forEach((g, i) => g.forEach((v, j) => expect(v).toBeCloseTo((want[i] as number[])[j] as number, 6)));
    tf.dispose(Object.values(grads));
    model.dispose();

    for (const worldSize of [2, 3, 4, 8]) {
      const ranks = await stepOn(worldSize);
      for (const rank of ranks) {
        expect(rank.grads).toEqual(ranks[0]?.grads); // identical on every rank
        expect(rank.loss).toBeCloseTo(single?.loss as number, 6);
        expect(rank.correct).toBe(single?.correct);
        rank.grads.forEach((g, i) => g.forEach((v, j) => expect(v).toBeCloseTo((want[i] as number[])[j] as number, 6)));
      }
    }
  });
});
