import { slice, type Tensor4D } from '@tensorflow/tfjs-core';

/** Padding before and after one spatial axis; a negative value means that many rows are dropped instead. */
export interface AxisPads {
  before: number;
  after: number;
}

/**
 * The padding of the input `x` that makes a correlation with a `stride`-dilated `outSize`-tap filter (the output
 * gradient) produce exactly `filterSize` outputs: the filter gradient's geometry along one axis.
 */
export function filterGradAxisPads(
  inSize: number,
  outSize: number,
  filterSize: number,
  stride: number,
  padStart: number
): AxisPads {
  return { before: padStart, after: (outSize - 1) * stride + filterSize - inSize - padStart };
}

/**
 * One phase of a strided convolution's input gradient along one axis: the input rows `q·stride + phase` receive
 * the output gradient through the filter taps `firstTap, firstTap + stride, …` only, so each phase is a stride-1
 * correlation of the (padded or cropped) output gradient with those taps, flipped.
 */
export interface AxisPhase {
  /** First filter tap that reaches this phase. */
  firstTap: number;
  /** Number of taps that reach it (0: the phase gets no gradient). */
  taps: number;
  /** Padding of the output gradient for this phase's stride-1 correlation (negative: rows dropped). */
  pads: AxisPads;
}

export interface InputGradAxisPlan {
  /** Rows each phase produces: `ceil(inSize / stride)`; rows past `inSize` are cropped after interleaving. */
  rowsPerPhase: number;
  /** One entry per phase `0 … stride − 1`. */
  phases: AxisPhase[];
}

/** Splits one axis of a strided convolution's input gradient into `stride` stride-1 correlations. */
export function planInputGradAxis(
  inSize: number,
  outSize: number,
  filterSize: number,
  stride: number,
  padStart: number
): InputGradAxisPlan {
  const rowsPerPhase = Math.ceil(inSize / stride);
  const phases: AxisPhase[] = [];
  for (let phase = 0; phase < stride; phase++) {
    const firstTap = (phase + padStart) % stride;
    const taps = firstTap < filterSize ? Math.ceil((filterSize - firstTap) / stride) : 0;
    // Row q of this phase reads dy rows q + offset − t for taps t = 0 … taps−1.
    const offset = (phase + padStart - firstTap) / stride;
    const before = taps - 1 - offset;
    const after = rowsPerPhase + taps - 1 - outSize - before;
    phases.push({ firstTap, taps, pads: { before, after } });
  }
  return { rowsPerPhase, phases };
}

export type ExplicitPad4D = [[number, number], [number, number], [number, number], [number, number]];

/**
 * Drops the rows and columns that `rows`/`cols` ask to remove (negative pads) from an NHWC tensor and returns the
 * non-negative explicit padding that remains, ready for a convolution's `pad` argument; `null` when nothing is
 * left (the windows lie wholly in the padding, so the result is zero).
 */
export function cropForPads(
  t: Tensor4D,
  rows: AxisPads,
  cols: AxisPads
): { tensor: Tensor4D; pad: ExplicitPad4D } | null {
  const [n, h, w, c] = t.shape;
  const top = Math.max(-rows.before, 0);
  const bottom = Math.max(-rows.after, 0);
  const left = Math.max(-cols.before, 0);
  const right = Math.max(-cols.after, 0);
  if (h - top - bottom <= 0 || w - left - right <= 0) return null;
  const tensor =
    top + bottom + left + right === 0 ? t : slice(t, [0, top, left, 0], [n, h - top - bottom, w - left - right, c]);
  return {
    tensor,
    pad: [
      [0, 0],
      [Math.max(rows.before, 0), Math.max(rows.after, 0)],
      [Math.max(cols.before, 0), Math.max(cols.after, 0)],
      [0, 0],
    ],
  };
}
