// Hot loops read module-private literals: V8 (Node 20) boxes doubles read from exported or imported bindings,
// which turns every use in a loop into a heap allocation.
/** numpy's float64 machine epsilon (`MACHINE_EPSILON` in joint-probabilities-impl). */
const EPS = 2.220446049250313e-16;

/**
 * Scratch for `exactKlGradient`: kernel values w_ij and, when the degrees of freedom α ≠ 1, the gradient weights
 * u_ij = (1 + d_ij/α)⁻¹ (for α = 1 they equal w_ij and `u` may be empty). Both n × n, upper triangle used; the
 * 2-D path uses only the first 2n values of `w`.
 */
export interface ExactScratch {
  w: Float64Array;
  u: Float64Array;
}

/**
 * KL(P‖Q) and its gradient for the exact method — scikit-learn's `_kl_divergence`. Q is the Student-t kernel
 * w_ij = (1 + ‖y_i − y_j‖²/α)^(−(α+1)/2) normalised over all pairs i ≠ j; P (n × n, symmetric, zero diagonal) is
 * multiplied by `exaggeration`. As scikit-learn, the KL floors q at ε; unlike it, the gradient does not (the floor
 * only acts once w/Z < 2.2e-16, i.e. never for embeddings of sensible extent), which lets the 2-D path run in one
 * sweep.
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
 * The hot path (2-D, α = 1) in one sweep over the pairs: since q = w/Z, grad_i = 4·(Σ p w Δ − (1/Z)·Σ w² Δ), so the
 * attractive and repulsive sums and Z accumulate together and Z divides at the end. The KL, when asked for, takes a
 * second sweep.
 */
function exactKlGradient2d(
  y: Float64Array,
  p: Float64Array,
  n: number,
  exaggeration: number,
  grad: Float64Array,
  repulsive: Float64Array,
  computeError: boolean
): number {
  repulsive.fill(0, 0, 2 * n);
  let z = 0;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i]!;
    const yi = y[2 * i + 1]!;
    const row = i * n;
    let ax = 0;
    let ay = 0;
    let rx = 0;
    let ry = 0;
    for (let j = i + 1; j < n; j++) {
      const dx = xi - y[2 * j]!;
      const dy = yi - y[2 * j + 1]!;
      const w = 1 / (1 + dx * dx + dy * dy);
      z += w;
      const pw = exaggeration * p[row + j]! * w;
      const ww = w * w;
      ax += pw * dx;
      ay += pw * dy;
      rx += ww * dx;
      ry += ww * dy;
      grad[2 * j]! -= pw * dx;
      grad[2 * j + 1]! -= pw * dy;
      repulsive[2 * j]! -= ww * dx;
      repulsive[2 * j + 1]! -= ww * dy;
    }
    grad[2 * i]! += ax;
    grad[2 * i + 1]! += ay;
    repulsive[2 * i]! += rx;
    repulsive[2 * i + 1]! += ry;
  }
  z *= 2;
  const invZ = 1 / z;
  for (let k = 0; k < 2 * n; k++) grad[k] = 4 * (grad[k]! - repulsive[k]! * invZ);
  if (!computeError) return Number.NaN;
  let kl = 0;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i]!;
    const yi = y[2 * i + 1]!;
    for (let j = i + 1; j < n; j++) {
      const dx = xi - y[2 * j]!;
      const dy = yi - y[2 * j + 1]!;
      let q = invZ / (1 + dx * dx + dy * dy);
      if (q < EPS) q = EPS;
      const pij = exaggeration * p[i * n + j]!;
      kl += pij * Math.log((pij > EPS ? pij : EPS) / q);
    }
  }
  return 2 * kl;
}
