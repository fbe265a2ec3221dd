import { describe, expect, it } from 'vitest';
import { barnesHutKlGradient } from './barnes-hut-gradient-impl.js';
import { exactKlGradient } from './exact-gradient-impl.js';
import { bruteSquaredDistances, gaussianClusters, normals } from './fixtures.spec-helper.js';
import { type SparseMatrix, symmetrizeDense } from './joint-probabilities-impl.js';
import { binarySearchPerplexity } from './perplexity-impl.js';
import { SpaceTree } from './space-tree-impl.js';

function denseAndSparseP(n: number): { dense: Float64Array; sparse: SparseMatrix } {
  const { data } = gaussianClusters(4, n / 4, 12, 3, 3);
  const c = new Float64Array(n * n);
  binarySearchPerplexity(bruteSquaredDistances(data, n, 12), n, n, false, 10, c);
  const dense = new Float64Array(n * n);
  symmetrizeDense(c, n, dense);
  const indptr = new Int32Array(n + 1);
  const indices = new Int32Array(n * (n - 1));
  const values = new Float64Array(n * (n - 1));
  let a = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      indices[a] = j;
      values[a++] = dense[i * n + j]!;
    }
    indptr[i + 1] = a;
  }
  return { dense, sparse: { n, indptr, indices, values } };
}

function run(method: 'exact' | 'bh', dims: 2 | 3, dof: number, theta: number, n: number, exaggeration = 1) {
  const { dense, sparse } = denseAndSparseP(n);
  const g = normals(17);
  const y = Float64Array.from({ length: n * dims }, () => 5 * g());
  const grad = new Float64Array(n * dims);
  const kl =
    method === 'exact'
      ? exactKlGradient(
          y,
          dense,
          n,
          dims,
          dof,
          exaggeration,
          grad,
          { w: new Float64Array(n * n), u: new Float64Array(n * n) },
          true
        )
      : barnesHutKlGradient(
          y,
          sparse,
          dims,
          dof,
          theta,
          exaggeration,
          grad,
          { tree: new SpaceTree(dims), negative: new Float64Array(n * dims) },
          true
        );
  return { kl, grad };
}

const norm = (v: Float64Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('barnesHutKlGradient', () => {
  it.each([
    { dims: 2, dof: 1 },
    { dims: 3, dof: 2 },
    { dims: 2, dof: 3 },
  ] as const)('equals the exact gradient and KL with θ = 0 and a full P ($dims-D, α = $dof)', ({ dims, dof }) => {
    const exact = run('exact', dims, dof, 0, 80, 4);
    const bh = run('bh', dims, dof, 0, 80, 4);
    // Barnes–Hut computes in float32, as scikit-learn's: agreement to float32 accuracy.
    expect(Math.abs(bh.kl - exact.kl) / exact.kl).toBeLessThan(1e-5);
    const diff = bh.grad.map((v, k) => v - exact.grad[k]!);
    expect(norm(diff) / norm(exact.grad)).toBeLessThan(1e-5);
  });

  it('approximates the exact gradient with θ = 0.5 (relative error under 5 %) and the KL within 1 %', () => {
    const exact = run('exact', 2, 1, 0, 400);
    const bh = run('bh', 2, 1, 0.5, 400);
    const diff = bh.grad.map((v, k) => v - exact.grad[k]!);
    expect(norm(diff) / norm(exact.grad)).toBeLessThan(0.05);
    expect(Math.abs(bh.kl - exact.kl) / exact.kl).toBeLessThan(0.01);
  });
});
