import * as tf from '@tensorflow/tfjs-core';

/** Where a rank's rows sit in the step's global batch (see `setDropoutStep`). */
export interface BatchWindow {
  readonly offset: number;
  readonly total: number;
}

/**
 * The keep mask (1 = keep, 0 = drop) of one training call of a seeded dropout-like layer, for `rows` samples of
 * shape `sampleShape`: uniform draws from seed `seed:step`, kept where `u ≥ rate` (PyTorch keeps where
 * `floor(1 − rate + u) = 1`, the same event). With a `window` the draw covers all `window.total` rows of the global
 * batch and rows `offset …` are returned, so a sample's mask does not depend on how the batch is split over ranks.
 */
export function seededKeepMask(
  layer: string,
  seed: number,
  step: number,
  window: BatchWindow | undefined,
  rows: number,
  sampleShape: readonly number[],
  rate: number
): tf.Tensor {
  return tf.tidy(() => {
    if (window && window.offset + rows > window.total) {
      throw new Error(`${layer}: batchWindow ${window.offset}+${rows} rows exceeds its total ${window.total}`);
    }
    let uniform = tf.randomUniform([window ? window.total : rows, ...sampleShape], 0, 1, 'float32', `${seed}:${step}`);
    if (window) uniform = tf.slice(uniform, [window.offset], [rows]);
    return tf.cast(tf.greaterEqual(uniform, rate), 'float32');
  });
}
