import { pairwiseSum } from './pairwise-sum-impl.js';

// Hot loops read module-private literals: V8 (Node 20) boxes doubles read from exported or imported bindings,
// which turns every use in a loop into a heap allocation.
/** numpy's float64 machine epsilon (`MACHINE_EPSILON` in joint-probabilities-impl). */
const EPS = 2.220446049250313e-16;

/**
 * Scratch for `exactKlGradient`: kernel values w_ij and, when the degrees of freedom α ≠ 1, the gradient weights
 * u_ij = (1 + d_ij/α)⁻¹ (for α = 1 they equal w_ij and `u` may be empty). Both n × n, upper triangle used; the
 * 2-D path uses the first n(n − 1)/2 values of `w` as a condensed (pdist-order) array.
 */
export interface ExactScratch {
  w: Float64Array;
  u: Float64Array;
}

/**
 * KL(P‖Q) and its gradient for the exact method — scikit-learn's `_kl_divergence`. Q is the Student-t kernel
 * w_ij = (1 + ‖y_i − y_j‖²/α)^(−(α+1)/2) normalised over all pairs i ≠ j; P (n × n, symmetric, zero diagonal) is
 * multiplied by `exaggeration`. As scikit-learn, the KL and the 2-D gradient floor q at ε (the general path's gradient
 * does not; the floor only acts once w/Z < 2.2e-16, i.e. never for embeddings of sensible extent).
 *
 * grad_i = (2(α+1)/α) Σ_j (p_ij − q_ij)·(1 + d_ij/α)⁻¹·(y_i − y_j) — for α = 1 that is 4 Σ (p − q) w (y_i − y_j),
 * scikit-learn's formula. (For α ≠ 1 scikit-learn weights by w instead of (1 + d/α)⁻¹, which is not the
 * derivative of its own objective; we use the true gradient.)
 *
 * With exaggeration e the gradient is scikit-learn's (e·p − q) form — the gradient of −e·Σ p log w + log Z, not
 * of KL(eP‖Q) — while the error reported is KL(eP‖Q), as scikit-learn's.
 *
 * @returns KL = Σ_{i≠j} p_ij log(max(p_ij, ε)/q_ij) when `computeError`, else NaN.
 */
export function exactKlGradient(
  y: Float64Array,
  p: Float64Array,
  n: number,
  dims: number,
  dof: number,
  exaggeration: number,
  grad: Float64Array,
  scratch: ExactScratch,
  computeError: boolean
): number {
  const { w, u } = scratch;
  grad.fill(0, 0, n * dims);
  if (dims === 2 && dof === 1) return exactKlGradient2d(y, p, n, exaggeration, grad, w, computeError);

  const exponent = (dof + 1) / -2;
  let z = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let d = 0;
      for (let a = 0; a < dims; a++) {
        const diff = y[i * dims + a]! - y[j * dims + a]!;
        d += diff * diff;
      }
      const base = 1 + d / dof;
      const wij = dof === 1 ? 1 / base : Math.pow(base, exponent);
      w[i * n + j] = wij;
      if (dof !== 1) u[i * n + j] = 1 / base;
      z += 2 * wij;
    }
  }
  const invZ = 1 / z;
  const c = (2 * (dof + 1)) / dof;
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const wij = w[i * n + j]!;
      const pij = exaggeration * p[i * n + j]!;
      const m = c * (pij - wij * invZ) * (dof === 1 ? wij : u[i * n + j]!);
      for (let a = 0; a < dims; a++) {
        const f = m * (y[i * dims + a]! - y[j * dims + a]!);
        grad[i * dims + a]! += f;
        grad[j * dims + a]! -= f;
      }
      if (computeError) kl += pij * Math.log(Math.max(pij, EPS) / Math.max(wij * invZ, EPS));
    }
  }
  return computeError ? 2 * kl : Number.NaN;
}

/**
 * The hot path (2-D, α = 1), in scikit-learn's `_kl_divergence` order of operations so that, once the descent
 * rounds the result to float32, it is scikit-learn's gradient bit for bit: condensed kernel w = 1/((Δx² + Δy²) + 1)
 * (pdist order, i < j), Z/2 = numpy's pairwise sum of w, q = max(w / Z, ε), m = (p − q)·w, and grad_i =
 * 4 Σ_j m_ij·float32(y_i − y_j) summed over j in order. `cond` (≥ n(n − 1)/2 values) holds w, then m.
 */
function exactKlGradient2d(
  y: Float64Array,
  p: Float64Array,
  n: number,
  exaggeration: number,
  grad: Float64Array,
  cond: Float64Array,
  computeError: boolean
): number {
  let a = 0;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i]!;
    const yi = y[2 * i + 1]!;
    for (let j = i + 1; j < n; j++) {
      const dx = xi - y[2 * j]!;
      const dy = yi - y[2 * j + 1]!;
      cond[a++] = 1 / (dx * dx + dy * dy + 1);
    }
  }
  const z = 2 * pairwiseSum(cond, 0, a);
  let kl = 0;
  a = 0;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let j = i + 1; j < n; j++) {
      const w = cond[a]!;
      let q = w / z;
      if (q < EPS) q = EPS;
      const pij = exaggeration * p[row + j]!;
      if (computeError) kl += pij * Math.log((pij > EPS ? pij : EPS) / q);
      cond[a++] = (pij - q) * w;
    }
  }
  for (let i = 0; i < n; i++) {
    const xi = Math.fround(y[2 * i]!);
    const yi = Math.fround(y[2 * i + 1]!);
    let gx = 0;
    let gy = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      // Condensed index of the pair (min, max).
      const lo = j < i ? j : i;
      const hi = j < i ? i : j;
      const m = cond[lo * n - ((lo * (lo + 1)) >> 1) + hi - lo - 1]!;
      gx += m * Math.fround(xi - y[2 * j]!);
      gy += m * Math.fround(yi - y[2 * j + 1]!);
    }
    grad[2 * i] = 4 * Math.fround(gx);
    grad[2 * i + 1] = 4 * Math.fround(gy);
  }
  return computeError ? 2 * kl : Number.NaN;
}
