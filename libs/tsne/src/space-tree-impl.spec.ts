import { describe, expect, it } from 'vitest';
import { normals } from './fixtures.spec-helper.js';
import { SpaceTree } from './space-tree-impl.js';

function checkTree(tree: SpaceTree, y: Float64Array, n: number) {
  const d = tree.dims;
  // Every internal cell's size is the sum of its children's, and its barycentre their weighted mean.
  for (let c = 0; c < tree.count; c++) {
    if (tree.leaf[c]) continue;
    let size = 0;
    const mean = new Float64Array(d);
    for (let s = 0; s < tree.fanout; s++) {
      const child = tree.children[c * tree.fanout + s]!;
      if (child < 0) continue;
      size += tree.size[child]!;
      for (let a = 0; a < d; a++) mean[a]! += tree.size[child]! * tree.bary[child * d + a]!;
      for (let a = 0; a < d; a++) {
        expect(tree.minB[child * d + a]).toBeGreaterThanOrEqual(tree.minB[c * d + a]!);
        expect(tree.maxB[child * d + a]).toBeLessThanOrEqual(tree.maxB[c * d + a]!);
      }
    }
    expect(size).toBe(tree.size[c]);
    // Barycentres are float32 running means, as scikit-learn's: equal to float32 accuracy.
    for (let a = 0; a < d; a++)
      expect(Math.abs(mean[a]! / size - tree.bary[c * d + a]!)).toBeLessThan(1e-4 * (1 + Math.abs(mean[a]! / size)));
  }
  expect(tree.size[0]).toBe(n);
  for (let a = 0; a < d; a++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += y[i * d + a]!;
    expect(Math.abs(tree.bary[a]! - m / n)).toBeLessThan(1e-4 * (1 + Math.abs(m / n)));
  }
}

describe('SpaceTree', () => {
  it.each([2, 3] as const)('builds a consistent %s-D tree, and rebuilds it in place', (dims) => {
    const g = normals(dims);
    const tree = new SpaceTree(dims);
    for (const n of [500, 37]) {
      const y = Float64Array.from({ length: n * dims }, () => g() * 10);
      tree.build(y, n);
      checkTree(tree, y, n);
      let leaves = 0;
      for (let c = 0; c < tree.count; c++) if (tree.leaf[c]) leaves += tree.size[c]!;
      expect(leaves).toBe(n);
    }
  });

  it('merges points within 1e-6 on every axis into one leaf, and survives exact duplicates', () => {
    const y = new Float64Array([0, 0, 5e-7, -5e-7, 0, 0, 1, 1, 1, 1 + 2e-6]);
    const tree = new SpaceTree(2);
    tree.build(y, 5);
    checkTree(tree, y, 5);
    const leafSizes = [];
    for (let c = 0; c < tree.count; c++) if (tree.leaf[c] && tree.size[c]! > 0) leafSizes.push(tree.size[c]);
    expect(leafSizes.sort()).toEqual([1, 1, 3]);
  });
});
