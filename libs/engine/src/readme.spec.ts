import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { createBucketLayout, flattenGradients, unflattenGradients } from './buckets.js';
import { initEngine } from './init-engine.js';
import { createRng, deriveSeed } from './rng.js';

/** The README's usage example, step for step. */
async function readmeExample(): Promise<{ backend: string; buckets: Float32Array[]; weights: number[] }> {
  const engine = await initEngine({ env: {} });

  const seed = 42;
  const init = (i: number) => tfl.initializers.heNormal({ seed: deriveSeed(seed, 'init', i) });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, kernelInitializer: init(0) }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, kernelInitializer: init(1) }),
    ],
  });
  const order = createRng(seed)
    .fork('data')
    .shuffle([...Array(64).keys()]);
  const layout = createBucketLayout(model.trainableWeights, { bucketBytes: 1 << 20 });

  const x = tf.randomNormal([8, 28, 28, 1], 0, 1, 'float32', deriveSeed(seed, 'batch', 0));
  const y = tf.oneHot(
    tf.tensor1d(
      order.slice(0, 8).map((i) => i % 10),
      'int32'
    ),
    10
  );
  const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar);
  const { buckets } = await flattenGradients(grads, layout); // what the ring all-reduce moves
  tf.train.adam().applyGradients(unflattenGradients(buckets, layout));

  const weights = Array.from(model.getWeights()[0]!.dataSync());
  tf.dispose([x, y, grads]);
  model.dispose();
  return { backend: engine.backend, buckets, weights };
}

describe('the README example', () => {
  it('trains a step on wasm and is reproducible', async () => {
    const first = await readmeExample();
    const second = await readmeExample();
    expect(first.backend).toBe('wasm');
    expect(first.buckets).toHaveLength(1);
    expect(first.buckets[0]!.length).toBe(8 * 9 + 8 + 26 * 26 * 8 * 10 + 10);
    expect(second.buckets).toEqual(first.buckets);
    expect(second.weights).toEqual(first.weights);
  });
});
