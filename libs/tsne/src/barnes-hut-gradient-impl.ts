import type { SparseMatrix } from './joint-probabilities-impl.js';
import type { SpaceTree } from './space-tree-impl.js';

// Hot loops read module-private literals: V8 (Node 20) boxes doubles read from exported or imported bindings,
// which turns every use in a loop into a heap allocation.
/** Points this close on every axis are one leaf (`DUP` in space-tree-impl). */
const DUP = 1e-6;
/** float32's smallest normal number, scikit-learn's `FLOAT32_TINY` floor in the Barnes–Hut error. */
const FLOAT32_TINY = 1.1754943508222875e-38;

/** Scratch for `barnesHutKlGradient`: negative forces (n × dims). */
export interface BarnesHutScratch {
  tree: SpaceTree;
  negative: Float64Array;
}

/**
 * Barnes–Hut approximation of the KL gradient — scikit-learn's `_barnes_hut_tsne.gradient`. Attractive forces
 * are exact over the sparse P; repulsive forces and the normaliser Z come from the space-partitioning tree, a
 * cell being summarised by its barycentre when it is a leaf or when (its widest side)² < θ²·(distance)². A
 * query point's own leaf exerts no force; unlike scikit-learn, which skips it altogether, the duplicates merged into
 * it still count in Z (w ≈ 1 each) — otherwise all-coincident points give Z = 0 and a NaN gradient.
 *
 * grad_i = (2(α+1)/α)·[Σ_j p_ij u_ij (y_i − y_j) − (1/Z) Σ_cells size·w·u·(y_i − y_cell)], w = (1 + d/α)^(−(α+1)/2),
 * u = (1 + d/α)⁻¹ (u = w for α = 1; see `exactKlGradient` on α ≠ 1).
 *
 * @returns KL = Σ_{(i,j) ∈ P} p_ij log(max(p_ij, tiny)/max(q_ij, tiny)) with the tree's Z, when `computeError`.
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
  const sumQ =
    dims === 2 && dof === 1
      ? repulsion2d(y, n, theta * theta, tree, negative)
      : repulsion(y, n, dims, dof, theta * theta, tree, negative);
  // Every other point counts in Z, so it is positive for n ≥ 2; the guard is only defensive.
  const invZ = sumQ > 0 ? 1 / sumQ : 0;
  const { indptr, indices, values } = p;
  const c = (2 * (dof + 1)) / dof;
  const exponent = (dof + 1) / -2;
  let kl = 0;
  for (let i = 0; i < n; i++) {
    let f0 = 0;
    let f1 = 0;
    let f2 = 0;
    const o = i * dims;
    for (let a = indptr[i]!; a < indptr[i + 1]!; a++) {
      const j = indices[a]!;
      const oj = j * dims;
      const d0 = y[o]! - y[oj]!;
      const d1 = y[o + 1]! - y[oj + 1]!;
      const d2 = dims === 3 ? y[o + 2]! - y[oj + 2]! : 0;
      const dist = d0 * d0 + d1 * d1 + d2 * d2;
      const base = 1 + dist / dof;
      const u = 1 / base;
      const pij = exaggeration * values[a]!;
      const m = pij * u;
      f0 += m * d0;
      f1 += m * d1;
      f2 += m * d2;
      if (computeError) {
        const w = dof === 1 ? u : Math.pow(base, exponent);
        kl += pij * Math.log(Math.max(pij, FLOAT32_TINY) / Math.max(w * invZ, FLOAT32_TINY));
      }
    }
    grad[o] = c * (f0 - negative[o]! * invZ);
    grad[o + 1] = c * (f1 - negative[o + 1]! * invZ);
    if (dims === 3) grad[o + 2] = c * (f2 - negative[o + 2]! * invZ);
  }
  return computeError ? kl : Number.NaN;
}

/** Repulsive force sums Σ size·w²·(y_i − y_cell) per point (2-D, α = 1) into `out`; returns Z = Σ size·w. */
function repulsion2d(y: Float64Array, n: number, theta2: number, tree: SpaceTree, out: Float64Array): number {
  const { bary, width2, size, leaf, children, stack } = tree;
  let sumQ = 0;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i]!;
    const yi = y[2 * i + 1]!;
    let fx = 0;
    let fy = 0;
    let top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const cell = stack[--top]!;
      const s = size[cell]!;
      const dx = xi - bary[2 * cell]!;
      const dy = yi - bary[2 * cell + 1]!;
      const d2 = dx * dx + dy * dy;
      if (leaf[cell]) {
        if (Math.abs(dx) <= DUP && Math.abs(dy) <= DUP) {
          // The query's own leaf: its duplicates (if any) sit at distance ≈ 0, adding w ≈ 1 each to Z, no force.
          sumQ += s - 1;
          continue;
        }
      } else if (width2[cell]! >= theta2 * d2) {
        const base = cell * 4;
        for (let c = 0; c < 4; c++) {
          const child = children[base + c]!;
          if (child >= 0) stack[top++] = child;
        }
        continue;
      }
      const w = 1 / (1 + d2);
      sumQ += s * w;
      const m = s * w * w;
      fx += m * dx;
      fy += m * dy;
    }
    out[2 * i] = fx;
    out[2 * i + 1] = fy;
  }
  return sumQ;
}

/** General repulsion for 2-D or 3-D and any α: Σ size·w·u·(y_i − y_cell) and Z = Σ size·w. */
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
  const exponent = (dof + 1) / -2;
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
        const v = y[i * dims + a]! - bary[cell * dims + a]!;
        diff[a] = v;
        d2 += v * v;
        if (Math.abs(v) > DUP) duplicate = false;
      }
      if (leaf[cell]) {
        if (duplicate) {
          sumQ += size[cell]! - 1;
          continue;
        }
      } else if (width2[cell]! >= theta2 * d2) {
        for (let c = 0; c < fanout; c++) {
          const child = children[cell * fanout + c]!;
          if (child >= 0) stack[top++] = child;
        }
        continue;
      }
      const base = 1 + d2 / dof;
      const u = 1 / base;
      const w = dof === 1 ? u : Math.pow(base, exponent);
      const s = size[cell]!;
      sumQ += s * w;
      const m = s * w * u;
      f0 += m * diff[0]!;
      f1 += m * diff[1]!;
      f2 += m * diff[2]!;
    }
    out[i * dims] = f0;
    out[i * dims + 1] = f1;
    if (dims === 3) out[i * dims + 2] = f2;
  }
  return sumQ;
}
