import { describe, expect, it } from 'vitest';
import { bruteForceNeighbors } from './brute-knn-impl.js';
import { bruteSquaredDistances, gaussianClusters, normals } from './fixtures.spec-helper.js';
import { createRandom } from './random.js';
import { nearestNeighbors } from './vp-tree-impl.js';

/** Brute-force kNN: sort all others by (distance, index). */
function bruteKnn(data: ArrayLike<number>, rows: number, cols: number, k: number) {
  const d = bruteSquaredDistances(data, rows, cols);
  const indices: number[][] = [];
  for (let i = 0; i < rows; i++) {
    const order = Array.from({ length: rows }, (_, j) => j)
      .filter((j) => j !== i)
      .sort((a, b) => d[i * rows + a]! - d[i * rows + b]! || a - b);
    indices.push(order.slice(0, k));
  }
  return { indices, d };
}

const finders = {
  'vantage-point tree': (data: Float32Array | Float64Array, rows: number, cols: number, k: number, seed = 1) =>
    nearestNeighbors(data, rows, cols, k, createRandom(seed)),
  'brute force': (data: Float32Array | Float64Array, rows: number, cols: number, k: number) =>
    bruteForceNeighbors(data, rows, cols, k),
};

describe.each(Object.entries(finders))('k nearest neighbours by %s', (_name, find) => {
  it.each([
    { rows: 300, cols: 10, k: 1 },
    { rows: 300, cols: 10, k: 31 },
    { rows: 250, cols: 50, k: 91 },
    { rows: 12, cols: 3, k: 11 },
    { rows: 257, cols: 33, k: 20 },
    { rows: 600, cols: 20, k: 91 },
  ])('finds exactly the reference neighbours, nearest first ($rows × $cols, k = $k)', ({ rows, cols, k }) => {
    const { data } = gaussianClusters(5, rows / 5, cols, 2, rows + k);
    const nn = find(data, rows, cols, k);
    const ref = bruteKnn(data, rows, cols, k);
    for (let i = 0; i < rows; i++) {
      const got = Array.from(nn.indices.subarray(i * k, (i + 1) * k));
      const gotD = Array.from(nn.sqDistances.subarray(i * k, (i + 1) * k));
      expect(gotD).toEqual(ref.indices[i]!.map((j) => expect.closeTo(ref.d[i * rows + j]!, 9) as unknown as number));
      expect(gotD).toEqual(gotD.slice().sort((a, b) => a - b));
      expect(got).toEqual(ref.indices[i]);
    }
  });

  it('handles duplicates and Float32 data, independent of any random choice', () => {
    const g = normals(8);
    const rows = 120;
    const data = new Float32Array(rows * 4);
    for (let i = 0; i < rows; i++) for (let c = 0; c < 4; c++) data[i * 4 + c] = i % 3 === 0 ? 1 : Math.round(g() * 2);
    const a = find(data, rows, 4, 10, 1);
    const b = find(data, rows, 4, 10, 2);
    const ref = bruteKnn(data, rows, 4, 10);
    expect(Array.from(a.sqDistances)).toEqual(Array.from(b.sqDistances));
    for (let i = 0; i < rows; i++) {
      expect(Array.from(a.sqDistances.subarray(i * 10, i * 10 + 10))).toEqual(
        ref.indices[i]!.map((j) => ref.d[i * rows + j])
      );
      expect(Array.from(a.indices.subarray(i * 10, i * 10 + 10))).toEqual(ref.indices[i]);
      expect(Array.from(b.indices.subarray(i * 10, i * 10 + 10))).toEqual(ref.indices[i]);
    }
  });
});
