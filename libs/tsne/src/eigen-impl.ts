import type { Random } from './random.js';

/**
 * All eigenpairs of a symmetric m × m matrix by cyclic Jacobi rotations, sorted by descending eigenvalue.
 * `a` is destroyed; `vectors` (m × m, row-major) receives the eigenvectors as columns; `values` the eigenvalues.
 * Exact to rounding for the small matrices t-SNE's PCA initialisation meets (Gram matrices of ~10 points).
 */
export function jacobiEigen(a: Float64Array, m: number, vectors: Float64Array, values: Float64Array): void {
  vectors.fill(0, 0, m * m);
  for (let i = 0; i < m; i++) vectors[i * m + i] = 1;
  let scale = 0;
  for (let i = 0; i < m * m; i++) scale += a[i]! * a[i]!;
  const threshold = scale * 1e-30;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < m; p++) for (let q = p + 1; q < m; q++) off += a[p * m + q]! * a[p * m + q]!;
    if (off <= threshold) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = a[p * m + q]!;
        if (apq === 0) continue;
        const app = a[p * m + p]!;
        const aqq = a[q * m + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        a[p * m + p] = app - t * apq;
        a[q * m + q] = aqq + t * apq;
        a[p * m + q] = 0;
        a[q * m + p] = 0;
        for (let r = 0; r < m; r++) {
          if (r !== p && r !== q) {
            const arp = a[r * m + p]!;
            const arq = a[r * m + q]!;
            const np = c * arp - s * arq;
            const nq = s * arp + c * arq;
            a[r * m + p] = np;
            a[p * m + r] = np;
            a[r * m + q] = nq;
            a[q * m + r] = nq;
          }
          const vrp = vectors[r * m + p]!;
          const vrq = vectors[r * m + q]!;
          vectors[r * m + p] = c * vrp - s * vrq;
          vectors[r * m + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  for (let i = 0; i < m; i++) values[i] = a[i * m + i]!;
  sortEigenDescending(m, m, vectors, values);
}

/** Sorts eigenvalues descending (stable) and permutes the eigenvector columns (rows × m) to match. */
function sortEigenDescending(rows: number, m: number, vectors: Float64Array, values: Float64Array): void {
  for (let i = 1; i < m; i++) {
    for (let j = i; j > 0 && values[j]! > values[j - 1]!; j--) {
      const tv = values[j]!;
      values[j] = values[j - 1]!;
      values[j - 1] = tv;
      for (let r = 0; r < rows; r++) {
        const t = vectors[r * m + j]!;
        vectors[r * m + j] = vectors[r * m + j - 1]!;
        vectors[r * m + j - 1] = t;
      }
    }
  }
}

/** y ← A·x for a block of p column vectors (m × p, row-major), A symmetric positive semi-definite m × m. */
export type BlockOperator = (x: Float64Array, p: number, y: Float64Array) => void;

/**
 * The top k eigenpairs of a symmetric positive semi-definite operator by block subspace iteration with
 * Rayleigh–Ritz, for matrices too large for Jacobi (big Gram or covariance matrices, applied implicitly).
 * Converges when the top-k Ritz values change by less than `tolerance` relative to the largest.
 * @returns eigenvectors (m × k, columns) and eigenvalues (k), descending.
 */
export function topEigen(
  apply: BlockOperator,
  m: number,
  k: number,
  random: Random,
  options: { maxIterations?: number; tolerance?: number } = {}
): { vectors: Float64Array; values: Float64Array } {
  const { maxIterations = 200, tolerance = 1e-9 } = options;
  const p = Math.min(m, k + 8);
  let q: Float64Array = new Float64Array(m * p);
  for (let i = 0; i < q.length; i++) q[i] = random.normal();
  orthonormalizeColumns(q, m, p);
  let z: Float64Array = new Float64Array(m * p);
  const h = new Float64Array(p * p);
  const s = new Float64Array(p * p);
  const theta = new Float64Array(p);
  const previous = new Float64Array(k).fill(Number.NaN);
  for (let it = 0; it < maxIterations; it++) {
    apply(q, p, z);
    rayleighRitz(q, z, m, p, h, s, theta);
    // z·s rotates the power step into the Ritz basis; orthonormalised it is the next subspace.
    const next = multiplyBlock(z, s, m, p);
    orthonormalizeColumns(next, m, p);
    let converged = true;
    for (let i = 0; i < k; i++) {
      if (!(Math.abs(theta[i]! - previous[i]!) <= tolerance * Math.abs(theta[0]!))) converged = false;
      previous[i] = theta[i]!;
    }
    [q, z] = [next, q];
    if (converged) break;
  }
  apply(q, p, z);
  rayleighRitz(q, z, m, p, h, s, theta);
  const ritz = multiplyBlock(q, s, m, p);
  const vectors = new Float64Array(m * k);
  for (let r = 0; r < m; r++) for (let c = 0; c < k; c++) vectors[r * k + c] = ritz[r * p + c]!;
  return { vectors, values: theta.slice(0, k) };
}

/** h = qᵀ·z (p × p, symmetrised), then its eigenvectors into s and eigenvalues into theta, descending. */
function rayleighRitz(
  q: Float64Array,
  z: Float64Array,
  m: number,
  p: number,
  h: Float64Array,
  s: Float64Array,
  theta: Float64Array
): void {
  h.fill(0);
  for (let r = 0; r < m; r++) {
    for (let i = 0; i < p; i++) {
      const qi = q[r * p + i]!;
      for (let j = 0; j < p; j++) h[i * p + j]! += qi * z[r * p + j]!;
    }
  }
  for (let i = 0; i < p; i++) {
    for (let j = i + 1; j < p; j++) {
      const v = (h[i * p + j]! + h[j * p + i]!) / 2;
      h[i * p + j] = v;
      h[j * p + i] = v;
    }
  }
  jacobiEigen(h, p, s, theta);
}

function multiplyBlock(x: Float64Array, s: Float64Array, m: number, p: number): Float64Array {
  const out = new Float64Array(m * p);
  for (let r = 0; r < m; r++) {
    for (let i = 0; i < p; i++) {
      const xi = x[r * p + i]!;
      if (xi === 0) continue;
      for (let j = 0; j < p; j++) out[r * p + j]! += xi * s[i * p + j]!;
    }
  }
  return out;
}

/** Modified Gram–Schmidt on the p columns of an m × p row-major block (twice, for stability). */
function orthonormalizeColumns(x: Float64Array, m: number, p: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < p; j++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < m; r++) dot += x[r * p + i]! * x[r * p + j]!;
        for (let r = 0; r < m; r++) x[r * p + j]! -= dot * x[r * p + i]!;
      }
      let norm = 0;
      for (let r = 0; r < m; r++) norm += x[r * p + j]! * x[r * p + j]!;
      norm = Math.sqrt(norm);
      const inv = norm > 0 ? 1 / norm : 0;
      for (let r = 0; r < m; r++) x[r * p + j] = x[r * p + j]! * inv;
    }
  }
}
