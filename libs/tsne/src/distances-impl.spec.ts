import { describe, expect, it } from 'vitest';
import { centerGram, firstNonFinite, gramMatrix, squaredDistancesFromGram } from './distances-impl.js';
import { bruteSquaredDistances, normals } from './fixtures.spec-helper.js';

function naiveGram(data: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const g = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += data[i * cols + k]! * data[j * cols + k]!;
      g[i * rows + j] = s;
    }
  }
  return g;
}

describe('gramMatrix', () => {
  it.each([1, 2, 3, 4, 5, 8, 10, 13])('equals the naive X·Xᵀ for %s rows (4 × 4 blocks, padded edges)', (rows) => {
    const cols = 37;
    const g = normals(rows);
    const data = Float64Array.from({ length: rows * cols }, () => g());
    const out = new Float64Array(rows * rows);
    gramMatrix(data, rows, cols, out, new Float64Array(16));
    const ref = naiveGram(data, rows, cols);
    for (let i = 0; i < rows * rows; i++) expect(out[i]).toBeCloseTo(ref[i]!, 11);
    for (let i = 0; i < rows; i++) for (let j = 0; j < rows; j++) expect(out[i * rows + j]).toBe(out[j * rows + i]);
  });

  it('gives squared distances and the centred Gram matrix of the rows (10 × 4096, Float32)', () => {
    const rows = 10;
    const cols = 4096;
    const g = normals(4);
    const data = Float32Array.from({ length: rows * cols }, () => 0.5 + 0.2 * g());
    const gram = new Float64Array(rows * rows);
    gramMatrix(data, rows, cols, gram, new Float64Array(16));
    const dist = new Float64Array(rows * rows);
    squaredDistancesFromGram(gram, rows, dist);
    const ref = bruteSquaredDistances(data, rows, cols);
    for (let i = 0; i < rows * rows; i++)
      expect(dist[i]! / Math.max(ref[i]!, 1)).toBeCloseTo(ref[i]! / Math.max(ref[i]!, 1), 9);
    centerGram(gram, rows, new Float64Array(rows));
    const centered = Float64Array.from(data);
    for (let c = 0; c < cols; c++) {
      let mean = 0;
      for (let r = 0; r < rows; r++) mean += data[r * cols + c]!;
      for (let r = 0; r < rows; r++) centered[r * cols + c] = data[r * cols + c]! - mean / rows;
    }
    const refCentered = naiveGram(centered, rows, cols);
    for (let i = 0; i < rows * rows; i++) expect(gram[i]).toBeCloseTo(refCentered[i]!, 8);
  });
});

describe('firstNonFinite', () => {
  it('finds NaN and ±Infinity, and −1 for finite data', () => {
    expect(firstNonFinite(new Float64Array([1, 2, 3]))).toBe(-1);
    expect(firstNonFinite(new Float64Array([1, Number.NaN, 3]))).toBe(1);
    expect(firstNonFinite(new Float32Array([1, 2, -Infinity]))).toBe(2);
  });
});
