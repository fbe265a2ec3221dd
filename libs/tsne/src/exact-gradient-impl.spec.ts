import { describe, expect, it } from 'vitest';
import { exactKlGradient } from './exact-gradient-impl.js';
import { bruteSquaredDistances, gaussianClusters, normals, referenceKl } from './fixtures.spec-helper.js';
import { symmetrizeDense } from './joint-probabilities-impl.js';
import { binarySearchPerplexity } from './perplexity-impl.js';

/**
 * What the gradient descends: −e·Σ p log w + log Z (scikit-learn's (e·P − Q) form), straight from the definition.
 * For e = 1 it is KL(P‖Q) less the constant Σ p log p; for e ≠ 1 it is not KL(eP‖Q), which is only reported.
 */
function descendedObjective(y: Float64Array, p: Float64Array, n: number, dims: number, dof: number, e: number) {
  let z = 0;
  let cross = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      let d = 0;
      for (let a = 0; a < dims; a++) d += (y[i * dims + a]! - y[j * dims + a]!) ** 2;
      const w = (1 + d / dof) ** (-(dof + 1) / 2);
      z += w;
      cross -= e * p[i * n + j]! * Math.log(w);
    }
  }
  return cross + Math.log(z);
}

function jointP(n: number, seed: number): Float64Array {
  const { data } = gaussianClusters(3, n / 3, 10, 3, seed);
  const c = new Float64Array(n * n);
  binarySearchPerplexity(bruteSquaredDistances(data, n, 10), n, n, false, 5, c);
  const p = new Float64Array(n * n);
  symmetrizeDense(c, n, p);
  return p;
}

describe('exactKlGradient', () => {
  it.each([
    { dims: 2, dof: 1, exaggeration: 1 },
    { dims: 2, dof: 1, exaggeration: 12 },
    { dims: 3, dof: 2, exaggeration: 1 },
    { dims: 1, dof: 1, exaggeration: 4 },
    { dims: 2, dof: 0.5, exaggeration: 1 },
  ])('matches central finite differences of the objective ($dims-D, α = $dof, exaggeration $exaggeration)', (c) => {
    const n = 15;
    const p = jointP(n, 1);
    const pe = p.map((v) => v * c.exaggeration);
    const g = normals(5);
    const y = Float64Array.from({ length: n * c.dims }, () => g());
    const grad = new Float64Array(n * c.dims);
    const scratch = { w: new Float64Array(n * n), u: new Float64Array(n * n) };
    const kl = exactKlGradient(y, p, n, c.dims, c.dof, c.exaggeration, grad, scratch, true);
    expect(kl).toBeCloseTo(referenceKl(y, pe, n, c.dims, c.dof), 10);
    const f = (v: Float64Array) => descendedObjective(v, p, n, c.dims, c.dof, c.exaggeration);
    const h = 1e-6;
    for (let k = 0; k < y.length; k++) {
      const plus = Float64Array.from(y);
      const minus = Float64Array.from(y);
      plus[k]! += h;
      minus[k]! -= h;
      const fd = (f(plus) - f(minus)) / (2 * h);
      expect(Math.abs(grad[k]! - fd)).toBeLessThan(1e-7 + 1e-6 * Math.abs(fd));
    }
  });

  it('gives the same gradient whether or not the error is asked for, and NaN for an error not asked for', () => {
    const n = 9;
    const p = jointP(n, 2);
    const y = Float64Array.from({ length: 2 * n }, (_, i) => Math.sin(i));
    const scratch = { w: new Float64Array(n * n), u: new Float64Array(0) };
    const a = new Float64Array(2 * n);
    const b = new Float64Array(2 * n).fill(7);
    expect(exactKlGradient(y, p, n, 2, 1, 1, a, scratch, false)).toBeNaN();
    exactKlGradient(y, p, n, 2, 1, 1, b, scratch, true);
    expect(b).toEqual(a);
  });

  it('is zero for two points whose P matches Q', () => {
    const p = new Float64Array([0, 0.5, 0.5, 0]);
    const grad = new Float64Array(4);
    const kl = exactKlGradient(
      new Float64Array([0, 0, 1, 1]),
      p,
      2,
      2,
      1,
      1,
      grad,
      { w: new Float64Array(4), u: new Float64Array(0) },
      true
    );
    expect(kl).toBeCloseTo(0, 14);
    expect(Array.from(grad, Math.abs).every((v) => v < 1e-15)).toBe(true);
  });
});
