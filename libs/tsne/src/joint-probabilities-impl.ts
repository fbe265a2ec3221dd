import { pairwiseSum } from './pairwise-sum-impl.js';

/** numpy's float64 machine epsilon, scikit-learn's `MACHINE_EPSILON`. */
export const MACHINE_EPSILON = 2.220446049250313e-16;
// Hot loops read module-private literals: V8 (Node 20) boxes doubles read from exported or imported bindings,
// which turns every use in a loop into a heap allocation.
const EPS = 2.220446049250313e-16;

/**
 * Dense joint probabilities from conditional ones (both n × n, row-major): P = (C + Cᵀ) / Σ(C + Cᵀ), then
 * max(P, ε) off the diagonal and 0 on it — scikit-learn's `_joint_probabilities`, with its rounding (the sum is
 * numpy's pairwise sum over the n × n matrix, each entry divided by it). P is symmetric and sums to 1 (up to the
 * ε floor). `out` doubles as scratch for C + Cᵀ.
 */
export function symmetrizeDense(conditional: Float64Array, n: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) out[i * n + j] = conditional[i * n + j]! + conditional[j * n + i]!;
  }
  const sum = Math.max(pairwiseSum(out, 0, n * n), EPS);
  for (let i = 0; i < n; i++) {
    out[i * n + i] = 0;
    for (let j = i + 1; j < n; j++) {
      const p = Math.max(out[i * n + j]! / sum, EPS);
      out[i * n + j] = p;
      out[j * n + i] = p;
    }
  }
}

/** A square sparse matrix in compressed-row form; column indices ascend within each row. */
export interface SparseMatrix {
  readonly n: number;
  /** Row i's entries are indptr[i] … indptr[i + 1] − 1. */
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float64Array;
}

/**
 * Sparse joint probabilities from conditional ones over each point's k nearest neighbours (row i of
 * `neighbors` / `conditional` holds i's k neighbours and p_{j|i}): P = (C + Cᵀ) / Σ(C + Cᵀ) on the union of the
 * two patterns — scikit-learn's `_joint_probabilities_nn` (which applies no ε floor), with its rounding.
 */
export function symmetrizeSparse(conditional: Float64Array, neighbors: Int32Array, n: number, k: number): SparseMatrix {
  // Row i of C + Cᵀ has its own k entries plus one for every j that lists i.
  const counts = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    counts[i + 1]! += k;
    for (let t = 0; t < k; t++) counts[neighbors[i * k + t]! + 1]! += 1;
  }
  for (let i = 0; i < n; i++) counts[i + 1]! += counts[i]!;
  const rawCols = new Int32Array(counts[n]!);
  const rawVals = new Float64Array(counts[n]!);
  const fill = counts.slice(0, n);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = neighbors[i * k + t]!;
      const p = conditional[i * k + t]!;
      const a = fill[i]!++;
      rawCols[a] = j;
      rawVals[a] = p;
      const b = fill[j]!++;
      rawCols[b] = i;
      rawVals[b] = p;
    }
  }
  // Merge duplicates row by row (accumulate in a dense scratch row), columns ascending.
  const indptr = new Int32Array(n + 1);
  const acc = new Float64Array(n);
  const seen = new Uint8Array(n);
  let nnz = 0;
  const mergedCols = new Int32Array(counts[n]!);
  const mergedVals = new Float64Array(counts[n]!);
  const rowSums = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const start = nnz;
    let rowSum = 0;
    for (let a = counts[i]!; a < counts[i + 1]!; a++) {
      const j = rawCols[a]!;
      if (!seen[j]) {
        seen[j] = 1;
        mergedCols[nnz++] = j;
      }
      acc[j]! += rawVals[a]!;
    }
    mergedCols.subarray(start, nnz).sort();
    for (let a = start; a < nnz; a++) {
      const j = mergedCols[a]!;
      mergedVals[a] = acc[j]!;
      rowSum += acc[j]!;
      acc[j] = 0;
      seen[j] = 0;
    }
    rowSums[i] = rowSum;
    indptr[i + 1] = nnz;
  }
  // scipy's P.sum(): row sums in order, then numpy's pairwise sum of the row sums; each entry divided by it.
  const sum = Math.max(pairwiseSum(rowSums, 0, n), EPS);
  const values = mergedVals.slice(0, nnz);
  for (let a = 0; a < nnz; a++) values[a] = values[a]! / sum;
  return { n, indptr, indices: mergedCols.slice(0, nnz), values };
}
