import {
  backend_util,
  MaxPoolGrad,
  util,
  type DataType,
  type KernelConfig,
  type KernelFunc,
  type MaxPoolGradAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { KernelConfigError } from '../errors.js';
import { heapMemory, type WasmBackend } from '../optim/optimizer-updates.js';
import { windowArgmaxFor } from './window-argmax-module.js';

/** What this kernel needs from the wasm backend object (tfjs-backend-wasm's `BackendWasm`). */
export interface WasmPoolBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  /** With these (tfjs-backend-wasm's `BackendWasm`), each window's scan runs as a SIMD module in the heap. */
  wasm?: WasmBackend['wasm'];
  dataIdMap?: WasmBackend['dataIdMap'];
  disposeData?(dataId: object): boolean;
}

/**
 * The gradient of max pooling on the wasm backend: each window's `dy` goes to the FIRST maximum of the window
 * (row-major scan, taps in the padding skipped — the cpu backend's and TensorFlow's rule), read and written in place
 * in the wasm heap in one pass over the windows. The backend's own `MaxPoolGrad` is wrong (it drops windows that overlap the
 * padding, mishandles 1×1 and 2×2 windows, breaks ties differently); the engine's earlier replacement built from
 * ≈ 16 element-wise kernels per window tap was right but ran GoogLeNet's and SqueezeNet's pools at 49–71 ms a step.
 *
 * For every output in increasing order, its window's first maximum per channel (none where every tap is −∞ or NaN,
 * as the cpu backend leaves it; channels innermost so every read is contiguous), and its `dy` added to that input's
 * float64 sum. Each input so gets the sum of `dy · [argmax = this input]` over the windows that contain it, in
 * increasing window order, in float64, rounded once — the cpu backend's own arithmetic, so the result is
 * bit-identical to it. A `NaN`/`∞` in `dy` reaches only its window's chosen input, as there (the cpu backend skips
 * the unchosen taps rather than adding `dy · 0`; the engine's earlier kernel spread NaN over the whole window).
 */
export function maxPoolGradWasm(
  dy: TensorInfo,
  x: TensorInfo,
  attrs: MaxPoolGradAttrs,
  backend: WasmPoolBackend
): TensorInfo {
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new KernelConfigError(MaxPoolGrad, `only float32 is supported, got input ${x.dtype} and dy ${dy.dtype}`);
  }
  const info = poolInfo(dy, x, attrs);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, inChannels: c } = info;
  if (dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== c || dy.shape[0] !== n) {
    throw new KernelConfigError(MaxPoolGrad, `dy has shape [${dy.shape}], expected [${[n, oh, ow, c]}]`);
  }
  const out = backend.makeOutput([...x.shape], 'float32');
  if (util.sizeFromShape([...x.shape]) === 0) return out;
  // The channels in whole 4-lane vectors scan in the SIMD module (where the heap is reachable), the rest in JS.
  const memory = backend.wasm && backend.dataIdMap && backend.disposeData ? heapMemory(backend as WasmBackend) : null;
  const vectorChannels = memory === null ? 0 : c - (c % 4);
  // Scratch in the heap for the module: the best value per channel, then the chosen index per channel.
  const scratch = vectorChannels > 0 ? backend.makeOutput([2 * vectorChannels], 'float32') : null;
  // Views are taken after makeOutput: growing the heap detaches older views.
  const input = backend.typedArrayFromHeap(x);
  const grad = backend.typedArrayFromHeap(dy);
  const dx = backend.typedArrayFromHeap(out);
  const top = padInfo.top;
  const left = padInfo.left;

  // One pass over the windows in increasing output order: each window's first maximum per channel, then its dy
  // added to that input's float64 sum. Every input thus receives its windows' contributions in increasing window
  // order, as a gather over the windows containing it would add them (the cpu backend's loop) — the same sums, in a
  // pass over the outputs instead of one over the inputs that tests every window around each.
  const sums = float64Scratch(dx.length);
  const best = new Float32Array(c);
  const chosen = new Int32Array(c);
  const address = (info: TensorInfo) =>
    ((backend.dataIdMap as WasmBackend['dataIdMap']).get(info.dataId) as { memoryOffset: number }).memoryOffset;
  const argmax = memory === null || scratch === null ? null : windowArgmaxFor(memory);
  const xAddress = argmax ? address(x) : 0;
  const bestAddress = scratch ? address(scratch) : 0;
  const chosenAddress = bestAddress + vectorChannels * 4;
  const vectorChosen =
    memory !== null && scratch !== null ? new Int32Array(memory.buffer, chosenAddress, vectorChannels) : chosen;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - top;
      const yFrom = Math.max(0, y0);
      const yTo = Math.min(h, y0 + kh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - left;
        const xFrom = Math.max(0, x0);
        const xTo = Math.min(w, x0 + kw);
        const o = ((b * oh + oy) * ow + ox) * c;
        if (argmax !== null && yTo > yFrom && xTo > xFrom) {
          const first = ((b * h + yFrom) * w + xFrom) * c;
          // Byte addresses reach 2³² in a 4 GB heap: wasm reads the i32 parameters as unsigned.
          argmax(
            xAddress + first * 4,
            bestAddress,
            chosenAddress,
            vectorChannels * 4,
            yTo - yFrom,
            xTo - xFrom,
            w * c * 4,
            c * 4,
            first,
            w * c,
            c
          );
          for (let ch = 0; ch < vectorChannels; ch++) {
            const at = vectorChosen[ch] as number;
            if (at >= 0) sums[at] = (sums[at] as number) + (grad[o + ch] as number);
          }
        }
        best.fill(Number.NEGATIVE_INFINITY);
        chosen.fill(-1);
        const from = argmax !== null ? vectorChannels : 0;
        for (let iy = yFrom; iy < yTo; iy++) {
          for (let ix = xFrom; ix < xTo; ix++) {
            const i = ((b * h + iy) * w + ix) * c;
            for (let ch = from; ch < c; ch++) {
              const v = input[i + ch] as number;
              if (v > (best[ch] as number)) {
                best[ch] = v;
                chosen[ch] = i + ch;
              }
            }
          }
        }
        for (let ch = from; ch < c; ch++) {
          const at = chosen[ch] as number;
          if (at >= 0) sums[at] = (sums[at] as number) + (grad[o + ch] as number);
        }
      }
    }
  }
  // Rounded to float32 in JS memory first: converting straight into the wasm heap's view takes V8's slow
  // element-by-element path (≈ 20 ns per element), a same-type copy into it is a memcpy.
  const rounded = float32Scratch(dx.length);
  rounded.set(sums);
  dx.set(rounded);
  if (scratch !== null) backend.disposeData?.(scratch.dataId);
  return out;
}

let scratch64 = new Float64Array(0);
let scratch32 = new Float32Array(0);

/** `length` float32s, reused across calls (see `float64Scratch`); the caller overwrites them all. */
function float32Scratch(length: number): Float32Array {
  if (scratch32.length < length) scratch32 = new Float32Array(length);
  return scratch32.subarray(0, length);
}

/**
 * `length` zeroed float64s, reused across calls: a fresh array of this size (tens of MB for the zoo's first pools)
 * is zero pages the OS maps on first touch, and those page faults took most of the kernel's time. Grows only; kept for
 * the process (the size of the largest pooling input × 8 bytes).
 */
function float64Scratch(length: number): Float64Array {
  if (scratch64.length < length) scratch64 = new Float64Array(length);
  const view = scratch64.subarray(0, length);
  view.fill(0);
  return view;
}

/**
 * The pooling geometry. tfjs-core's `maxPool` gradient drops `dimRoundingMode`, so a `'ceil'` pool (SqueezeNet)
 * arrives here as `'floor'` with a larger `dy`; the rounding that reproduces `dy`'s shape is used instead.
 */
function poolInfo(dy: TensorInfo, x: TensorInfo, attrs: MaxPoolGradAttrs): backend_util.Conv2DInfo {
  const { filterSize, strides, pad: padding, dimRoundingMode } = attrs;
  const shape = x.shape as [number, number, number, number];
  const info = backend_util.computePool2DInfo(shape, filterSize, strides, 1, padding, dimRoundingMode);
  if (typeof padding !== 'number' || (info.outHeight === dy.shape[1] && info.outWidth === dy.shape[2])) return info;
  for (const rounding of ['ceil', 'round', 'floor'] as const) {
    const other = backend_util.computePool2DInfo(shape, filterSize, strides, 1, padding, rounding);
    if (other.outHeight === dy.shape[1] && other.outWidth === dy.shape[2]) return other;
  }
  return info;
}

const kernelFunc = (({ inputs, attrs, backend }) => {
  const dy = inputs['dy'];
  const x = inputs['input'];
  if (dy === undefined) throw new KernelConfigError(MaxPoolGrad, "input 'dy' is missing");
  if (x === undefined) throw new KernelConfigError(MaxPoolGrad, "input 'input' is missing");
  return maxPoolGradWasm(dy, x, attrs as unknown as MaxPoolGradAttrs, backend as unknown as WasmPoolBackend);
}) as KernelFunc;

/** `MaxPoolGrad` for the wasm backend (replaces the backend's incorrect kernel). */
export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc,
};
