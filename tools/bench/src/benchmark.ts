/** One measurement row of a benchmark; keys become the Markdown table's columns, in order. */
export type BenchRow = Record<string, string | number | boolean | null>;

export interface BenchContext {
  /** Free-form arguments after the benchmark's name (`npm run bench -- tsne --quick`). */
  readonly args: readonly string[];
  /** Progress lines for the person watching; never part of the results. */
  log(message: string): void;
  /** Records the compute backend the rows were measured on (shown in `machine.backend`). */
  setBackend(backend: string): void;
}

export interface Benchmark {
  /** The name given on the command line and used for `bench-results/<name>.json`. */
  readonly name: string;
  /** One line shown by `npm run bench -- --list`. */
  readonly description: string;
  run(context: BenchContext): Promise<BenchRow[]>;
}

/** Identity helper that gives a benchmark definition its type. */
export function defineBenchmark(benchmark: Benchmark): Benchmark {
  return benchmark;
}

/** The value after `name` in a benchmark's arguments (`--sizes 4K,16M` → `'4K,16M'`), or undefined. */
export function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
