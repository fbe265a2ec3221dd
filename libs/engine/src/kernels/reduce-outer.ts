import {
  Mean,
  Sum,
  util,
  type KernelConfig,
  type KernelFunc,
  type MeanAttrs,
  type SumAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { heapMemory, type WasmBackend } from '../optim/optimizer-updates.js';
import { columnSumFor } from './column-sum-module.js';
import { wrapNativeKernel } from './wrap-native-kernel.js';

/**
 * A reduction over one contiguous block of axes that leaves the last axis alone, seen as `[outer, rows, inner]`:
 * `outer` independent column sums of `rows` rows of `inner` floats each. `null` where the wasm backend's own kernel
 * needs no transpose (the block reaches the last axis, or there is nothing to reduce), or the axes are not one block.
 */
export function outerReduction(
  shape: readonly number[],
  axis: number | readonly number[]
): { outer: number; rows: number; inner: number; outShape: number[]; keptShape: number[] } | null {
  const rank = shape.length;
  const axes = [...new Set(util.parseAxisParam(axis as number | number[], [...shape]))].sort((a, b) => a - b);
  if (axes.length === 0) return null;
  const first = axes[0] as number;
  const last = axes[axes.length - 1] as number;
  if (last - first + 1 !== axes.length || last === rank - 1) return null;
  const size = (from: number, to: number) => util.sizeFromShape(shape.slice(from, to));
  const outer = size(0, first);
  const rows = size(first, last + 1);
  const inner = size(last + 1, rank);
  if (rows <= 1 || inner <= 1 || outer * inner === 0) return null;
  return {
    outer,
    rows,
    inner,
    outShape: shape.filter((_, i) => i < first || i > last),
    keptShape: shape.map((d, i) => (i < first || i > last ? d : 1)),
  };
}

/**
 * Wraps the wasm backend's `Sum` (or `Mean`), which reduces only innermost axes: for any other axes it first
 * transposes the whole tensor with its scalar `Transpose` loop. Batch norm reduces `[N, H, W, C]` over N, H, W (its
 * statistics in the forward pass, the gradients of β, γ and of the statistics backward), as does every bias
 * gradient; ResNet-50 spent ≈ 0.8 s of a 5.6 s step there. Float32 reductions over one block of axes before the
 * last become column sums done in place in the heap by a small SIMD module (`column-sum-module.ts`), each column
 * summed in the same sequential float32 order as the backend's own loop — the same bits, without the transpose.
 * Everything else goes to the backend's kernel.
 */
function createOuterReductionConfig(kernelName: typeof Sum | typeof Mean): KernelConfig | null {
  return wrapNativeKernel(
    kernelName,
    (native) =>
      ((args) => {
        const x = args.inputs['x'];
        const { axis, keepDims } = args.attrs as unknown as SumAttrs | MeanAttrs;
        const backend = args.backend as unknown as WasmBackend;
        const plan = x === undefined || x.dtype !== 'float32' ? null : outerReduction(x.shape, axis);
        const memory = plan === null ? null : heapMemory(backend);
        if (x === undefined || plan === null || memory === null) return native.kernelFunc(args);
        const out: TensorInfo = backend.makeOutput(keepDims ? plan.keptShape : plan.outShape, 'float32');
        // Views after makeOutput: growing the heap detaches older ones. The sums accumulate into `out`.
        const result = backend.typedArrayFromHeap(out);
        result.fill(0);
        const address = (info: TensorInfo) =>
          (backend.dataIdMap.get(info.dataId) as { memoryOffset: number }).memoryOffset;
        const columnSum = columnSumFor(memory);
        const xAddress = address(x);
        const outAddress = address(out);
        const rowBytes = plan.inner * 4;
        const vectorBytes = Math.floor(plan.inner / 4) * 16;
        for (let o = 0; o < plan.outer; o++) {
          // Byte addresses reach 2³² in a 4 GB heap: wasm reads the i32 parameters as unsigned.
          columnSum(xAddress + o * plan.rows * rowBytes, outAddress + o * rowBytes, plan.rows, rowBytes, vectorBytes);
        }
        if (kernelName === Mean) {
          // A float32 quotient of two float32 values, as the backend's `sum / reduce_size`.
          for (let i = 0; i < result.length; i++) result[i] = (result[i] as number) / plan.rows;
        }
        return out;
      }) as KernelFunc
  );
}

/** `Sum` on wasm without the transpose for reductions over leading or middle axes (see above). */
export function createSumConfig(): KernelConfig | null {
  return createOuterReductionConfig(Sum);
}

/** `Mean` on wasm without the transpose for reductions over leading or middle axes (see above). */
export function createMeanConfig(): KernelConfig | null {
  return createOuterReductionConfig(Mean);
}
