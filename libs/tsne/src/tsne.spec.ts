import { describe, expect, it } from 'vitest';
import { TsneArgumentError, TsneRunnerBusyError } from './errors.js';
import { gaussianClusters, lcg, nearestNeighborAgreement } from './fixtures.spec-helper.js';
import type { TsneOptions, TsneProgress } from './tsne-options.js';
import { createTsne, MAX_EXACT_ROWS, tsne, tsneAsync } from './tsne.js';

/** The hot-path shape: 10 points of 4096 values in [0, 1], two groups of five with different means. */
function hotPathInput(seed: number): { data: Float32Array; labels: Int32Array } {
  const u = lcg(seed);
  const data = new Float32Array(10 * 4096);
  const labels = new Int32Array(10);
  for (let i = 0; i < 10; i++) {
    labels[i] = i % 2;
    for (let k = 0; k < 4096; k++) data[i * 4096 + k] = (i % 2 ? 0.6 : 0.3) + 0.35 * u();
  }
  return { data, labels };
}

const hot = { rows: 10, cols: 4096, perplexity: 4 } satisfies TsneOptions;

describe('tsne (exact)', () => {
  it('embeds 10 × 4096 inputs into finite coordinates that separate two groups', () => {
    const { data, labels } = hotPathInput(1);
    const { embedding, klDivergence, iterations } = tsne(data, hot);
    expect(embedding).toHaveLength(20);
    expect(embedding.every(Number.isFinite)).toBe(true);
    expect(klDivergence).toBeGreaterThanOrEqual(0);
    expect(klDivergence).toBeLessThan(1);
    expect(iterations).toBeGreaterThan(250);
    expect(iterations).toBeLessThanOrEqual(1000);
    expect(nearestNeighborAgreement(embedding, labels, 2)).toBe(1);
    // Every cross-group distance exceeds every within-group one.
    const d = (i: number, j: number) =>
      Math.hypot(embedding[2 * i]! - embedding[2 * j]!, embedding[2 * i + 1]! - embedding[2 * j + 1]!);
    let within = 0;
    let across = Infinity;
    for (let i = 0; i < 10; i++) {
      for (let j = i + 1; j < 10; j++) {
        if (labels[i] === labels[j]) within = Math.max(within, d(i, j));
        else across = Math.min(across, d(i, j));
      }
    }
    expect(across).toBeGreaterThan(within);
  });

  it('is deterministic: the same seed gives bit-identical results, other seeds differ with random init', () => {
    const { data } = hotPathInput(2);
    const a = tsne(data, { ...hot, init: 'random', seed: 7 });
    const b = tsne(data, { ...hot, init: 'random', seed: 7 });
    const c = tsne(data, { ...hot, init: 'random', seed: 8 });
    expect(b.embedding).toEqual(a.embedding);
    expect(b.klDivergence).toBe(a.klDivergence);
    expect(b.iterations).toBe(a.iterations);
    expect(c.embedding).not.toEqual(a.embedding);
    // PCA initialisation of the exact method uses no randomness at all.
    expect(tsne(data, { ...hot, seed: 1 }).embedding).toEqual(tsne(data, { ...hot, seed: 2 }).embedding);
  });

  it('starts from 1e-4 · N(0, 1) with random init and from the given array with a custom one', () => {
    const { data } = gaussianClusters(4, 100, 5, 3, 9);
    const options = { rows: 400, cols: 5, maxIter: 1, learningRate: 1e-12 };
    const random = tsne(data, { ...options, init: 'random' }).embedding;
    const mean = random.reduce((a, b) => a + b, 0) / random.length;
    const std = Math.sqrt(random.reduce((a, b) => a + (b - mean) ** 2, 0) / random.length);
    expect(Math.abs(mean)).toBeLessThan(1e-5);
    expect(std / 1e-4).toBeCloseTo(1, 1);
    const init = Float64Array.from({ length: 800 }, (_, i) => Math.sin(i));
    const custom = tsne(data, { ...options, init }).embedding;
    // The embedding is float32, as scikit-learn's.
    for (let k = 0; k < 800; k++) expect(custom[k]).toBeCloseTo(Math.fround(init[k]!), 9);
  });

  it('accepts Float32Array, Float64Array and number[][] alike, without touching the input', () => {
    const { data } = gaussianClusters(3, 6, 5, 10, 1);
    const copy = Float64Array.from(data);
    const rows = Array.from({ length: 18 }, (_, i) => Array.from(data.subarray(i * 5, i * 5 + 5)));
    const opts = { perplexity: 5 };
    const a = tsne(data, { ...opts, rows: 18, cols: 5 });
    const b = tsne(rows, opts);
    const c = tsne(data, { ...opts, rows: 18 });
    expect(b.embedding).toEqual(a.embedding);
    expect(c.embedding).toEqual(a.embedding);
    expect(data).toEqual(copy);
    expect(
      nearestNeighborAgreement(
        a.embedding,
        Int32Array.from({ length: 18 }, (_, i) => i % 3),
        2
      )
    ).toBe(1);
    // Float32 values are used exactly: the result equals that of their float64 copy.
    const f32 = Float32Array.from(data);
    expect(tsne(f32, { ...opts, cols: 5 }).embedding).toEqual(
      tsne(Float64Array.from(f32), { ...opts, cols: 5 }).embedding
    );
  });

  it('resolves learningRate auto as max(N / earlyExaggeration / 4, 50)', () => {
    expect(createTsne({ rows: 10, cols: 3, perplexity: 3 }).options.learningRate).toBe(50);
    expect(createTsne({ rows: 6000, cols: 3, method: 'barnes-hut' }).options.learningRate).toBe(125);
    expect(createTsne({ rows: 6000, cols: 3, method: 'barnes-hut', earlyExaggeration: 4 }).options.learningRate).toBe(
      375
    );
    expect(createTsne({ rows: 10, cols: 3, perplexity: 3, learningRate: 7 }).options.learningRate).toBe(7);
  });

  it('reports the KL without exaggeration when the run ends inside the exploration phase', () => {
    const { data } = hotPathInput(4);
    const progress: TsneProgress[] = [];
    const r = tsne(data, { ...hot, maxIter: 200, onProgress: (p) => progress.push(p) });
    expect(r.iterations).toBe(200);
    expect(progress.every((p) => p.phase === 'exaggeration')).toBe(true);
    expect(r.klDivergence).toBeLessThan(progress.at(-1)!.klDivergence / 2);
  });
});

describe('degenerate inputs', () => {
  it.each(['exact', 'barnes-hut'] as const)('collapses identical rows to one point with KL 0 (%s)', (method) => {
    const r = tsne(new Float64Array(12).fill(3), { rows: 6, cols: 2, perplexity: 2, method });
    expect(r.embedding.every((v) => v === 0)).toBe(true);
    expect(Math.abs(r.klDivergence)).toBeLessThan(1e-12);
  });

  it.each(['exact', 'barnes-hut'] as const)('embeds two points symmetrically (%s)', (method) => {
    const r = tsne(
      [
        [0, 0],
        [3, 4],
      ],
      { perplexity: 0.5, method }
    );
    expect(r.embedding[0]).toBeCloseTo(-r.embedding[2]!, 9);
    expect(r.klDivergence).toBeCloseTo(0, 9);
  });
});

describe('createTsne', () => {
  it('reuses its buffers with results bit-identical to tsne(), call after call, into `out` if given', () => {
    const runner = createTsne(hot);
    const out = new Float64Array(20);
    for (const seed of [1, 2, 1]) {
      const { data } = hotPathInput(seed);
      const expected = tsne(data, hot);
      const got = runner.run(data);
      expect(got.embedding).toEqual(expected.embedding);
      expect(got.klDivergence).toBe(expected.klDivergence);
      expect(runner.run(data, { out }).embedding).toBe(out);
      expect(out).toEqual(expected.embedding);
    }
  });

  it('lets a call override the seed, and validates data and out against its shape', () => {
    const runner = createTsne({ ...hot, init: 'random' });
    const { data } = hotPathInput(5);
    expect(runner.run(data, { seed: 3 }).embedding).toEqual(tsne(data, { ...hot, init: 'random', seed: 3 }).embedding);
    expect(() => runner.run(new Float32Array(10))).toThrow(
      'TsneRunner.run: data.length must equal rows × cols = 10 × 4096 = 40960, got 10'
    );
    expect(() => runner.run(data, { out: new Float64Array(3) })).toThrow(TsneArgumentError);
    expect(() => runner.run(data, { seed: 0.5 })).toThrow('options.seed must be a safe integer');
  });

  it('refuses a second call while a run holds the buffers (runAsync, or a callback re-entering)', async () => {
    const runner = createTsne(hot);
    const { data } = hotPathInput(6);
    const pending = runner.runAsync(data);
    expect(() => runner.run(data)).toThrow(TsneRunnerBusyError);
    const result = await pending;
    expect(result.embedding).toEqual(tsne(data, hot).embedding);
    expect(runner.run(data).embedding).toEqual(result.embedding);
    expect(() => runner.run(data, { onProgress: () => runner.run(data) })).toThrow(TsneRunnerBusyError);
    expect(runner.run(data).embedding).toEqual(result.embedding);
  });
});

describe('progress, logging and cancellation', () => {
  it('reports progress every 50 iterations and logs scikit-learn style lines to an injected logger', () => {
    const { data } = hotPathInput(7);
    const progress: TsneProgress[] = [];
    const lines: string[] = [];
    const r = tsne(data, {
      ...hot,
      onProgress: (p) => progress.push(p),
      logger: { debug: (m) => lines.push(m), warn: (m) => lines.push(m) },
    });
    expect(progress.map((p) => p.iteration)).toEqual(
      Array.from({ length: Math.floor(r.iterations / 50) }, (_, i) => 50 * (i + 1))
    );
    expect(progress.slice(0, 5).every((p) => p.phase === 'exaggeration')).toBe(true);
    expect(progress.slice(5).every((p) => p.phase === 'final')).toBe(true);
    expect(progress.every((p) => Number.isFinite(p.klDivergence) && p.gradNorm >= 0)).toBe(true);
    expect(lines).toContain(
      `[t-SNE] KL divergence after 250 iterations with early exaggeration: ${progress[4]!.klDivergence.toFixed(6)}`
    );
    expect(lines.some((l) => l.startsWith('[t-SNE] Mean sigma: '))).toBe(true);
    expect(lines.at(-1)).toBe(`[t-SNE] KL divergence after ${r.iterations} iterations: ${r.klDivergence.toFixed(6)}`);
  });

  it('stops with the signal’s reason when aborted from onProgress, or before starting', () => {
    const { data } = hotPathInput(8);
    const controller = new AbortController();
    const seen: number[] = [];
    const run = () =>
      tsne(data, {
        ...hot,
        signal: controller.signal,
        onProgress: (p) => {
          seen.push(p.iteration);
          if (p.iteration === 100) controller.abort(new Error('enough'));
        },
      });
    expect(run).toThrow('enough');
    expect(seen).toEqual([50, 100]);
    expect(run).toThrow('enough');
    expect(seen).toEqual([50, 100]);
  });

  it('tsneAsync yields to the event loop, so a timer can abort it; otherwise it equals tsne', async () => {
    const { data } = gaussianClusters(4, 50, 10, 3, 2);
    const options = { rows: 200, cols: 10, maxIter: 5000, iterWithoutProgress: 5000, minGradNorm: 0 };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('timeout')), 20);
    let last = 0;
    await expect(
      tsneAsync(data, { ...options, signal: controller.signal, onProgress: (p) => (last = p.iteration) })
    ).rejects.toThrow('timeout');
    clearTimeout(timer);
    expect(last).toBeLessThan(5000);
    const small = { ...options, maxIter: 300 };
    expect((await tsneAsync(data, small)).embedding).toEqual(tsne(data, small).embedding);
  });
});

describe('argument errors', () => {
  const data = new Float64Array(12 * 3).map((_, i) => Math.sin(i));
  const ok = { rows: 12, cols: 3, perplexity: 5 } satisfies TsneOptions;
  it.each<[string, () => unknown, string, string]>([
    [
      'perplexity ≥ rows',
      () => tsne(data, { ...ok, perplexity: 12 }),
      'options.perplexity',
      'must be greater than 0 and less than the number of rows (12), got 12',
    ],
    [
      'default perplexity 30 with 12 rows',
      () => tsne(data, { rows: 12, cols: 3 }),
      'options.perplexity',
      'less than the number of rows (12), got 30',
    ],
    ['perplexity 0', () => tsne(data, { ...ok, perplexity: 0 }), 'options.perplexity', 'got 0'],
    [
      'NaN in data',
      () => tsne(Float64Array.from(data).fill(Number.NaN, 7, 8), ok),
      'data',
      'must be finite, got NaN at index 7 (row 2, column 1)',
    ],
    [
      'Infinity in data',
      () => tsne(Float32Array.from(data).fill(Infinity, 35), ok),
      'data',
      'must be finite, got Infinity at index 35 (row 11, column 2)',
    ],
    [
      'NaN in data (Barnes–Hut)',
      () => tsne(Float64Array.from(data).fill(Number.NaN, 0, 1), { ...ok, method: 'barnes-hut' }),
      'data',
      'must be finite, got NaN at index 0',
    ],
    ['overflowing values', () => tsne(Float64Array.from(data).fill(1e300, 0, 1), ok), 'data', 'squared norms overflow'],
    ['empty typed array', () => tsne(new Float64Array(0), ok), 'data', 'must not be empty'],
    ['empty array', () => tsne([], {}), 'data', 'must not be empty, got 0 rows'],
    [
      'rows · cols ≠ length',
      () => tsne(data, { ...ok, cols: 4 }),
      'data.length',
      'must equal rows × cols = 12 × 4 = 48, got 36',
    ],
    ['no shape for a typed array', () => tsne(data, { perplexity: 5 }), 'options.rows', 'must be given'],
    [
      'cols not dividing the length',
      () => tsne(data, { cols: 5, perplexity: 5 }),
      'options.rows',
      'must be a positive integer, got 7.2',
    ],
    ['one row', () => tsne([[1, 2, 3]], { perplexity: 0.5 }), 'data', 'must have at least 2 rows'],
    [
      'ragged rows',
      () => tsne([[1, 2], [3]], { perplexity: 1 }),
      'data[1]',
      'must be an array of 2 numbers like data[0], got 1 values',
    ],
    [
      'unknown method',
      () => tsne(data, { ...ok, method: 'fft' as never }),
      'options.method',
      'must be one of exact, barnes-hut, got fft',
    ],
    ['dims 0', () => tsne(data, { ...ok, dims: 0 }), 'options.dims', 'must be a positive integer, got 0'],
    ['dims 1.5', () => tsne(data, { ...ok, dims: 1.5 }), 'options.dims', 'must be a positive integer, got 1.5'],
    [
      'dims 4 with Barnes–Hut',
      () => tsne(data, { ...ok, dims: 4, method: 'barnes-hut' }),
      'options.dims',
      "must be 2 or 3 for method 'barnes-hut', got 4",
    ],
    [
      'dims 1 with Barnes–Hut',
      () => tsne(data, { ...ok, dims: 1, method: 'barnes-hut' }),
      'options.dims',
      "must be 2 or 3 for method 'barnes-hut', got 1",
    ],
    [
      'dims above min(rows, cols) with PCA',
      () => tsne(data, { ...ok, dims: 4 }),
      'options.dims',
      "must be at most min(rows, cols) = 3 with init 'pca', got 4",
    ],
    [
      'unknown init',
      () => tsne(data, { ...ok, init: 'spectral' as never }),
      'options.init',
      'must be one of pca, random or a Float64Array, got spectral',
    ],
    [
      'init of the wrong length',
      () => tsne(data, { ...ok, init: new Float64Array(5) }),
      'options.init',
      'must hold rows × dims = 24 values, got 5',
    ],
    [
      'negative learning rate',
      () => tsne(data, { ...ok, learningRate: -1 }),
      'options.learningRate',
      "must be 'auto' or a finite number > 0, got -1",
    ],
    [
      'early exaggeration below 1',
      () => tsne(data, { ...ok, earlyExaggeration: 0.5 }),
      'options.earlyExaggeration',
      'must be a finite number ≥ 1, got 0.5',
    ],
    ['theta above 1', () => tsne(data, { ...ok, theta: 1.5 }), 'options.theta', 'must be from 0 to 1, got 1.5'],
    ['maxIter 0', () => tsne(data, { ...ok, maxIter: 0 }), 'options.maxIter', 'must be an integer ≥ 1, got 0'],
    ['fractional seed', () => tsne(data, { ...ok, seed: 1.5 }), 'options.seed', 'must be a safe integer, got 1.5'],
    [
      'non-positive degrees of freedom',
      () => tsne(data, { ...ok, degreesOfFreedom: 0 }),
      'options.degreesOfFreedom',
      'must be a finite number > 0, got 0',
    ],
    [
      'too many rows for exact',
      () => tsne(new Float64Array(MAX_EXACT_ROWS + 1), { cols: 1, init: 'random' }),
      'options.method',
      "'exact' handles at most 10000 rows",
    ],
    [
      'createTsne without cols',
      () => createTsne({ rows: 10 } as never),
      'options.cols',
      'must be a positive integer, got undefined',
    ],
  ])('%s', (_name, call, argument, message) => {
    let error: unknown;
    try {
      call();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TsneArgumentError);
    const e = error as TsneArgumentError;
    expect(e.argument).toBe(argument);
    expect(e.fn).toMatch(/^(tsne|createTsne)$/);
    expect(e.message).toContain(`${e.fn}: ${argument} `);
    expect(e.message).toContain(message);
  });

  it('rejects from tsneAsync with the same errors', async () => {
    await expect(tsneAsync(data, { ...ok, perplexity: 20 })).rejects.toThrow('tsneAsync: options.perplexity must be');
  });
});
