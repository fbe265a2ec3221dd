import {
  add,
  cast,
  matMul,
  oneHot,
  reshape,
  slice,
  tidy,
  UnsortedSegmentSum,
  zeros,
  type KernelConfig,
  type KernelFunc,
  type Tensor,
  type UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';
import { asTensor } from './kernel-tensors.js';

/** Largest one-hot matrix (segment ids × segments) built at once; longer id lists are summed in chunks. */
const MAX_ONE_HOT_ELEMENTS = 1 << 22;

/**
 * `out[k, …] = Σ_{i: ids[i] = k} x[i, …]` on the wasm backend as a matrix product `onehot(ids)ᵀ · x` (ids outside
 * `[0, numSegments)` select nothing, as in TF). Needed by the gradient of `gather`.
 */
export function unsortedSegmentSumWasm(x: Tensor, segmentIds: Tensor, numSegments: number): Tensor {
  return tidy(() => {
    const idsCount = segmentIds.size;
    const outShape = [numSegments, ...x.shape.slice(segmentIds.rank)];
    const ids = reshape(segmentIds, [idsCount]);
    const rows = cast(reshape(x, [idsCount, -1]), 'float32');
    const chunk = Math.max(1, Math.floor(MAX_ONE_HOT_ELEMENTS / Math.max(numSegments, 1)));
    if (idsCount === 0 || numSegments === 0) return zeros(outShape, x.dtype);
    let total: Tensor | null = null;
    for (let start = 0; start < idsCount; start += chunk) {
      const size = Math.min(chunk, idsCount - start);
      const selector = cast(oneHot(size === idsCount ? ids : slice(ids, start, size), numSegments), 'float32');
      const part = matMul(selector, size === idsCount ? rows : slice(rows, [start, 0], [size, -1]), true, false);
      total = total === null ? part : add(total, part);
    }
    return cast(reshape(total as Tensor, outShape), x.dtype);
  });
}

const kernelFunc = (({ inputs, attrs }) =>
  tidy(() =>
    unsortedSegmentSumWasm(
      asTensor(inputs['x'], UnsortedSegmentSum, 'x'),
      asTensor(inputs['segmentIds'], UnsortedSegmentSum, 'segmentIds'),
      (attrs as unknown as UnsortedSegmentSumAttrs).numSegments
    )
  )) as KernelFunc;

/** `UnsortedSegmentSum` for the wasm backend (the gradient of `gather`), which ships without one. */
export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc,
};
