import { reshape, reverse, slice, stack, stridedSlice, zeros, type Rank, type Tensor4D } from '@tensorflow/tfjs-core';
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
 * `filter[firstTapH::sh, firstTapW::sw]` flipped in both spatial axes; returns `[N, rowsPerPhase, colsPerPhase, C]`.
 */
export type PhaseCorrelation = (dy: Tensor4D, pad: ExplicitPad4D, taps: (filter: Tensor4D) => Tensor4D) => Tensor4D;

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
      const taps = (filter: Tensor4D): Tensor4D => {
        const [fh, fw, c, m] = filter.shape;
        const sub =
          g.strideHeight === 1 && g.strideWidth === 1
            ? filter
            : (stridedSlice(
                filter,
                [rowPhase.firstTap, colPhase.firstTap, 0, 0],
                [fh, fw, c, m],
                [g.strideHeight, g.strideWidth, 1, 1]
              ) as Tensor4D);
        return reverse(sub, [0, 1]);
      };
      phases.push(correlate(cropped.tensor, cropped.pad, taps));
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
