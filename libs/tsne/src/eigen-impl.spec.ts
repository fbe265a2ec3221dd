import { describe, expect, it } from 'vitest';
import { jacobiEigen, topEigen } from './eigen-impl.js';
import { normals } from './fixtures.spec-helper.js';
import { createRandom } from './random.js';

/** A random symmetric PSD matrix BᵀB (m × m) from an r × m Gaussian B. */
function randomPsd(m: number, r: number, seed: number): Float64Array {
  const g = normals(seed);
  const b = Float64Array.from({ length: r * m }, () => g());
  const a = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += b[k * m + i]! * b[k * m + j]!;
      a[i * m + j] = s;
    }
  }
  return a;
}

describe('jacobiEigen', () => {
  it.each([1, 2, 10, 40])('decomposes a symmetric %s × %s matrix: A·v = λ·v, V orthonormal, λ descending', (m) => {
    const a = randomPsd(m, m + 3, m);
    const work = Float64Array.from(a);
    const v = new Float64Array(m * m);
    const values = new Float64Array(m);
    jacobiEigen(work, m, v, values);
    for (let k = 0; k < m; k++) {
      if (k > 0) expect(values[k]).toBeLessThanOrEqual(values[k - 1]!);
      for (let i = 0; i < m; i++) {
        let av = 0;
        for (let j = 0; j < m; j++) av += a[i * m + j]! * v[j * m + k]!;
        expect(av).toBeCloseTo(values[k]! * v[i * m + k]!, 8);
      }
      for (let l = 0; l < m; l++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += v[i * m + k]! * v[i * m + l]!;
        expect(dot).toBeCloseTo(k === l ? 1 : 0, 12);
      }
    }
  });

  it('handles rank-deficient and indefinite matrices', () => {
    const a = new Float64Array([2, 0, 0, 0, -3, 0, 0, 0, 0]);
    const v = new Float64Array(9);
    const values = new Float64Array(3);
    jacobiEigen(a, 3, v, values);
    expect(Array.from(values)).toEqual([2, 0, -3]);
  });
});

describe('topEigen', () => {
  it('finds the same top eigenpairs as Jacobi by subspace iteration', () => {
    const m = 120;
    const a = randomPsd(m, 30, 5);
    const v = new Float64Array(m * m);
    const values = new Float64Array(m);
    jacobiEigen(Float64Array.from(a), m, v, values);
    const top = topEigen(
      (x, p, y) => {
        y.fill(0);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < m; j++) for (let c = 0; c < p; c++) y[i * p + c]! += a[i * m + j]! * x[j * p + c]!;
      },
      m,
      3,
      createRandom(1)
    );
    for (let k = 0; k < 3; k++) {
      expect(top.values[k]! / values[k]!).toBeCloseTo(1, 9);
      let dot = 0;
      for (let i = 0; i < m; i++) dot += top.vectors[i * 3 + k]! * v[i * m + k]!;
      expect(Math.abs(dot)).toBeCloseTo(1, 8);
    }
  });
});
