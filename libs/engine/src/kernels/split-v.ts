import {
  backend_util,
  SplitV,
  util,
  type KernelConfig,
  type KernelFunc,
  type SplitVAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { KernelConfigError } from '../errors.js';
import { sliceWasm, type WasmHeapBackend } from './slice.js';

/**
 * `SplitV` (`tf.split`) for the wasm backend through the O(output) `sliceWasm`: the backend's own kernel calls its
 * internal slice, which copies the whole input once per part.
 */
const kernelFunc = (({ inputs, attrs, backend }) => {
  const x = inputs['x'];
  if (x === undefined) throw new KernelConfigError(SplitV, "input 'x' is missing");
  if (x.dtype === 'string') throw new KernelConfigError(SplitV, 'string tensors are not supported');
  const { numOrSizeSplits, axis } = attrs as unknown as SplitVAttrs;
  const $axis = util.parseAxisParam(axis, x.shape)[0] as number;
  const sizes = backend_util.prepareSplitSize(x, numOrSizeSplits, $axis);
  const begin = x.shape.map(() => 0);
  const parts: TensorInfo[] = [];
  for (const part of sizes) {
    const size = [...x.shape];
    size[$axis] = part;
    parts.push(sliceWasm(x, begin, size, backend as WasmHeapBackend));
    begin[$axis] = (begin[$axis] as number) + part;
  }
  return parts;
}) as KernelFunc;

/** `SplitV` for the wasm backend (replaces the backend's kernel, which copies the whole input per part). */
export const splitVConfig: KernelConfig = {
  kernelName: SplitV,
  backendName: 'wasm',
  kernelFunc,
};
