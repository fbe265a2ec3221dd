import { centerGram, gramMatrix, type Matrix } from './distances-impl.js';
import { jacobiEigen, topEigen } from './eigen-impl.js';
import type { Random } from './random.js';

/** Largest eigenproblem solved by full Jacobi; above it the top components come from subspace iteration. */
export const JACOBI_MAX_ORDER = 256;

/** Standard deviation of column 0 of the PCA initialisation, as scikit-learn (and of the random one). */
export const INIT_STD = 1e-4;

/** Scratch for the Gram route: n × n eigenvectors and n eigenvalues. */
export interface GramPcaScratch {
  vectors: Float64Array;
  values: Float64Array;
}

/**
 * PCA scores (rows × dims) from the centred Gram matrix Xc·Xcᵀ (n × n, destroyed): score_ik = u_ik·√λ_k. This
 * is the fast route for few points in many dimensions (10 × 4096: a 10 × 10 eigenproblem instead of 4096 × 4096).
 */
export function pcaScoresFromCenteredGram(
  gram: Float64Array,
  n: number,
  dims: number,
  out: Float64Array,
  scratch: GramPcaScratch,
  random: Random,
  jacobiMaxOrder = JACOBI_MAX_ORDER
): void {
  if (n <= jacobiMaxOrder) {
    const { vectors, values } = scratch;
    jacobiEigen(gram, n, vectors, values);
    for (let c = 0; c < dims; c++) {
      const s = Math.sqrt(Math.max(values[c] ?? 0, 0));
      for (let i = 0; i < n; i++) out[i * dims + c] = c < n ? vectors[i * n + c]! * s : 0;
    }
    return;
  }
  const top = topEigen(
    (x, p, y) => {
      y.fill(0);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const g = gram[i * n + j]!;
          for (let c = 0; c < p; c++) y[i * p + c]! += g * x[j * p + c]!;
        }
      }
    },
    n,
    dims,
    random
  );
  for (let c = 0; c < dims; c++) {
    const s = Math.sqrt(Math.max(top.values[c]!, 0));
    for (let i = 0; i < n; i++) out[i * dims + c] = top.vectors[i * dims + c]! * s;
  }
}

/**
 * PCA scores (rows × dims) straight from row-major data: through the Gram matrix when rows ≤ cols, else through
 * the cols × cols covariance (explicit and Jacobi up to `jacobiMaxOrder` columns, applied implicitly with
 * subspace iteration above — 70 000 × 784 inputs never form a 784 × 784 product over all rows).
 */
export function pcaScoresFromData(
  data: Matrix,
  rows: number,
  cols: number,
  dims: number,
  out: Float64Array,
  random: Random,
  jacobiMaxOrder = JACOBI_MAX_ORDER
): void {
  if (rows <= cols) {
    const gram = new Float64Array(rows * rows);
    gramMatrix(data, rows, cols, gram, new Float64Array(16));
    centerGram(gram, rows, new Float64Array(rows));
    const scratch = { vectors: new Float64Array(rows * rows), values: new Float64Array(rows) };
    pcaScoresFromCenteredGram(gram, rows, dims, out, scratch, random, jacobiMaxOrder);
    return;
  }
  const mean = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c]! += data[r * cols + c]!;
  for (let c = 0; c < cols; c++) mean[c] = mean[c]! / rows;
  let components: Float64Array; // cols × dims
  if (cols <= jacobiMaxOrder) {
    const cov = new Float64Array(cols * cols);
    const centered = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) centered[c] = data[r * cols + c]! - mean[c]!;
      for (let a = 0; a < cols; a++) {
        const va = centered[a]!;
        if (va === 0) continue;
        for (let b = a; b < cols; b++) cov[a * cols + b]! += va * centered[b]!;
      }
    }
    for (let a = 0; a < cols; a++) for (let b = 0; b < a; b++) cov[a * cols + b] = cov[b * cols + a]!;
    const vectors = new Float64Array(cols * cols);
    jacobiEigen(cov, cols, vectors, new Float64Array(cols));
    components = new Float64Array(cols * dims);
    for (let r = 0; r < cols; r++) for (let c = 0; c < dims; c++) components[r * dims + c] = vectors[r * cols + c]!;
  } else {
    const t = new Float64Array(rows * (dims + 8));
    components = topEigen(
      (x, p, y) => {
        // y = Xcᵀ·(Xc·x) with Xc = X − 1μᵀ, never materialised.
        for (let c = 0; c < p; c++) {
          let mu = 0;
          for (let k = 0; k < cols; k++) mu += mean[k]! * x[k * p + c]!;
          for (let r = 0; r < rows; r++) {
            let s = 0;
            for (let k = 0; k < cols; k++) s += data[r * cols + k]! * x[k * p + c]!;
            t[r * p + c] = s - mu;
          }
        }
        y.fill(0);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < p; c++) {
            const tr = t[r * p + c]!;
            for (let k = 0; k < cols; k++) y[k * p + c]! += (data[r * cols + k]! - mean[k]!) * tr;
          }
        }
      },
      cols,
      dims,
      random,
      { maxIterations: 100, tolerance: 1e-7 }
    ).vectors;
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dims; c++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += (data[r * cols + k]! - mean[k]!) * components[k * dims + c]!;
      out[r * dims + c] = s;
    }
  }
}

/**
 * Turns PCA scores into scikit-learn's initialisation: each column's sign fixed so that its largest-magnitude
 * entry is positive (`svd_flip`'s u-based rule), then all columns divided by the standard deviation of column 0
 * and multiplied by 1e-4. All-identical rows (zero spread) leave zeros.
 */
export function finishPcaInit(y: Float64Array, rows: number, dims: number): void {
  for (let c = 0; c < dims; c++) {
    let best = 0;
    for (let i = 0; i < rows; i++) {
      const v = y[i * dims + c]!;
      if (Math.abs(v) > Math.abs(best)) best = v;
    }
    if (best < 0) for (let i = 0; i < rows; i++) y[i * dims + c] = -y[i * dims + c]!;
  }
  let mean = 0;
  for (let i = 0; i < rows; i++) mean += y[i * dims]!;
  mean /= rows;
  let variance = 0;
  for (let i = 0; i < rows; i++) variance += (y[i * dims]! - mean) ** 2;
  const std = Math.sqrt(variance / rows);
  const scale = std > 0 ? INIT_STD / std : 0;
  for (let i = 0; i < rows * dims; i++) y[i] = y[i]! * scale;
}
