import {
  backend_util,
  concat,
  conv2d,
  DepthwiseConv2dNativeBackpropFilter,
  eye,
  mul,
  reshape,
  split,
  sum,
  tidy,
  transpose,
  zeros,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type Tensor,
  type Tensor4D,
} from '@tensorflow/tfjs-core';
import { cropForPads, filterGradAxisPads } from './conv-geometry.js';
import { asTensor, assertNoDilation } from './kernel-tensors.js';

/**
 * Channels per block in the depthwise filter gradient. Each block is one dense convolution that computes all
 * `block × block` channel pairs and keeps the diagonal: a larger block means fewer, larger GEMMs but more wasted
 * products. 8 was fastest on the measured layers (see the README).
 */
export const DEPTHWISE_FILTER_GRAD_BLOCK = 8;

/**
 * The filter gradient of a depthwise convolution, `dW[a,b,c,m] = Σ x[n, i·s+a−pt, j·s+b−pl, c] · dy[n,i,j,c·M+m]`,
 * on the wasm backend. Like the dense filter gradient it is a forward convolution with batch and channels swapped
 * (`x` as `[C, H, W, N]`, `dy` as a `[OH, OW, N, C·M]` filter dilated by the stride), done per block of channels
 * so that the cross-channel products a dense convolution computes — all but the diagonal are discarded — stay few.
 */
export function depthwiseConv2dNativeBackpropFilterWasm(
  x: Tensor4D,
  dy: Tensor4D,
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs,
  block: number = DEPTHWISE_FILTER_GRAD_BLOCK
): Tensor4D {
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs;
  assertNoDilation(DepthwiseConv2dNativeBackpropFilter, dilations);
  const info = backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, true);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const [, , channels, multiplier] = filterShape;
  return tidy(() => {
    const rows = filterGradAxisPads(info.inHeight, info.outHeight, kh, sh, padInfo.top);
    const cols = filterGradAxisPads(info.inWidth, info.outWidth, kw, sw, padInfo.left);
    const cropped = cropForPads(x, rows, cols);
    if (cropped === null) return zeros(filterShape) as Tensor4D;
    const g = blockSize(channels, block);
    const blocks = channels / g;
    const [n, h, w] = cropped.tensor.shape;
    const [, oh, ow] = dy.shape;
    // x → [C, H, W, N]: a 2-D transpose and a transpose that moves whole rows of N, both cheaper on wasm than the
    // equivalent single 4-D transpose; blocks of g channels are then contiguous.
    const xT = reshape(
      transpose(reshape(transpose(reshape(cropped.tensor, [n, -1])), [h * w, channels, n]), [1, 0, 2]),
      [channels, h, w, n]
    );
    // dy → [blocks, OH·OW, N, g·M], so each block's filter is contiguous too.
    const dyBlocks = transpose(reshape(dy, [n, oh * ow, blocks, g * multiplier]), [2, 1, 0, 3]);
    const xParts = blocks === 1 ? [xT] : split(xT, blocks, 0);
    const dyParts = blocks === 1 ? [dyBlocks] : split(dyBlocks, blocks, 0);
    const diagonal = g === 1 ? null : reshape(eye(g), [g, 1, g, 1]);
    const parts: Tensor[] = xParts.map((xBlock, b) => {
      const filter: Tensor4D = reshape(dyParts[b] as Tensor, [oh, ow, n, g * multiplier]);
      const pairs = conv2d(xBlock as Tensor4D, filter, 1, cropped.pad, 'NHWC', [sh, sw]); // [g, kh, kw, g·M]
      if (diagonal === null) return reshape(pairs, [kh * kw, 1, multiplier]);
      return sum(mul(reshape(pairs, [g, kh * kw, g, multiplier]), diagonal), 0); // [kh·kw, g, M]
    });
    const grad = parts.length === 1 ? (parts[0] as Tensor) : concat(parts, 1);
    return reshape(grad, [kh, kw, channels, multiplier]);
  });
}

/** The largest divisor of `channels` that is at most `block` (blocks must tile the channels exactly). */
function blockSize(channels: number, block: number): number {
  for (let g = Math.min(block, channels); g > 1; g--) if (channels % g === 0) return g;
  return 1;
}

const kernelFunc = (({ inputs, attrs }) =>
  tidy(() =>
    depthwiseConv2dNativeBackpropFilterWasm(
      asTensor<Tensor4D>(inputs['x'], DepthwiseConv2dNativeBackpropFilter, 'x'),
      asTensor<Tensor4D>(inputs['dy'], DepthwiseConv2dNativeBackpropFilter, 'dy'),
      attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs
    )
  )) as KernelFunc;

/** `DepthwiseConv2dNativeBackpropFilter` for the wasm backend, which ships without one. */
export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc,
};
