import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LAYER_PACKAGE, onlyTensor, type Kwargs, type LayerArgs } from './layer-utils.js';

export interface TorchBatchNormArgs extends LayerArgs {
  /** PyTorch's momentum: `running = (1 − momentum)·running + momentum·batch`. @default 0.1 */
  momentum?: number;
  /** Added to the variance before the square root. @default 1e-5 */
  epsilon?: number;
}

/**
 * `nn.BatchNorm2d` (or 1d) over the last (channel) axis, with PyTorch's running statistics: training normalizes with
 * the batch mean and the biased batch variance (as TF.js's BatchNormalization), but the running variance is updated
 * with the UNBIASED batch variance, `var·n / (n − 1)` with n the values per channel (batch × height × width), where
 * TF.js uses the biased one. Like PyTorch, training on a single value per channel is an error. The weights are
 * TF.js's (`gamma`, `beta`, `moving_mean`, `moving_variance`, in that order), so checkpoints read the same. The
 * statistics are those of the rows this call sees: on a ring, each rank's local batch.
 */
export class TorchBatchNorm extends tfl.layers.Layer {
  static className = 'TorchBatchNorm';
  readonly momentum: number;
  readonly epsilon: number;
  private gamma: tfl.LayerVariable | null = null;
  private beta: tfl.LayerVariable | null = null;
  private movingMean: tfl.LayerVariable | null = null;
  private movingVariance: tfl.LayerVariable | null = null;

  constructor(args: TorchBatchNormArgs) {
    super(args);
    this.momentum = args.momentum ?? 0.1;
    this.epsilon = args.epsilon ?? 1e-5;
    if (!(this.momentum >= 0 && this.momentum <= 1)) {
      throw new Error(`TorchBatchNorm: momentum must be in [0, 1], got ${args.momentum}`);
    }
    if (!(this.epsilon > 0)) throw new Error(`TorchBatchNorm: epsilon must be positive, got ${args.epsilon}`);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const channels = shape[shape.length - 1];
    if (channels == null) throw new Error(`${this.name}: the channel axis must have a defined size`);
    const zeros = tfl.initializers.zeros();
    const ones = tfl.initializers.ones();
    this.gamma = this.addWeight('gamma', [channels], 'float32', ones, undefined, true);
    this.beta = this.addWeight('beta', [channels], 'float32', zeros, undefined, true);
    this.movingMean = this.addWeight('moving_mean', [channels], 'float32', zeros, undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [channels], 'float32', ones, undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = onlyTensor(inputs, this.name);
      const [gamma, beta, movingMean, movingVariance] = [this.gamma, this.beta, this.movingMean, this.movingVariance];
      if (!gamma || !beta || !movingMean || !movingVariance) throw new Error(`${this.name}: called before build`);
      if (kwargs['training'] !== true) {
        return tf.batchNorm(x, movingMean.read(), movingVariance.read(), beta.read(), gamma.read(), this.epsilon);
      }
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      const n = x.size / (x.shape[x.shape.length - 1] ?? 1);
      if (n < 2) {
        throw new Error(`${this.name}: expected more than 1 value per channel when training, got input [${x.shape}]`);
      }
      const { mean, variance } = tf.moments(x, axes);
      const m = this.momentum;
      tf.tidy(() => {
        const unbiased = tf.mul(variance, n / (n - 1));
        movingMean.write(tf.add(tf.mul(movingMean.read(), 1 - m), tf.mul(mean, m)));
        movingVariance.write(tf.add(tf.mul(movingVariance.read(), 1 - m), tf.mul(unbiased, m)));
      });
      return tf.batchNorm(x, mean, variance, beta.read(), gamma.read(), this.epsilon);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(TorchBatchNorm, LAYER_PACKAGE);
