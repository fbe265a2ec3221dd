import { describe, expect, it } from 'vitest';
import { bruteSquaredDistances, gaussianClusters } from './fixtures.spec-helper.js';
import { MACHINE_EPSILON, symmetrizeDense, symmetrizeSparse } from './joint-probabilities-impl.js';
import { binarySearchPerplexity } from './perplexity-impl.js';

function conditional(rows: number, cols: number, perplexity: number) {
  const { data } = gaussianClusters(3, rows / 3, cols, 4, 11);
  const dist = bruteSquaredDistances(data, rows, cols);
  const c = new Float64Array(rows * rows);
  binarySearchPerplexity(dist, rows, rows, false, perplexity, c);
  return { c, dist };
}

describe('symmetrizeDense', () => {
  it('gives a symmetric P with zero diagonal, floored at ε, summing to 1', () => {
    const n = 60;
    const { c } = conditional(n, 8, 10);
    const p = new Float64Array(n * n);
    symmetrizeDense(c, n, p);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      expect(p[i * n + i]).toBe(0);
      for (let j = 0; j < n; j++) {
        expect(p[i * n + j]).toBe(p[j * n + i]);
        if (i !== j) {
          expect(p[i * n + j]).toBeGreaterThanOrEqual(MACHINE_EPSILON);
          expect(p[i * n + j]).toBeCloseTo((c[i * n + j]! + c[j * n + i]!) / (2 * n), 15);
        }
        sum += p[i * n + j]!;
      }
    }
    expect(sum).toBeCloseTo(1, 10);
  });
});

describe('symmetrizeSparse', () => {
  it('equals the dense symmetrisation when every other point is a neighbour', () => {
    const n = 30;
    const { c } = conditional(n, 5, 6);
    const k = n - 1;
    const neighbors = new Int32Array(n * k);
    const cond = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      let t = 0;
      for (let j = n - 1; j >= 0; j--) {
        if (j === i) continue;
        neighbors[i * k + t] = j;
        cond[i * k + t++] = c[i * n + j]!;
      }
    }
    const sparse = symmetrizeSparse(cond, neighbors, n, k);
    const dense = new Float64Array(n * n);
    symmetrizeDense(c, n, dense);
    expect(sparse.indptr[n]).toBe(n * (n - 1));
    for (let i = 0; i < n; i++) {
      const cols = Array.from(sparse.indices.subarray(sparse.indptr[i], sparse.indptr[i + 1]));
      expect(cols).toEqual(cols.slice().sort((a, b) => a - b));
      for (let a = sparse.indptr[i]!; a < sparse.indptr[i + 1]!; a++) {
        expect(sparse.values[a]).toBeCloseTo(dense[i * n + sparse.indices[a]!]!, 15);
      }
    }
  });

  it('is symmetric and sums to 1 on a genuine kNN pattern', () => {
    const n = 40;
    const k = 5;
    const { c, dist } = conditional(n, 6, 3);
    const neighbors = new Int32Array(n * k);
    const cond = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      const order = Array.from({ length: n }, (_, j) => j)
        .filter((j) => j !== i)
        .sort((a, b) => dist[i * n + a]! - dist[i * n + b]!);
      for (let t = 0; t < k; t++) {
        neighbors[i * k + t] = order[t]!;
        cond[i * k + t] = c[i * n + order[t]!]!;
      }
    }
    const p = symmetrizeSparse(cond, neighbors, n, k);
    const lookup = (i: number, j: number) => {
      for (let a = p.indptr[i]!; a < p.indptr[i + 1]!; a++) if (p.indices[a] === j) return p.values[a]!;
      return 0;
    };
    let sum = 0;
    for (let i = 0; i < n; i++) {
      for (let a = p.indptr[i]!; a < p.indptr[i + 1]!; a++) {
        expect(lookup(p.indices[a]!, i)).toBe(p.values[a]);
        sum += p.values[a]!;
      }
    }
    expect(sum).toBeCloseTo(1, 12);
  });
});
