import {
  abs,
  add,
  addN,
  backend_util,
  MaxPoolGrad,
  mul,
  reshape,
  pad,
  slice,
  step,
  sub,
  tidy,
  zeros,
  type KernelConfig,
  type KernelFunc,
  type MaxPoolGradAttrs,
  type Tensor,
  type Tensor4D,
} from '@tensorflow/tfjs-core';
import { cropForPads } from './conv-geometry.js';
import { interleavePhases } from './input-grad-phases.js';
import { asTensor } from './kernel-tensors.js';

/** The padding value: the lowest float32, so padded taps never win a window. */
const LOWEST_FLOAT32 = -3.4028234663852886e38;

/**
 * The gradient of max pooling on the wasm backend, routing each output's gradient to the FIRST maximum of its window
 * (row-major scan, as the cpu backend and TensorFlow do). The wasm backend's own `MaxPoolGrad` is wrong: it drops
 * windows that overlap the padding, mishandles 1×1 and 2×2 windows and breaks ties differently.
 *
 * Built from wasm ops in two passes over the window taps, each on output-sized tensors: the first keeps the running
 * maximum and the index of the first tap that reached it (slices of a stride-grid view, `step`); the second routes
 * `dy` through each tap's mask into the stride phase of the input that tap reaches (a shifted, zero-padded copy),
 * and the phases are interleaved back into the input's shape.
 */
export function maxPoolGradWasm(dy: Tensor4D, x: Tensor4D, attrs: MaxPoolGradAttrs): Tensor4D {
  const info = poolInfo(dy, x, attrs);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, inChannels: c } = info;
  return tidy(() => {
    // Pad with the lowest value so that, seen as [N, H'/sh, sh, W'/sw, sw, C], tap (a, b) of every window is one
    // slice with contiguous runs of C values (the backend's strided slice is a slow generic loop).
    const hp = sh * (oh + Math.ceil((kh - 1) / sh));
    const wp = sw * (ow + Math.ceil((kw - 1) / sw));
    const rows = { before: padInfo.top, after: hp - h - padInfo.top };
    const cols = { before: padInfo.left, after: wp - w - padInfo.left };
    const cropped = cropForPads(x, rows, cols);
    const qh = Math.ceil(h / sh);
    const qw = Math.ceil(w / sw);
    if (cropped === null) return zeros([n, h, w, c]) as Tensor4D;
    const grid = reshape(pad(cropped.tensor, cropped.pad, LOWEST_FLOAT32), [n, hp / sh, sh, wp / sw, sw, c]);
    const tap = (a: number, b: number): Tensor4D =>
      reshape(slice(grid, [0, Math.floor(a / sh), a % sh, Math.floor(b / sw), b % sw, 0], [n, oh, 1, ow, 1, c]), [
        n,
        oh,
        ow,
        c,
      ]);

    // Pass 1: the first tap index reaching each window's maximum, in float32 (exact for these small integers).
    // `step(candidate − best)` is `candidate > best` for finite floats (wasm does not flush denormals to zero).
    let best: Tensor = tap(0, 0);
    let first: Tensor = zeros(best.shape);
    for (let k = 1; k < kh * kw; k++) {
      const candidate = tap(Math.floor(k / kw), k % kw);
      const wins = step(sub(candidate, best));
      first = add(first, mul(wins, sub(k, first)));
      // wins·candidate + (1 − wins)·best picks one of them exactly (0·v = 0 for the finite values here) and is
      // several times faster than `maximum` on wasm.
      best = add(mul(wins, candidate), mul(sub(1, wins), best));
    }

    // Pass 2: each tap's share of dy goes to the input phase it reaches, shifted by whole phase rows/columns.
    const byPhase = new Map<number, Tensor[]>();
    for (let k = 0; k < kh * kw; k++) {
      const [a, b] = [Math.floor(k / kw), k % kw];
      const [ph, dh] = phaseShift(a - padInfo.top, sh);
      const [pw, dw] = phaseShift(b - padInfo.left, sw);
      const share = mul(dy, step(sub(0.5, abs(sub(first, k))))) as Tensor4D;
      const placed = cropForPads(share, { before: dh, after: qh - oh - dh }, { before: dw, after: qw - ow - dw });
      if (placed === null) continue;
      const key = ph * sw + pw;
      byPhase.set(key, [...(byPhase.get(key) ?? []), pad(placed.tensor, placed.pad)]);
    }
    const phases: Tensor4D[] = [];
    for (let key = 0; key < sh * sw; key++) {
      const parts = byPhase.get(key);
      phases.push(
        (parts === undefined ? zeros([n, qh, qw, c]) : parts.length === 1 ? parts[0] : addN(parts)) as Tensor4D
      );
    }
    return interleavePhases(phases, { strideHeight: sh, strideWidth: sw, inHeight: h, inWidth: w });
  });
}

/** Input offset `t` of a tap as (phase, whole-stride shift): `i·s + t = (i + shift)·s + phase`. */
function phaseShift(t: number, stride: number): [number, number] {
  const phase = ((t % stride) + stride) % stride;
  return [phase, (t - phase) / stride];
}

/**
 * The pooling geometry. tfjs-core's `maxPool` gradient drops `dimRoundingMode`, so a `'ceil'` pool (SqueezeNet)
 * arrives here as `'floor'` with a larger `dy`; the rounding that reproduces `dy`'s shape is used instead.
 */
function poolInfo(dy: Tensor4D, x: Tensor4D, attrs: MaxPoolGradAttrs): backend_util.Conv2DInfo {
  const { filterSize, strides, pad: padding, dimRoundingMode } = attrs;
  const info = backend_util.computePool2DInfo(x.shape, filterSize, strides, 1, padding, dimRoundingMode);
  if (typeof padding !== 'number' || (info.outHeight === dy.shape[1] && info.outWidth === dy.shape[2])) return info;
  for (const rounding of ['ceil', 'round', 'floor'] as const) {
    const other = backend_util.computePool2DInfo(x.shape, filterSize, strides, 1, padding, rounding);
    if (other.outHeight === dy.shape[1] && other.outWidth === dy.shape[2]) return other;
  }
  return info;
}

const kernelFunc = (({ inputs, attrs }) =>
  tidy(() =>
    maxPoolGradWasm(
      asTensor<Tensor4D>(inputs['dy'], MaxPoolGrad, 'dy'),
      asTensor<Tensor4D>(inputs['input'], MaxPoolGrad, 'input'),
      attrs as unknown as MaxPoolGradAttrs
    )
  )) as KernelFunc;

/** `MaxPoolGrad` for the wasm backend (replaces the backend's incorrect kernel). */
export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc,
};
