import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LAYER_PACKAGE, onlyTensor, type Kwargs, type LayerArgs } from './layer-utils.js';
import { seededKeepMask, type BatchWindow } from './seeded-mask.js';

export interface DropPathArgs extends LayerArgs {
  /** Probability of dropping a sample's whole residual branch (survivors are scaled by 1 / (1 − rate)). */
  rate: number;
  /** Seed of the mask sequence. @default 0 */
  seed?: number;
}

/**
 * Stochastic depth (Hugging Face's `SegformerDropPath`, timm's `DropPath`): in training, each sample's input (a
 * residual branch) is zeroed with probability `rate` as a whole, and kept samples are scaled by 1 / (1 − rate);
 * identity in inference. Masks are drawn like `SeededDropout`'s — from `(seed, step)` in JS, one uniform per sample
 * of the step's global batch (`batchWindow`) — so they are backend-independent, replayable with `setDropoutStep`,
 * and each sample's draw is the same whatever the world size.
 */
export class DropPath extends tfl.layers.Layer {
  static className = 'DropPath';
  readonly rate: number;
  readonly seed: number;
  /** Training calls so far (or the value a loop set); the next mask uses this step. */
  step = 0;
  /** Where this call's rows sit in the step's global batch (see `SeededDropout.batchWindow`). */
  batchWindow: BatchWindow | undefined = undefined;

  constructor(args: DropPathArgs) {
    super(args);
    this.rate = args.rate;
    this.seed = args.seed ?? 0;
    if (!(this.rate >= 0 && this.rate < 1)) throw new Error(`DropPath: rate must be in [0, 1), got ${args.rate}`);
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
      const perSample = x.shape.slice(1).map(() => 1);
      const keep = seededKeepMask('DropPath', this.seed, step, this.batchWindow, rows, perSample, this.rate);
      return tf.mul(x, tf.mul(tf.cast(keep, x.dtype), 1 / (1 - this.rate)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(DropPath, LAYER_PACKAGE);
