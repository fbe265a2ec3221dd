import {
  Slice,
  slice_util,
  util,
  type DataType,
  type KernelConfig,
  type KernelFunc,
  type SliceAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { KernelConfigError } from '../errors.js';

/** A typed-array view of a tensor's bytes in the wasm heap. */
interface HeapView {
  [index: number]: number;
  set(values: ArrayLike<number>, offset?: number): void;
  subarray(begin: number, end: number): ArrayLike<number>;
}

/** What this kernel needs from the wasm backend object (tfjs-backend-wasm's `BackendWasm`). */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): HeapView;
}

/** Runs at least this long are copied with `TypedArray.set`; shorter ones element by element. */
const MIN_SET_RUN = 16;

/**
 * `Slice` for the wasm backend that costs O(output). The backend's own kernel first copies the WHOLE input out of
 * the wasm heap (`readSync`) on every call, so splitting a tensor into k parts copied it k times — concatenation
 * gradients (GoogLeNet, SqueezeNet, MiT) and attention-head splits paid that on every step. This one reads the
 * input through a heap view: a contiguous slice is one `memcpy` (`TypedArray.set`), any other slice one copy per
 * contiguous run (the backend's compiled `StridedSlice` is a generic per-element loop, ≈ 50× slower).
 */
export function sliceWasm(
  x: TensorInfo,
  begin: readonly number[],
  size: readonly number[],
  backend: WasmHeapBackend
): TensorInfo {
  const shape = [...x.shape];
  const rank = shape.length;
  const total = util.sizeFromShape([...size]);
  const strides = util.computeStrides(shape);
  const contiguous = slice_util.isSliceContinous(shape, [...begin], [...size]);
  // The innermost axes taken whole form one contiguous run together with the first partial axis inside them.
  let axis = rank - 1;
  let run = rank === 0 ? 1 : (size[axis] as number);
  while (axis > 0 && size[axis] === shape[axis]) {
    axis--;
    run *= size[axis] as number;
  }
  const out = backend.makeOutput([...size], x.dtype);
  if (total === 0) return out;
  // Views are taken after makeOutput: growing the heap detaches older views.
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  if (contiguous) {
    const offset = slice_util.computeFlatOffset([...begin], strides);
    target.set(source.subarray(offset, offset + total));
    return out;
  }
  const index = new Array<number>(axis).fill(0);
  for (let r = 0; r < total / run; r++) {
    let from = (begin[axis] as number) * (strides[axis] ?? 1);
    for (let d = 0; d < axis; d++) from += ((begin[d] as number) + (index[d] as number)) * (strides[d] as number);
    const to = r * run;
    if (run >= MIN_SET_RUN) target.set(source.subarray(from, from + run), to);
    else for (let i = 0; i < run; i++) target[to + i] = source[from + i] as number;
    for (let d = axis - 1; d >= 0; d--) {
      index[d] = (index[d] as number) + 1;
      if ((index[d] as number) < (size[d] as number)) break;
      index[d] = 0;
    }
  }
  return out;
}

const kernelFunc = (({ inputs, attrs, backend }) => {
  const x = inputs['x'];
  if (x === undefined) throw new KernelConfigError(Slice, "input 'x' is missing");
  if (x.dtype === 'string') throw new KernelConfigError(Slice, 'string tensors are not supported');
  const { begin, size } = attrs as unknown as SliceAttrs;
  const [begin_, size_] = slice_util.parseSliceParams(x, begin, size);
  return sliceWasm(x, begin_ as number[], size_ as number[], backend as WasmHeapBackend);
}) as KernelFunc;

/** `Slice` for the wasm backend (replaces the backend's kernel, which copies the whole input per call). */
export const sliceConfig: KernelConfig = {
  kernelName: Slice,
  backendName: 'wasm',
  kernelFunc,
};
