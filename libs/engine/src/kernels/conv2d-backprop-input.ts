import {
  backend_util,
  Conv2DBackpropInput,
  conv2d,
  tidy,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type Tensor4D,
} from '@tensorflow/tfjs-core';
import { inputGradByPhases } from './input-grad-phases.js';
import { asTensor, assertChannelsLast } from './kernel-tensors.js';

/**
 * The input gradient of a 2-D convolution on the wasm backend as forward XNNPACK convolutions of the output gradient
 * with the flipped, in/out-swapped filter: one for stride 1, one per stride phase otherwise. It replaces the wasm
 * backend's own `Conv2DBackpropInput`, a scalar loop ≈ 10× slower than the forward convolution.
 */
export function conv2dBackpropInputWasm(dy: Tensor4D, filter: Tensor4D, attrs: Conv2DBackpropInputAttrs): Tensor4D {
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  assertChannelsLast(Conv2DBackpropInput, dataFormat);
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode);
  return tidy(() =>
    inputGradByPhases(
      dy,
      {
        batch: info.batchSize,
        inHeight: info.inHeight,
        inWidth: info.inWidth,
        outHeight: info.outHeight,
        outWidth: info.outWidth,
        filterHeight: info.filterHeight,
        filterWidth: info.filterWidth,
        strideHeight: info.strideHeight,
        strideWidth: info.strideWidth,
        padTop: info.padInfo.top,
        padLeft: info.padInfo.left,
        inChannels: info.inChannels,
      },
      // [kh, kw, Ci, Co] → flipped taps → [th, tw, Co, Ci]: a correlation of dy (Co channels) giving Ci channels.
      (dyPhase, phasePad, _taps, swappedTaps) => conv2d(dyPhase, swappedTaps(filter), 1, phasePad)
    )
  );
}

const kernelFunc = (({ inputs, attrs }) =>
  tidy(() =>
    conv2dBackpropInputWasm(
      asTensor<Tensor4D>(inputs['dy'], Conv2DBackpropInput, 'dy'),
      asTensor<Tensor4D>(inputs['filter'], Conv2DBackpropInput, 'filter'),
      attrs as unknown as Conv2DBackpropInputAttrs
    )
  )) as KernelFunc;

/** `Conv2DBackpropInput` for the wasm backend (replaces the backend's slow scalar kernel). */
export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc,
};
