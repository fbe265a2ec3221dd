import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { poolOutputSize, torchPadding } from '../torch-shapes.js';
import { LAYER_PACKAGE, onlyShape, onlyTensor, type Kwargs, type LayerArgs } from './layer-utils.js';

export interface TorchMaxPool2dArgs extends LayerArgs {
  /** Square window side. */
  kernelSize: number;
  /** Step between windows. @default kernelSize */
  strides?: number;
  /** Implicit −∞ padding on every side, ≤ kernelSize / 2 as in PyTorch. @default 0 */
  padding?: number;
  /** PyTorch's `ceil_mode`: keep a last, partial window. @default false */
  ceilMode?: boolean;
}

/**
 * The padding value: the lowest finite float32, which loses every window to any real input as −∞ would. (With −∞
 * itself the engine's wasm `MaxPoolGrad` routes gradients to the wrong cells, so a finite value is used.)
 */
export const MAX_POOL_PADDING_VALUE = -3.4028234663852886e38;

/**
 * `nn.MaxPool2d(kernel, stride, padding, ceil_mode)` on channels-last maps. The padding (symmetric plus the extra
 * rows/columns ceil_mode needs at the end) is `MAX_POOL_PADDING_VALUE`, so it never wins a window (PyTorch pads
 * with −∞), and the pooling itself is a 'valid' `tf.maxPool`, whose gradient (`MaxPoolGrad`) every backend has.
 */
export class TorchMaxPool2d extends tfl.layers.Layer {
  static className = 'TorchMaxPool2d';
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: number;
  readonly ceilMode: boolean;

  constructor(args: TorchMaxPool2dArgs) {
    super(args);
    this.kernelSize = args.kernelSize;
    this.strides = args.strides ?? args.kernelSize;
    this.padding = args.padding ?? 0;
    this.ceilMode = args.ceilMode ?? false;
    if (this.padding > this.kernelSize / 2) {
      throw new Error(
        `TorchMaxPool2d: padding ${this.padding} must be at most kernelSize / 2 (${this.kernelSize / 2})`
      );
    }
  }

  private outSize(size: number): number {
    return poolOutputSize(size, this.kernelSize, this.strides, this.padding, this.ceilMode);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [batch, h, w, c] = onlyShape(inputShape, this.name);
    return [batch ?? null, h == null ? null : this.outSize(h), w == null ? null : this.outSize(w), c ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = onlyTensor(inputs, this.name) as tf.Tensor4D;
      const [, h, w] = x.shape;
      const k = this.kernelSize;
      const s = this.strides;
      const padH = torchPadding(h, k, s, this.padding, this.outSize(h));
      const padW = torchPadding(w, k, s, this.padding, this.outSize(w));
      const padded =
        padH[0] + padH[1] + padW[0] + padW[1] > 0 ? tf.pad(x, [[0, 0], padH, padW, [0, 0]], MAX_POOL_PADDING_VALUE) : x;
      return tf.maxPool(padded, k, s, 'valid');
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      ceilMode: this.ceilMode,
    };
  }
}
tf.serialization.registerClass(TorchMaxPool2d, LAYER_PACKAGE);
