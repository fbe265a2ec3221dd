import {
  backend,
  concat,
  engine,
  getBackend,
  reshape,
  slice,
  stack,
  transpose,
  zeros,
  type Rank,
  type Tensor,
  type Tensor4D,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { cropForPads, planInputGradAxis, type ExplicitPad4D } from './conv-geometry.js';

/** The geometry of a stride-(sh, sw) convolution whose input gradient is wanted. */
export interface InputGradGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
  /** Channels of the input gradient. */
  inChannels: number;
}

/**
 * One stride-1 correlation: `dy` (cropped, with the explicit `pad` still to apply) against the taps
 * `filter[firstTapH::sh, firstTapW::sw]` flipped in both spatial axes (`taps`; `swappedTaps` also swaps the last two
 * axes, as a dense convolution's input gradient needs); returns `[N, rowsPerPhase, colsPerPhase, C]`.
 */
export type PhaseCorrelation = (
  dy: Tensor4D,
  pad: ExplicitPad4D,
  taps: (filter: Tensor4D) => Tensor4D,
  swappedTaps: (filter: Tensor4D) => Tensor4D
) => Tensor4D;

/**
 * The input gradient of a strided convolution (dense or depthwise) as `sh × sw` stride-1 correlations of the output
 * gradient with the flipped sub-filters that reach each phase, interleaved back into `[N, H, W, C]`. With stride 1
 * this is a single correlation with the flipped filter and no interleaving. Every correlation is a forward wasm
 * (XNNPACK) convolution, so the whole gradient costs about one forward convolution plus one transpose.
 */
export function inputGradByPhases(dy: Tensor4D, g: InputGradGeometry, correlate: PhaseCorrelation): Tensor4D {
  const rows = planInputGradAxis(g.inHeight, g.outHeight, g.filterHeight, g.strideHeight, g.padTop);
  const cols = planInputGradAxis(g.inWidth, g.outWidth, g.filterWidth, g.strideWidth, g.padLeft);
  const phaseShape: [number, number, number, number] = [g.batch, rows.rowsPerPhase, cols.rowsPerPhase, g.inChannels];
  const phases: Tensor4D[] = [];
  for (const rowPhase of rows.phases) {
    for (const colPhase of cols.phases) {
      const cropped = rowPhase.taps && colPhase.taps ? cropForPads(dy, rowPhase.pads, colPhase.pads) : null;
      if (cropped === null) {
        phases.push(zeros(phaseShape));
        continue;
      }
      const taps = (filter: Tensor4D): Tensor4D =>
        flippedTaps(filter, rowPhase.firstTap, g.strideHeight, colPhase.firstTap, g.strideWidth);
      const swappedTaps = (filter: Tensor4D): Tensor4D =>
        flippedSwappedTaps(filter, rowPhase.firstTap, g.strideHeight, colPhase.firstTap, g.strideWidth);
      phases.push(correlate(cropped.tensor, cropped.pad, taps, swappedTaps));
    }
  }
  return interleavePhases(phases, g);
}

/**
 * `phases[r·sw + c]` holds the input rows `q·sh + r` and columns `p·sw + c`; weaves them into `[N, H, W, C]` with
 * stacks (concatenations), which the wasm backend copies fast — a rank-6 transpose there is ≈ 20× slower.
 */
export function interleavePhases(
  phases: readonly Tensor4D[],
  g: Pick<InputGradGeometry, 'strideHeight' | 'strideWidth' | 'inHeight' | 'inWidth'>
): Tensor4D {
  const first = phases[0] as Tensor4D;
  if (phases.length === 1) return first;
  const [n, qh, qw, c] = first.shape;
  const { strideHeight: sh, strideWidth: sw } = g;
  const rows: Tensor4D[] = [];
  for (let r = 0; r < sh; r++) {
    const row = phases.slice(r * sw, (r + 1) * sw);
    rows.push(sw === 1 ? (row[0] as Tensor4D) : reshape<Rank.R4>(stack(row, 3), [n, qh, qw * sw, c]));
  }
  const woven = sh === 1 ? (rows[0] as Tensor4D) : reshape<Rank.R4>(stack(rows, 2), [n, qh * sh, qw * sw, c]);
  if (qh * sh === g.inHeight && qw * sw === g.inWidth) return woven;
  return slice(woven, [0, 0, 0, 0], [n, g.inHeight, g.inWidth, c]);
}

/**
 * `reverse(filter[firstH::sh, firstW::sw], [0, 1])`: the taps of one stride phase, flipped in both spatial axes.
 * Built from one heap copy per tap (`slice` of a `[kh·kw, C·M]` view, concatenated in reversed order): the wasm
 * backend's `StridedSlice` and `Reverse` are generic per-element loops — on ResNet-50 they took ≈ 1.6 s of a 6.6 s
 * step (a 3×3×512×512 filter: 80 ms to reverse, 140 ms to stride-slice) for what are a few large `memcpy`s.
 */
export function flippedTaps(filter: Tensor4D, firstH: number, sh: number, firstW: number, sw: number): Tensor4D {
  const [fh, fw, c, m] = filter.shape;
  const rows: number[] = [];
  const cols: number[] = [];
  for (let a = firstH; a < fh; a += sh) rows.push(a);
  for (let b = firstW; b < fw; b += sw) cols.push(b);
  if (rows.length === 1 && cols.length === 1 && fh === 1 && fw === 1) return filter;
  const flat = reshape(filter, [fh * fw, c * m]);
  const parts: Tensor[] = [];
  for (let i = rows.length - 1; i >= 0; i--) {
    for (let j = cols.length - 1; j >= 0; j--) {
      parts.push(slice(flat, [(rows[i] as number) * fw + (cols[j] as number), 0], [1, c * m]));
    }
  }
  return reshape(parts.length === 1 ? (parts[0] as Tensor) : concat(parts, 0), [rows.length, cols.length, c, m]);
}

/** What `flippedSwappedTaps` needs from tfjs-backend-wasm's `BackendWasm`. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/** Square tiles of the in-heap transpose: two 32 × 32 float tiles stay in L1. */
const TILE = 32;

/**
 * `transpose(flippedTaps(filter, …), [0, 1, 3, 2])`: the flipped taps of one stride phase with the in/out channels
 * swapped — the filter of a dense convolution's input gradient. On wasm it is written in ONE pass straight into the
 * heap, tap by tap a tiled `[C, M] → [M, C]` transpose: the op-built version copies every tap (slices + concat) and
 * then runs the backend's `Transpose`, a generic per-element loop (≈ 7 ns per element; ResNet-50 spent ≈ 0.17 s of
 * a step there).
 */
export function flippedSwappedTaps(filter: Tensor4D, firstH: number, sh: number, firstW: number, sw: number): Tensor4D {
  const [fh, fw, c, m] = filter.shape;
  if (getBackend() !== 'wasm' || filter.dtype !== 'float32') {
    return transpose(flippedTaps(filter, firstH, sh, firstW, sw), [0, 1, 3, 2]);
  }
  const rows: number[] = [];
  const cols: number[] = [];
  for (let a = firstH; a < fh; a += sh) rows.push(a);
  for (let b = firstW; b < fw; b += sw) cols.push(b);
  const wasm = backend() as unknown as WasmHeapBackend;
  const out = wasm.makeOutput([rows.length, cols.length, m, c], 'float32');
  // Views after makeOutput: growing the heap detaches older ones.
  const src = wasm.typedArrayFromHeap(filter);
  const dst = wasm.typedArrayFromHeap(out);
  for (let ti = 0; ti < rows.length; ti++) {
    for (let tj = 0; tj < cols.length; tj++) {
      // Output tap (ti, tj) is input tap (rows[last − ti], cols[last − tj]).
      const a = rows[rows.length - 1 - ti] as number;
      const b = cols[cols.length - 1 - tj] as number;
      const from = (a * fw + b) * c * m;
      const to = (ti * cols.length + tj) * m * c;
      for (let i0 = 0; i0 < c; i0 += TILE) {
        const i1 = Math.min(c, i0 + TILE);
        for (let j0 = 0; j0 < m; j0 += TILE) {
          const j1 = Math.min(m, j0 + TILE);
          for (let i = i0; i < i1; i++) {
            const s = from + i * m;
            for (let j = j0; j < j1; j++) dst[to + j * c + i] = src[s + j] as number;
          }
        }
      }
    }
  }
  return engine().makeTensorFromTensorInfo(out) as Tensor4D;
}
