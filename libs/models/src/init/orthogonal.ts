import type { Rng } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';

/** Rows orthonormalized per block; the Gram matrices are block × block and factorized in float64 JS. */
const BLOCK = 128;
/** A block counts as orthonormal once every entry of its Gram matrix is within this of the identity's. */
const ORTHONORMAL_TOLERANCE = 1e-5;
const MAX_PASSES = 8;

/** Inverse of the lower Cholesky factor of `s + shift·I` (float64, row-major), or null if not positive definite. */
function inverseCholesky(s: Float64Array, n: number, shift: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = s[i * n + j]! + (i === j ? shift : 0);
      for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(sum > 0)) return null;
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / l[j * n + j]!;
      }
    }
  }
  const inv = new Float64Array(n * n);
  for (let col = 0; col < n; col++) {
    for (let i = col; i < n; i++) {
      let sum = i === col ? 1 : 0;
      for (let k = col; k < i; k++) sum -= l[i * n + k]! * inv[k * n + col]!;
      inv[i * n + col] = sum / l[i * n + i]!;
    }
  }
  return inv;
}

/**
 * Orthonormalizes the rows of `p` (b × m, b ≤ m) by repeated Cholesky-QR: `p ← L⁻¹·p` with `L·Lᵀ = p·pᵀ` until
 * `p·pᵀ = I`. When float32 rounding makes the Gram matrix indefinite (an ill-conditioned square block), a small
 * diagonal shift is added for that pass. Every pass multiplies by a lower-triangular matrix with a positive
 * diagonal, so the result is the unique LQ factor of `p`: exactly what Gram–Schmidt (QR with R's diagonal > 0) gives.
 */
function orthonormalizeRows(p: tf.Tensor2D): tf.Tensor2D {
  const b = p.shape[0];
  let current = p.clone();
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const gram = tf.tidy(() => tf.matMul(current, tf.transpose(current)));
    const s = Float64Array.from(gram.dataSync());
    gram.dispose();
    let worst = 0;
    let trace = 0;
    for (let i = 0; i < b; i++) {
      trace += s[i * b + i]!;
      for (let j = 0; j < b; j++) worst = Math.max(worst, Math.abs(s[i * b + j]! - (i === j ? 1 : 0)));
    }
    if (worst < ORTHONORMAL_TOLERANCE) break;
    let shift = 0;
    let inv = inverseCholesky(s, b, shift);
    for (shift = (1e-6 * trace) / b; inv === null; shift *= 10) inv = inverseCholesky(s, b, shift);
    const next: tf.Tensor2D = tf.tidy(() => tf.matMul(tf.tensor2d(Float32Array.from(inv), [b, b]), current));
    current.dispose();
    current = next;
  }
  return current;
}

/**
 * A `rows × cols` matrix as `torch.nn.init.orthogonal_` makes it: orthonormal rows when rows ≤ cols, orthonormal
 * columns otherwise, Haar-distributed (QR of a Gaussian matrix with R's diagonal made positive), times `gain`.
 * Row-major Float32Array. The rows of a min × max Gaussian matrix are orthonormalized block by block (block
 * Gram–Schmidt with re-orthogonalization, each block by Cholesky-QR) with TF.js matrix products, so the cost
 * (≈ 4·min²·max flops) runs on the active backend: on one wasm thread 0.6 s for 640 × 4096, 21 s for 4096 × 4096
 * and 2 minutes for VGG-19's 4096 × 25 088; the pure-JS cpu backend is far slower.
 * (Products are arranged so no operand is transposed inside `matMul`: wasm's transposed-operand path is ~10× slower.)
 */
export function orthogonalMatrix(rows: number, cols: number, random: Rng, gain = 1): Float32Array {
  const n = Math.min(rows, cols);
  const m = Math.max(rows, cols);
  const gaussian = new Float32Array(n * m);
  for (let i = 0; i < gaussian.length; i++) gaussian[i] = random.normal();
  /** Orthonormal rows so far, [k, m], and their transpose [m, k]. */
  let done: tf.Tensor2D | null = null;
  let doneT: tf.Tensor2D | null = null;
  const project = (block: tf.Tensor2D): tf.Tensor2D => {
    if (!done || !doneT) return block.clone();
    const [q, qT] = [done, doneT];
    return tf.tidy(() => tf.sub(block, tf.matMul(tf.matMul(block, qT), q)));
  };
  for (let start = 0; start < n; start += BLOCK) {
    const b = Math.min(BLOCK, n - start);
    let block = tf.tensor2d(gaussian.subarray(start * m, (start + b) * m), [b, m]);
    for (let pass = 0; pass < 2; pass++) {
      const projected = project(block);
      block.dispose();
      block = orthonormalizeRows(projected);
      projected.dispose();
    }
    const grown: tf.Tensor2D = done ? tf.concat([done, block]) : block.clone();
    done?.dispose();
    doneT?.dispose();
    done = grown;
    doneT = tf.transpose(grown);
    block.dispose();
  }
  doneT?.dispose();
  const q = done as tf.Tensor2D;
  const result = tf.tidy(() => tf.mul(rows <= cols ? q : tf.transpose(q), gain));
  const values = result.dataSync() as Float32Array;
  q.dispose();
  result.dispose();
  return values;
}
