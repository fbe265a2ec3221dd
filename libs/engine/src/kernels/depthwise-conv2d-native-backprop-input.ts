import {
  backend_util,
  DepthwiseConv2dNativeBackpropInput,
  depthwiseConv2d,
  reshape,
  sum,
  tidy,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type Tensor4D,
} from '@tensorflow/tfjs-core';
import { inputGradByPhases, type InputGradGeometry } from './input-grad-phases.js';
import { asTensor, assertNoDilation } from './kernel-tensors.js';

/**
 * The input gradient of a depthwise convolution on the wasm backend: forward XNNPACK depthwise convolutions of the
 * output gradient with the flipped filter (one per stride phase). With a channel multiplier `M > 1` the `C·M`
 * gradient channels are correlated separately and summed over `M`.
 */
export function depthwiseConv2dNativeBackpropInputWasm(
  dy: Tensor4D,
  filter: Tensor4D,
  attrs: DepthwiseConv2dNativeBackpropInputAttrs
): Tensor4D {
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs;
  assertNoDilation(DepthwiseConv2dNativeBackpropInput, dilations);
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode, true);
  return tidy(() =>
    depthwiseInputGrad(dy, filter, {
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
      inChannels: filter.shape[2],
    })
  );
}

/**
 * The input gradient of a depthwise convolution with `filter` (`[kh, kw, C, M]`) over the geometry `g`, for callers
 * that know the geometry already (the max-pool gradient scatters through it).
 */
export function depthwiseInputGrad(dy: Tensor4D, filter: Tensor4D, g: InputGradGeometry): Tensor4D {
  const [, , channels, multiplier] = filter.shape;
  return inputGradByPhases(dy, g, (dyPhase, phasePad, taps) => {
    const flipped = taps(filter);
    if (multiplier === 1) return depthwiseConv2d(dyPhase, flipped, 1, phasePad);
    const [th, tw] = flipped.shape;
    const perChannel = depthwiseConv2d(dyPhase, reshape(flipped, [th, tw, channels * multiplier, 1]), 1, phasePad);
    const [n, qh, qw] = perChannel.shape;
    return sum(reshape(perChannel, [n, qh, qw, channels, multiplier]), 4);
  });
}

const kernelFunc = (({ inputs, attrs }) =>
  tidy(() =>
    depthwiseConv2dNativeBackpropInputWasm(
      asTensor<Tensor4D>(inputs['dy'], DepthwiseConv2dNativeBackpropInput, 'dy'),
      asTensor<Tensor4D>(inputs['filter'], DepthwiseConv2dNativeBackpropInput, 'filter'),
      attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs
    )
  )) as KernelFunc;

/** `DepthwiseConv2dNativeBackpropInput` for the wasm backend, which ships without one. */
export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc,
};
