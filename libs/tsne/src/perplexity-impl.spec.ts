import { describe, expect, it } from 'vitest';
import { bruteSquaredDistances, gaussianClusters, normals } from './fixtures.spec-helper.js';
import { binarySearchPerplexity } from './perplexity-impl.js';

/** Entropy in nats of row i (entries from..to), computed independently from the probabilities. */
function rowEntropy(p: Float64Array, from: number, to: number): number {
  let h = 0;
  for (let j = from; j < to; j++) if (p[j]! > 0) h -= p[j]! * Math.log(p[j]!);
  return h;
}

describe('binarySearchPerplexity', () => {
  it.each([2, 5, 30, 50])('hits log(perplexity %s) within 1e-5 on every row, rows summing to 1', (perplexity) => {
    const { data, rows } = gaussianClusters(4, 30, 20, 3, perplexity);
    const dist = bruteSquaredDistances(data, rows, 20);
    const p = new Float64Array(rows * rows);
    binarySearchPerplexity(dist, rows, rows, false, perplexity, p);
    for (let i = 0; i < rows; i++) {
      const row = p.subarray(i * rows, (i + 1) * rows);
      expect(row[i]).toBe(0);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(Math.abs(rowEntropy(p, i * rows, (i + 1) * rows) - Math.log(perplexity))).toBeLessThanOrEqual(1e-5);
    }
  });

  it('is a Gaussian in the distance: p_j ∝ exp(−β d_j) with the β it reports', () => {
    const rows = 12;
    const g = normals(3);
    const data = Float64Array.from({ length: rows * 6 }, g);
    const dist = bruteSquaredDistances(data, rows, 6);
    const p = new Float64Array(rows * rows);
    const betas = new Float64Array(rows);
    binarySearchPerplexity(dist, rows, rows, false, 4, p, betas);
    for (let i = 0; i < rows; i++) {
      // Every step updates β after evaluating; converged rows keep the β of their last evaluation.
      const beta = betas[i]!;
      const j = (i + 1) % rows;
      const k = (i + 2) % rows;
      expect(Math.log(p[i * rows + j]! / p[i * rows + k]!)).toBeCloseTo(
        -beta * (dist[i * rows + j]! - dist[i * rows + k]!),
        9
      );
    }
  });

  it('does not underflow on 4096-dimensional distances (squared distances in the thousands)', () => {
    const rows = 10;
    const cols = 4096;
    const g = normals(9);
    const data = Float64Array.from({ length: rows * cols }, () => 10 * g());
    const dist = bruteSquaredDistances(data, rows, cols);
    expect(dist[1]).toBeGreaterThan(1e5);
    const p = new Float64Array(rows * rows);
    binarySearchPerplexity(dist, rows, rows, false, 5, p);
    for (let i = 0; i < rows; i++) {
      expect(p.subarray(i * rows, (i + 1) * rows).every(Number.isFinite)).toBe(true);
      expect(Math.abs(rowEntropy(p, i * rows, (i + 1) * rows) - Math.log(5))).toBeLessThanOrEqual(1e-5);
    }
  });

  it('counts every entry of a neighbour row (no diagonal to skip)', () => {
    const n = 20;
    const k = 7;
    const g = normals(4);
    const dist = Float64Array.from({ length: n * k }, () => 1 + Math.abs(g()));
    const p = new Float64Array(n * k);
    binarySearchPerplexity(dist, n, k, true, 3, p);
    for (let i = 0; i < n; i++) {
      expect(p.subarray(i * k, (i + 1) * k).every((v) => v > 0)).toBe(true);
      expect(Math.abs(rowEntropy(p, i * k, (i + 1) * k) - Math.log(3))).toBeLessThanOrEqual(1e-5);
    }
  });
});
