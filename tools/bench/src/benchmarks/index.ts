import type { Benchmark } from '../benchmark.js';
import fwht from './fwht.js';

/** Every benchmark `npm run bench -- <name>` knows, in the order `--list` shows them. */
export const BENCHMARKS: readonly Benchmark[] = [fwht];
