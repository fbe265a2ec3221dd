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

/** What this kernel needs from the wasm backend object (tfjs-backend-wasm's `BackendWasm`). */
export interface WasmPoolBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/**
 * The gradient of max pooling on the wasm backend: each window's `dy` goes to the FIRST maximum of the window
 * (row-major scan, taps in the padding skipped — the cpu backend's and TensorFlow's rule), read and written in place
 * in the wasm heap in two passes. The backend's own `MaxPoolGrad` is wrong (it drops windows that overlap the
 * padding, mishandles 1×1 and 2×2 windows, breaks ties differently); the engine's earlier replacement built from
 * ≈ 16 element-wise kernels per window tap was right but ran GoogLeNet's and SqueezeNet's pools at 49–71 ms a step.
 *
 * 1. For every output, the flat input index of its window's first maximum (an `Int32Array`, −1 where every tap is
 *    −∞ or NaN, as the cpu backend leaves it), channels innermost so every read is contiguous.
 * 2. For every input, the sum of `dy · [argmax = this input]` over the windows that contain it, in increasing
 *    window order, in float64, rounded once — the cpu backend's own arithmetic, so the result is bit-identical to it
 *    (`NaN`/`∞` in a `dy` reach every input of that window, as they do there).
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
  // Views are taken after makeOutput: growing the heap detaches older views.
  const input = backend.typedArrayFromHeap(x);
  const grad = backend.typedArrayFromHeap(dy);
  const dx = backend.typedArrayFromHeap(out);
  const top = padInfo.top;
  const left = padInfo.left;

  // Pass 1: argmax per output.
  const argmax = new Int32Array(n * oh * ow * c);
  const best = new Float32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - top;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - left;
        const o = ((b * oh + oy) * ow + ox) * c;
        best.fill(Number.NEGATIVE_INFINITY);
        argmax.fill(-1, o, o + c);
        for (let iy = Math.max(0, y0); iy < Math.min(h, y0 + kh); iy++) {
          for (let ix = Math.max(0, x0); ix < Math.min(w, x0 + kw); ix++) {
            const i = ((b * h + iy) * w + ix) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = input[i + ch] as number;
              if (v > (best[ch] as number)) {
                best[ch] = v;
                argmax[o + ch] = i + ch;
              }
            }
          }
        }
      }
    }
  }

  // Pass 2: gather per input over the windows that contain it.
  const sum = new Float64Array(c);
  for (let b = 0; b < n; b++) {
    for (let iy = 0; iy < h; iy++) {
      // Windows oy with oy·sh − top ≤ iy ≤ oy·sh − top + kh − 1.
      const oyFrom = Math.max(0, Math.ceil((iy + top - kh + 1) / sh));
      const oyTo = Math.min(oh - 1, Math.floor((iy + top) / sh));
      for (let ix = 0; ix < w; ix++) {
        const oxFrom = Math.max(0, Math.ceil((ix + left - kw + 1) / sw));
        const oxTo = Math.min(ow - 1, Math.floor((ix + left) / sw));
        const i = ((b * h + iy) * w + ix) * c;
        sum.fill(0);
        for (let oy = oyFrom; oy <= oyTo; oy++) {
          for (let ox = oxFrom; ox <= oxTo; ox++) {
            const o = ((b * oh + oy) * ow + ox) * c;
            for (let ch = 0; ch < c; ch++) {
              sum[ch] = (sum[ch] as number) + (grad[o + ch] as number) * (argmax[o + ch] === i + ch ? 1 : 0);
            }
          }
        }
        dx.set(sum, i);
      }
    }
  }
  return out;
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
