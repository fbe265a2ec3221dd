import { createTsne, tsne, type TsneResult } from '@supwalsh/tsne';
import { defineBenchmark } from '../benchmark.js';
import { time } from '../timing.js';

/** A small LCG so the inputs are the same on every run and machine. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Sup-Walsh's hot path: one sample of each of 10 classes, 64 × 64 images flattened, values in [0, 1]. */
function classSamples(): Float32Array {
  const u = lcg(1);
  const prototypes = Array.from({ length: 10 }, () => Float32Array.from({ length: 4096 }, () => u()));
  const data = new Float32Array(10 * 4096);
  for (let i = 0; i < 10; i++) for (let k = 0; k < 4096; k++) data[i * 4096 + k] = 0.7 * prototypes[i]![k]! + 0.3 * u();
  return data;
}

/** `rows` points in `cols` dimensions around 10 Gaussian cluster centres (a test set after PCA to 50). */
function clusteredPoints(rows: number, cols: number): Float32Array {
  const u = lcg(2);
  const normal = () => Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
  const centres = Array.from({ length: 10 }, () => Float64Array.from({ length: cols }, () => 3 * normal()));
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let k = 0; k < cols; k++) data[i * cols + k] = centres[i % 10]![k]! + normal();
  return data;
}

export default defineBenchmark({
  name: 'tsne',
  description:
    'exact t-SNE calls/s on 10 × 4096 (fresh vs reused buffers); Barnes–Hut vs exact on 500 × 50; Barnes–Hut on 5000 × 50 (--quick: 1000)',
  async run({ args, log }) {
    const quick = args.includes('--quick');
    const rows = [];
    const hot = classSamples();
    const shape = { rows: 10, cols: 4096, perplexity: 5 };
    const runner = createTsne(shape);
    const out = new Float64Array(20);
    let last: TsneResult = tsne(hot, shape);
    const cases: [string, () => TsneResult][] = [
      ['tsne() — fresh buffers', () => (last = tsne(hot, shape))],
      ['createTsne().run() — reused buffers', () => (last = runner.run(hot))],
      ['run(data, { out }) — no allocation', () => (last = runner.run(hot, { out }))],
    ];
    // Interleaved rounds, best median per case: the three differ by little, and a shared machine drifts.
    const best = cases.map(() => Infinity);
    for (let round = 0; round < (quick ? 2 : 6); round++) {
      for (const [c, [, fn]] of cases.entries()) {
        const t = await time(fn, { minSeconds: 0.5, warmup: 20 });
        best[c] = Math.min(best[c]!, t.median);
      }
    }
    for (const [c, [name]] of cases.entries()) {
      const seconds = best[c]!;
      log(`exact 10×4096 ${name}: ${(1 / seconds).toFixed(0)} calls/s (${(seconds * 1e3).toFixed(3)} ms)`);
      rows.push({
        case: `exact 10×4096, ${name}`,
        callsPerSecond: 1 / seconds,
        msPerCall: seconds * 1e3,
        seconds: null,
        iterations: last.iterations,
        klDivergence: last.klDivergence,
      });
    }
    const sizes: [number, ('exact' | 'barnes-hut')[]][] = [
      [500, ['exact', 'barnes-hut']],
      [quick ? 1000 : 5000, ['barnes-hut']],
    ];
    for (const [n, methods] of sizes) {
      const data = clusteredPoints(n, 50);
      for (const method of methods) {
        const t = await time(() => (last = tsne(data, { rows: n, cols: 50, method })), {
          warmup: 0,
          minRuns: 1,
          minSeconds: 0,
        });
        log(
          `${method} ${n}×50: ${t.median.toFixed(2)} s, KL ${last.klDivergence.toFixed(4)}, ${last.iterations} iterations`
        );
        rows.push({
          case: `${method} ${n}×50`,
          callsPerSecond: null,
          msPerCall: null,
          seconds: t.median,
          iterations: last.iterations,
          klDivergence: last.klDivergence,
        });
      }
    }
    return rows;
  },
});
