import { fwht, hadamard } from '@supwalsh/walsh';
import { defineBenchmark } from '../benchmark.js';
import { time } from '../timing.js';

/** The O(n²) product H·x the fast transform replaces (rows generated on the fly above 4096 to bound memory). */
function naiveTransform(x: Float64Array, h: Int8Array[] | null): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    const row = h?.[i];
    if (row) {
      for (let j = 0; j < n; j++) acc += row[j]! * x[j]!;
    } else {
      for (let j = 0; j < n; j++) {
        let b = i & j;
        b ^= b >>> 16;
        b ^= b >>> 8;
        b ^= b >>> 4;
        b ^= b >>> 2;
        b ^= b >>> 1;
        acc += b & 1 ? -x[j]! : x[j]!;
      }
    }
    out[i] = acc;
  }
  return out;
}

export default defineBenchmark({
  name: 'fwht',
  description: 'fast Walsh–Hadamard transform vs the naive matrix product, n = 16 … 65 536',
  async run({ log }) {
    const rows = [];
    for (let n = 16; n <= 65_536; n *= 4) {
      const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
      const work = Float64Array.from(x);
      const fast = await time(() => fwht(work.set(x) ?? work), { minSeconds: 0.5 });
      const h = n <= 4096 ? hadamard(n) : null;
      const naive = await time(() => naiveTransform(x, h), { minSeconds: 0.5, minRuns: 3, warmup: 1 });
      log(`n=${n}: fwht ${(fast.median * 1e6).toFixed(1)} µs, naive ${(naive.median * 1e6).toFixed(1)} µs`);
      rows.push({
        n,
        fwhtMicros: fast.median * 1e6,
        naiveMicros: naive.median * 1e6,
        speedup: naive.median / fast.median,
      });
    }
    return rows;
  },
});
