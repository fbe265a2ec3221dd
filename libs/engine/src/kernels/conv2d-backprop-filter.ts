import {
  backend_util,
  Conv2DBackpropFilter,
  conv2d,
  matMul,
  reshape,
  tidy,
  transpose,
  zeros,
  type Conv2DBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type Tensor4D,
} from '@tensorflow/tfjs-core';
import { cropForPads, filterGradAxisPads } from './conv-geometry.js';
import { asTensor, assertChannelsLast } from './kernel-tensors.js';

/**
 * The filter gradient of a 2-D convolution, `dW[a,b,ci,co] = Σ x[n, i·s+a−pt, j·s+b−pl, ci] · dy[n,i,j,co]`, as ONE
 * forward convolution on the wasm backend (XNNPACK): the input is transposed to `[Ci, H, W, N]` (the input channels
 * become the batch, the batch becomes the channels), the output gradient to `[OH, OW, N, Co]` becomes the filter,
 * dilated by the forward stride; the result `[Ci, KH, KW, Co]` is transposed back. 1×1 stride-1 unpadded
 * convolutions skip the transposes: their gradient is the single matrix product `x2ᵀ · dy2`.
 */
export function conv2dBackpropFilterWasm(x: Tensor4D, dy: Tensor4D, attrs: Conv2DBackpropFilterAttrs): Tensor4D {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  assertChannelsLast(Conv2DBackpropFilter, dataFormat);
  const info = backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const [, , inChannels, outChannels] = filterShape;
  return tidy(() => {
    if (
      kh === 1 &&
      kw === 1 &&
      sh === 1 &&
      sw === 1 &&
      padInfo.top + padInfo.left + padInfo.bottom + padInfo.right === 0
    ) {
      const x2 = reshape(x, [-1, inChannels]);
      const dy2 = reshape(dy, [-1, outChannels]);
      return reshape(matMul(x2, dy2, true, false), filterShape);
    }
    const rows = filterGradAxisPads(info.inHeight, info.outHeight, kh, sh, padInfo.top);
    const cols = filterGradAxisPads(info.inWidth, info.outWidth, kw, sw, padInfo.left);
    const cropped = cropForPads(x, rows, cols);
    if (cropped === null) return zeros(filterShape) as Tensor4D;
    const xT = transpose(cropped.tensor, [3, 1, 2, 0]);
    const dyT = transpose(dy, [1, 2, 0, 3]);
    const gradT = conv2d(xT, dyT, 1, cropped.pad, 'NHWC', [sh, sw]);
    return transpose(gradT, [1, 2, 0, 3]);
  });
}

const kernelFunc = (({ inputs, attrs }) =>
  tidy(() =>
    conv2dBackpropFilterWasm(
      asTensor<Tensor4D>(inputs['x'], Conv2DBackpropFilter, 'x'),
      asTensor<Tensor4D>(inputs['dy'], Conv2DBackpropFilter, 'dy'),
      attrs as unknown as Conv2DBackpropFilterAttrs
    )
  )) as KernelFunc;

/** `Conv2DBackpropFilter` for the wasm backend, which ships without one. */
export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc,
};
