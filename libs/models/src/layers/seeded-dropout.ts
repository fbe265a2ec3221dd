import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LAYER_PACKAGE, onlyTensor, type Kwargs, type LayerArgs } from './layer-utils.js';
import { seededKeepMask, type BatchWindow } from './seeded-mask.js';

export interface SeededDropoutArgs extends LayerArgs {
  /** Probability of zeroing an element (survivors are scaled by 1 / (1 − rate), as `nn.Dropout`). */
  rate: number;
  /** Seed of the mask sequence. @default 0 */
  seed?: number;
}

/**
 * `nn.Dropout(rate)` with reproducible masks. TF.js's own Dropout either draws from `Math.random` (no seed) or
 * repeats one mask forever (fixed seed); this layer draws the mask of training call t from seed `(seed, step + t)`,
 * in JS (`tf.randomUniform`), so masks are identical on every backend. `step` is public: a training loop that
 * resumes from a checkpoint sets it (see `setDropoutStep`) to replay the same masks.
 */
export class SeededDropout extends tfl.layers.Layer {
  static className = 'SeededDropout';
  readonly rate: number;
  readonly seed: number;
  /** Training calls so far (or the value a loop set); the next mask uses this step. */
  step = 0;
  /**
   * Where this call's rows sit in the step's global batch, when a rank trains on a slice of it: the mask is drawn
   * for all `total` rows and rows `offset …` are used, so every sample gets the same mask whatever the world size.
   * Unset: the rows are the whole batch.
   */
  batchWindow: BatchWindow | undefined = undefined;

  constructor(args: SeededDropoutArgs) {
    super(args);
    this.rate = args.rate;
    this.seed = args.seed ?? 0;
    if (!(this.rate >= 0 && this.rate < 1)) throw new Error(`SeededDropout: rate must be in [0, 1), got ${args.rate}`);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = onlyTensor(inputs, this.name);
      if (kwargs['training'] !== true || this.rate === 0) return x.clone();
      const step = this.step;
      this.step += 1;
      const rows = x.shape[0] ?? 0;
      const keep = seededKeepMask(
        'SeededDropout',
        this.seed,
        step,
        this.batchWindow,
        rows,
        x.shape.slice(1),
        this.rate
      );
      return tf.mul(x, tf.mul(tf.cast(keep, x.dtype), 1 / (1 - this.rate)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(SeededDropout, LAYER_PACKAGE);
