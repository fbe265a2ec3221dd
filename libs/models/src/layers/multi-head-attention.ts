import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LAYER_PACKAGE, type Kwargs, type LayerArgs } from './layer-utils.js';

export interface MultiHeadAttentionArgs extends LayerArgs {
  /** Heads the C channels are split into (C must be divisible by it). */
  numHeads: number;
}

/**
 * The parameter-free core of SegFormer's efficient self-attention: given queries `[B, N, C]` and the fused
 * key/value projection `[B, M, 2C]` (keys first, as `kv.reshape(B, M, 2, heads, C / heads)` in the original),
 * returns `softmax(q·kᵀ / √(C / heads))·v` per head, heads concatenated back to `[B, N, C]`. The projections
 * (q, kv, spatial reduction, output) are ordinary Dense/Conv2D layers around it, so initializers see them.
 */
export class MultiHeadAttention extends tfl.layers.Layer {
  static className = 'MultiHeadAttention';
  readonly numHeads: number;

  constructor(args: MultiHeadAttentionArgs) {
    super(args);
    this.numHeads = args.numHeads;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [q] = inputShape as tfl.Shape[];
    if (!q) throw new Error(`${this.name}: expected [queries, keysValues]`);
    return [...q];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [q, kv] = inputs as tf.Tensor3D[];
      if (!q || !kv) throw new Error(`${this.name}: expected [queries, keysValues]`);
      const [b, n, c] = q.shape;
      const m = kv.shape[1];
      const heads = this.numHeads;
      const d = c / heads;
      const split = (t: tf.Tensor, tokens: number) => tf.transpose(tf.reshape(t, [b, tokens, heads, d]), [0, 2, 1, 3]);
      const queries = split(q, n);
      // Keys as [b, heads, d, m] directly: wasm's matMul is ~10× slower with a transposed operand.
      const keysT = tf.transpose(tf.reshape(tf.slice(kv, [0, 0, 0], [b, m, c]), [b, m, heads, d]), [0, 2, 3, 1]);
      const values = split(tf.slice(kv, [0, 0, c], [b, m, c]), m);
      const scores = tf.mul(tf.matMul(queries, keysT), 1 / Math.sqrt(d));
      const out = tf.matMul(tf.softmax(scores), values);
      return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [b, n, c]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numHeads: this.numHeads };
  }
}
tf.serialization.registerClass(MultiHeadAttention, LAYER_PACKAGE);
