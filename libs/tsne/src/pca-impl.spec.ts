import { describe, expect, it } from 'vitest';
import { gaussianClusters, normals } from './fixtures.spec-helper.js';
import { finishPcaInit, pcaScoresFromData } from './pca-impl.js';
import { createRandom } from './random.js';

/**
 * Independent reference: the top `k` principal directions by power iteration with deflation on the covariance,
 * applied implicitly as Xcᵀ(Xc·v) on centred float64 data; returns the scores Xc·v (rows × k).
 */
function powerIterationScores(data: ArrayLike<number>, rows: number, cols: number, k: number): Float64Array[] {
  const xc = new Float64Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += data[r * cols + c]!;
    mean /= rows;
    for (let r = 0; r < rows; r++) xc[r * cols + c] = data[r * cols + c]! - mean;
  }
  const found: Float64Array[] = [];
  const scores: Float64Array[] = [];
  const g = normals(99);
  for (let comp = 0; comp < k; comp++) {
    let v = Float64Array.from({ length: cols }, () => g());
    for (let it = 0; it < 3000; it++) {
      const t = new Float64Array(rows);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[r]! += xc[r * cols + c]! * v[c]!;
      const next = new Float64Array(cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) next[c]! += xc[r * cols + c]! * t[r]!;
      for (const f of found) {
        const dot = next.reduce((s, x, i) => s + x * f[i]!, 0);
        for (let c = 0; c < cols; c++) next[c]! -= dot * f[c]!;
      }
      const norm = Math.sqrt(next.reduce((s, x) => s + x * x, 0));
      const change = next.reduce((m, x, i) => Math.max(m, Math.abs(x / norm - v[i]!)), 0);
      v = next.map((x) => x / norm);
      if (change < 1e-13) break;
    }
    found.push(v);
    const s = new Float64Array(rows);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) s[r]! += xc[r * cols + c]! * v[c]!;
    scores.push(s);
  }
  return scores;
}

function column(y: Float64Array, rows: number, dims: number, c: number): Float64Array {
  return Float64Array.from({ length: rows }, (_, r) => y[r * dims + c]!);
}

function std(v: Float64Array): number {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
}

function expectSameDirection(got: Float64Array, ref: Float64Array, digits: number) {
  const dot = got.reduce((s, x, i) => s + x * ref[i]!, 0);
  const ng = Math.sqrt(got.reduce((s, x) => s + x * x, 0));
  const nr = Math.sqrt(ref.reduce((s, x) => s + x * x, 0));
  expect(Math.abs(dot) / (ng * nr)).toBeCloseTo(1, digits);
}

describe('PCA initialisation', () => {
  it.each([
    { name: 'Gram route, 10 × 4096 (the hot path)', rows: 10, cols: 4096, jacobiMaxOrder: 256 },
    { name: 'covariance route, 200 × 30', rows: 200, cols: 30, jacobiMaxOrder: 256 },
    { name: 'implicit subspace route, 200 × 30', rows: 200, cols: 30, jacobiMaxOrder: 8 },
    { name: 'subspace route on a big Gram, 30 × 60', rows: 30, cols: 60, jacobiMaxOrder: 8 },
  ])('matches power iteration and scales column 0 to std 1e-4 ($name)', ({ rows, cols, jacobiMaxOrder }) => {
    // Noise plus two strong directions of different strength, so the top components are well separated.
    const { data } = gaussianClusters(5, rows / 5, cols, 1, rows + cols);
    const g = normals(rows);
    const unit = () => {
      const u = Float64Array.from({ length: cols }, () => g());
      const norm = Math.sqrt(u.reduce((a, b) => a + b * b, 0));
      return u.map((x) => x / norm);
    };
    const [u, v] = [unit(), unit()];
    for (let r = 0; r < rows; r++) {
      const a = 300 * g();
      const b = 120 * g();
      for (let c = 0; c < cols; c++) data[r * cols + c]! += a * u[c]! + b * v[c]!;
    }
    const dims = 2;
    const y = new Float64Array(rows * dims);
    pcaScoresFromData(data, rows, cols, dims, y, createRandom(3), jacobiMaxOrder);
    const raw = Float64Array.from(y);
    finishPcaInit(y, rows, dims);
    const ref = powerIterationScores(data, rows, cols, dims);
    for (let c = 0; c < dims; c++) {
      expectSameDirection(column(raw, rows, dims, c), ref[c]!, 8);
      // Unscaled scores have the reference's magnitude (√λ).
      expect(std(column(raw, rows, dims, c)) / std(ref[c]!)).toBeCloseTo(1, 8);
      // Sign rule: the largest-magnitude entry of each column is positive.
      const col = column(y, rows, dims, c);
      const big = col.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
      expect(big).toBeGreaterThan(0);
    }
    expect(std(column(y, rows, dims, 0))).toBeCloseTo(1e-4, 15);
    // All columns share the one scale factor.
    expect(std(column(y, rows, dims, 1)) / std(column(y, rows, dims, 0))).toBeCloseTo(std(ref[1]!) / std(ref[0]!), 8);
  });

  it('leaves zeros for identical rows instead of dividing by a zero spread', () => {
    const data = new Float64Array(5 * 3).fill(2);
    const y = new Float64Array(10);
    pcaScoresFromData(data, 5, 3, 2, y, createRandom(1));
    finishPcaInit(y, 5, 2);
    expect(Array.from(y).every((v) => v === 0)).toBe(true);
  });
});
