import { performance } from 'node:perf_hooks';

export interface TimingOptions {
  /** Untimed calls before measuring. @default 2 */
  warmup?: number;
  /** Stop once this many seconds have been measured… @default 1 */
  minSeconds?: number;
  /** …and at least this many calls timed. @default 5 */
  minRuns?: number;
  /** Never time more calls than this. @default 10_000 */
  maxRuns?: number;
}

export interface Timing {
  /** Median seconds per call. */
  median: number;
  /** Fastest call in seconds. */
  min: number;
  runs: number;
}

/** Times `fn` repeatedly and reports the median, robust to the odd slow call on a shared machine. */
export async function time(fn: () => unknown, options: TimingOptions = {}): Promise<Timing> {
  const { warmup = 2, minSeconds = 1, minRuns = 5, maxRuns = 10_000 } = options;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  let total = 0;
  while (samples.length < maxRuns && (samples.length < minRuns || total < minSeconds)) {
    const start = performance.now();
    await fn();
    const seconds = (performance.now() - start) / 1000;
    samples.push(seconds);
    total += seconds;
  }
  samples.sort((a, b) => a - b);
  return { median: samples[samples.length >> 1] as number, min: samples[0] as number, runs: samples.length };
}
