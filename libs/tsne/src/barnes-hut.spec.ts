import { beforeAll, describe, expect, it } from 'vitest';
import { gaussianClusters, nearestNeighborAgreement } from './fixtures.spec-helper.js';
import type { TsneResult } from './tsne-options.js';
import { tsne } from './tsne.js';

// 500 points: 5 Gaussian clusters of 100 in 50 dimensions, centres N(0, 3²) per axis (well separated).
const { data, labels, rows } = gaussianClusters(5, 100, 50, 3, 2024);
let exact: TsneResult;
let barnesHut: TsneResult;

describe('Barnes–Hut against exact t-SNE on 500 points', () => {
  beforeAll(() => {
    exact = tsne(data, { rows, cols: 50, method: 'exact' });
    barnesHut = tsne(data, { rows, cols: 50, method: 'barnes-hut' });
  });

  it('reaches a KL divergence within 5 % of the exact method’s', () => {
    expect(Number.isFinite(exact.klDivergence)).toBe(true);
    expect(Math.abs(barnesHut.klDivergence - exact.klDivergence) / exact.klDivergence).toBeLessThan(0.05);
  });

  it('keeps well-separated clusters apart (nearest-neighbour label agreement ≥ 0.95), as exact does', () => {
    expect(nearestNeighborAgreement(exact.embedding, labels, 2)).toBeGreaterThanOrEqual(0.95);
    expect(nearestNeighborAgreement(barnesHut.embedding, labels, 2)).toBeGreaterThanOrEqual(0.95);
  });

  it('gives results of the same shape', () => {
    expect(barnesHut.embedding).toHaveLength(rows * 2);
    expect(barnesHut.embedding.every(Number.isFinite)).toBe(true);
    expect(barnesHut.iterations).toBeGreaterThan(250);
  });
});

describe('Barnes–Hut', () => {
  // 12 columns: neighbours come from the vantage-point tree (the 500 × 50 runs above use brute force).
  const small = gaussianClusters(4, 60, 12, 3, 7);
  const options = { rows: small.rows, cols: 12, method: 'barnes-hut', perplexity: 20, maxIter: 600 } as const;

  it('is deterministic: the same seed gives bit-identical results, other seeds differ with random init', () => {
    const a = tsne(small.data, { ...options, init: 'random', seed: 1, maxIter: 300 });
    const b = tsne(small.data, { ...options, init: 'random', seed: 1, maxIter: 300 });
    const c = tsne(small.data, { ...options, init: 'random', seed: 2, maxIter: 300 });
    expect(b.embedding).toEqual(a.embedding);
    expect(b.klDivergence).toBe(a.klDivergence);
    expect(c.embedding).not.toEqual(a.embedding);
  });

  it('embeds in 3-D with an oct-tree', () => {
    const r = tsne(small.data, { ...options, dims: 3 });
    expect(r.embedding).toHaveLength(small.rows * 3);
    expect(nearestNeighborAgreement(r.embedding, small.labels, 3)).toBeGreaterThanOrEqual(0.95);
  });

  it('uses all other points as neighbours when 3·perplexity + 1 ≥ rows', () => {
    const tiny = gaussianClusters(2, 10, 5, 5, 3);
    const r = tsne(tiny.data, { rows: 20, cols: 5, method: 'barnes-hut', perplexity: 8 });
    expect(nearestNeighborAgreement(r.embedding, tiny.labels, 2)).toBe(1);
  });
});
