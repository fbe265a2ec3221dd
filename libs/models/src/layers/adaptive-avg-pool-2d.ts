import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { adaptiveBins } from '../torch-shapes.js';
import { LAYER_PACKAGE, onlyShape, onlyTensor, type Kwargs, type LayerArgs } from './layer-utils.js';

export interface AdaptiveAvgPool2dArgs extends LayerArgs {
  /** Output `[height, width]`. */
  outputSize: [number, number];
}

/** Row i averages input rows [⌊i·in/out⌋, ⌈(i+1)·in/out⌉): the `[out, in]` matrix of `AdaptiveAvgPool2d`'s bins. */
function poolingMatrix(size: number, out: number): tf.Tensor2D {
  const values = new Float32Array(out * size);
  adaptiveBins(size, out).forEach(([start, end], i) => {
    for (let j = start; j < end; j++) values[i * size + j] = 1 / (end - start);
  });
  return tf.tensor2d(values, [out, size]);
}

/**
 * `nn.AdaptiveAvgPool2d(outputSize)` for any input size, channels-last. Evenly dividing sizes use `tf.avgPool`;
 * otherwise the (possibly overlapping or replicating) bins are two small matrix products, which is how AlexNet's
 * 1 × 1 map at 64 × 64 becomes 6 × 6 and VGG's 2 × 2 map becomes 7 × 7, as in torchvision.
 */
export class AdaptiveAvgPool2d extends tfl.layers.Layer {
  static className = 'AdaptiveAvgPool2d';
  readonly outputSize: [number, number];

  constructor(args: AdaptiveAvgPool2dArgs) {
    super(args);
    this.outputSize = [args.outputSize[0], args.outputSize[1]];
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [batch, , , c] = onlyShape(inputShape, this.name);
    return [batch ?? null, this.outputSize[0], this.outputSize[1], c ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = onlyTensor(inputs, this.name) as tf.Tensor4D;
      const [b, h, w, c] = x.shape;
      const [oh, ow] = this.outputSize;
      if (h === oh && w === ow) return x.clone();
      if (h % oh === 0 && w % ow === 0) return tf.avgPool(x, [h / oh, w / ow], [h / oh, w / ow], 'valid');
      // Pool rows: [h, b·w·c] → [oh, b·w·c]; then columns: [w, b·oh·c] → [ow, b·oh·c].
      const rows = tf.matMul(poolingMatrix(h, oh), tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, b * w * c]));
      const byColumn = tf.reshape(tf.transpose(tf.reshape(rows, [oh, b, w, c]), [2, 1, 0, 3]), [w, b * oh * c]);
      const cols = tf.matMul(poolingMatrix(w, ow), byColumn);
      return tf.transpose(tf.reshape(cols, [ow, b, oh, c]), [1, 2, 0, 3]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), outputSize: [...this.outputSize] };
  }
}
tf.serialization.registerClass(AdaptiveAvgPool2d, LAYER_PACKAGE);
