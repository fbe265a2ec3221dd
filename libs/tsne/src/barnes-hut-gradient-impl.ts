import type { SparseMatrix } from './joint-probabilities-impl.js';
import type { SpaceTree } from './space-tree-impl.js';

// Hot loops read module-private literals: V8 (Node 20) boxes doubles read from exported or imported bindings,
// which turns every use in a loop into a heap allocation.
const f32 = Math.fround;
/** Points this close on every axis are one leaf (`DUP` in space-tree-impl; a C float in scikit-learn). */
const DUP = Math.fround(1e-6);
/** float32's smallest normal number, scikit-learn's `FLOAT32_TINY` floor in the Barnes–Hut error. */
const FLOAT32_TINY = 1.1754943508222875e-38;
/** scikit-learn's floor on Z (`FLOAT64_EPS`). */
const EPS = 2.220446049250313e-16;

/** Scratch for `barnesHutKlGradient`: negative forces (n × dims). */
export interface BarnesHutScratch {
  tree: SpaceTree;
  negative: Float64Array;
}

/**
 * Barnes–Hut approximation of the KL gradient — scikit-learn's `_barnes_hut_tsne.gradient`, in its arithmetic
 * (float32 positions, forces and P, double Z; one thread's summation order). Attractive forces are exact over the
 * sparse P; repulsive forces and the normaliser Z come from the space-partitioning tree, walked depth first in
 * child order, a cell being summarised by its barycentre when it is a leaf or when (its widest side)² / distance² <
 * θ². A query point's own leaf exerts no force; unlike scikit-learn, which skips it altogether, the duplicates
 * merged into it still count in Z (w ≈ 1 each) — otherwise all-coincident points give Z = 0.
 *
 * grad_i = (2(α+1)/α)·[Σ_j p_ij u_ij (y_i − y_j) − (1/Z) Σ_cells size·w·u·(y_i − y_cell)], w = (1 + d/α)^(−(α+1)/2),
 * u = (1 + d/α)⁻¹ (u = w for α = 1; see `exactKlGradient` on α ≠ 1).
 *
 * @returns KL = Σ_{(i,j) ∈ P} p_ij log(max(p_ij, tiny)/max(q_ij, tiny)) with the tree's Z, accumulated in float32
 *   as scikit-learn does, when `computeError`; NaN otherwise.
 */
export function barnesHutKlGradient(
  y: Float64Array,
  p: SparseMatrix,
  dims: 2 | 3,
  dof: number,
  theta: number,
  exaggeration: number,
  grad: Float64Array,
  scratch: BarnesHutScratch,
  computeError: boolean
): number {
  const n = p.n;
  const { tree, negative } = scratch;
  tree.build(y, n);
  const theta2 = f32(f32(theta) * f32(theta));
  const sumQ =
    dims === 2 && dof === 1
      ? repulsion2d(y, n, theta2, tree, negative)
      : repulsion(y, n, dims, dof, theta2, tree, negative);
  const z = Math.max(sumQ, EPS);
  const { indptr, indices, values } = p;
  const c = (2 * (dof + 1)) / dof;
  const fdof = f32(dof);
  const exponent = f32((dof + 1) / 2);
  let kl = 0;
  for (let i = 0; i < n; i++) {
    let f0 = 0;
    let f1 = 0;
    let f2 = 0;
    const o = i * dims;
    const yi0 = f32(y[o]!);
    const yi1 = f32(y[o + 1]!);
    const yi2 = dims === 3 ? f32(y[o + 2]!) : 0;
    for (let a = indptr[i]!; a < indptr[i + 1]!; a++) {
      const oj = indices[a]! * dims;
      const b0 = f32(yi0 - f32(y[oj]!));
      const b1 = f32(yi1 - f32(y[oj + 1]!));
      const b2 = dims === 3 ? f32(yi2 - f32(y[oj + 2]!)) : 0;
      let dist = f32(f32(b0 * b0) + f32(b1 * b1));
      if (dims === 3) dist = f32(dist + f32(b2 * b2));
      let q = f32(fdof / f32(fdof + dist));
      // The attraction's weight is (1 + d/α)⁻¹, the true derivative (scikit-learn uses q here, equal for α = 1).
      const u = q;
      if (dof !== 1) q = f32(Math.pow(q, exponent));
      const pij = f32(exaggeration * values[a]!);
      const m = f32(pij * u);
      f0 = f32(f0 + f32(m * b0));
      f1 = f32(f1 + f32(m * b1));
      if (dims === 3) f2 = f32(f2 + f32(m * b2));
      if (computeError) {
        const qz = f32(q / z);
        kl = f32(kl + pij * Math.log(f32(Math.max(pij, FLOAT32_TINY) / Math.max(qz, FLOAT32_TINY))));
      }
    }
    grad[o] = c * f32(f0 - negative[o]! / z);
    grad[o + 1] = c * f32(f1 - negative[o + 1]! / z);
    if (dims === 3) grad[o + 2] = c * f32(f2 - negative[o + 2]! / z);
  }
  return computeError ? kl : Number.NaN;
}

/**
 * Repulsive force sums Σ size·w²·(y_i − y_cell) per point (2-D, α = 1) into `out`, in float32 per point; returns
 * Z = Σ size·w accumulated in double over all points, as scikit-learn's `compute_gradient_negative`.
 */
function repulsion2d(y: Float64Array, n: number, theta2: number, tree: SpaceTree, out: Float64Array): number {
  const { bary, width2, size, leaf, children, stack } = tree;
  let sumQ = 0;
  for (let i = 0; i < n; i++) {
    const xi = f32(y[2 * i]!);
    const yi = f32(y[2 * i + 1]!);
    let fx = 0;
    let fy = 0;
    let top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const cell = stack[--top]!;
      const s = size[cell]!;
      const dx = f32(xi - bary[2 * cell]!);
      const dy = f32(yi - bary[2 * cell + 1]!);
      const d2 = f32(f32(dx * dx) + f32(dy * dy));
      if (leaf[cell]) {
        if (Math.abs(dx) <= DUP && Math.abs(dy) <= DUP) {
          // The query's own leaf: its duplicates (if any) sit at distance ≈ 0, adding w ≈ 1 each to Z, no force.
          sumQ += s - 1;
          continue;
        }
      } else if (!(f32(width2[cell]! / d2) < theta2)) {
        // Depth first in child order (pushed in reverse), as scikit-learn's recursive `summarize`.
        const base = cell * 4;
        for (let c = 3; c >= 0; c--) {
          const child = children[base + c]!;
          if (child >= 0) stack[top++] = child;
        }
        continue;
      }
      const w = f32(1 / f32(1 + d2));
      sumQ += s * w;
      const m = f32(s * w * w);
      fx = f32(fx + f32(m * dx));
      fy = f32(fy + f32(m * dy));
    }
    out[2 * i] = fx;
    out[2 * i + 1] = fy;
  }
  return sumQ;
}

/** General repulsion for 2-D or 3-D and any α: Σ size·w·u·(y_i − y_cell) and Z = Σ size·w, same arithmetic. */
function repulsion(
  y: Float64Array,
  n: number,
  dims: number,
  dof: number,
  theta2: number,
  tree: SpaceTree,
  out: Float64Array
): number {
  const { bary, width2, size, leaf, children, stack, fanout } = tree;
  const fdof = f32(dof);
  const exponent = f32((dof + 1) / 2);
  const diff = [0, 0, 0];
  let sumQ = 0;
  for (let i = 0; i < n; i++) {
    let f0 = 0;
    let f1 = 0;
    let f2 = 0;
    let top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const cell = stack[--top]!;
      let d2 = 0;
      let duplicate = true;
      for (let a = 0; a < dims; a++) {
        const v = f32(f32(y[i * dims + a]!) - bary[cell * dims + a]!);
        diff[a] = v;
        d2 = f32(d2 + f32(v * v));
        if (Math.abs(v) > DUP) duplicate = false;
      }
      if (leaf[cell]) {
        if (duplicate) {
          sumQ += size[cell]! - 1;
          continue;
        }
      } else if (!(f32(width2[cell]! / d2) < theta2)) {
        for (let c = fanout - 1; c >= 0; c--) {
          const child = children[cell * fanout + c]!;
          if (child >= 0) stack[top++] = child;
        }
        continue;
      }
      const u = f32(fdof / f32(fdof + d2));
      const w = dof === 1 ? u : Math.pow(u, exponent);
      const s = size[cell]!;
      sumQ += s * w;
      const m = f32(s * w * u);
      f0 = f32(f0 + f32(m * diff[0]!));
      f1 = f32(f1 + f32(m * diff[1]!));
      f2 = f32(f2 + f32(m * diff[2]!));
    }
    out[i * dims] = f0;
    out[i * dims + 1] = f1;
    if (dims === 3) out[i * dims + 2] = f2;
  }
  return sumQ;
}
