import type { Matrix } from './distances-impl.js';
import { TsneArgumentError } from './errors.js';
import type { TsnePhase } from './gradient-descent-impl.js';

/** `'exact'`: O(N²) per iteration, dense P — the fast path for few points. `'barnes-hut'`: O(N log N), sparse P. */
export type TsneMethod = 'exact' | 'barnes-hut';

/** `'pca'`: first principal components, column 0 scaled to std 1e-4. `'random'`: N(0, 1e-4²) from the seed. */
export type TsneInit = 'pca' | 'random';

/** Row-major rows × cols values, or one array per row. */
export type TsneData = Float32Array | Float64Array | readonly (readonly number[])[];

/** What `onProgress` receives at every convergence check (every 50 iterations). */
export interface TsneProgress {
  /** Iterations performed so far, counted across both phases (50, 100, …). */
  readonly iteration: number;
  readonly phase: TsnePhase;
  /** KL divergence at this iteration — of the exaggerated P while `phase` is `'exaggeration'`, as scikit-learn. */
  readonly klDivergence: number;
  /** Norm of the gain-scaled gradient, the quantity compared with `minGradNorm`. */
  readonly gradNorm: number;
}

/** Where log lines go (scikit-learn's `verbose` output); `console` fits. Nothing is logged without one. */
export interface TsneLogger {
  debug(message: string): void;
  warn(message: string): void;
}

/** Per-call options, also accepted by a runner's `run` (where they override the runner's). */
export interface TsneCallOptions {
  /** Seed of the random initialisation (and of the tree building that PCA / kNN use). @default 0 */
  seed?: number;
  /**
   * Checked before the first iteration and after every progress report; `tsneAsync` / `runAsync` also check it
   * whenever they get control back from the event loop. An aborted run throws `signal.reason`.
   */
  signal?: AbortSignal;
  /** Called every 50 iterations (scikit-learn's check interval). */
  onProgress?: (progress: TsneProgress) => void;
  /** Receives scikit-learn's verbose lines at `debug`, and advice at `warn`. */
  logger?: TsneLogger;
}

export interface TsneOptions extends TsneCallOptions {
  /** Number of points. Required for typed-array data unless `cols` is given (then inferred). */
  rows?: number;
  /** Input dimensionality. Required for typed-array data unless `rows` is given (then inferred). */
  cols?: number;
  /** Embedding dimensionality: any positive integer for `'exact'`, 2 or 3 for `'barnes-hut'`. @default 2 */
  dims?: number;
  /** Effective number of neighbours; must be below `rows`. @default 30 */
  perplexity?: number;
  /** Factor on P during the first `explorationIter` iterations; at least 1. @default 12 */
  earlyExaggeration?: number;
  /** Step size, or `'auto'` = max(rows / earlyExaggeration / 4, 50). @default 'auto' */
  learningRate?: number | 'auto';
  /** Most iterations in all (scikit-learn's `max_iter`; scikit-learn requires ≥ 250, here ≥ 1). @default 1000 */
  maxIter?: number;
  /** Iterations of the early-exaggeration phase (scikit-learn's fixed `_EXPLORATION_MAX_ITER`). @default 250 */
  explorationIter?: number;
  /** Stop the final phase after this many iterations without a lower KL (checked every 50). @default 300 */
  iterWithoutProgress?: number;
  /** Stop a phase once the gradient norm is at most this. @default 1e-7 */
  minGradNorm?: number;
  /** @default 'exact' */
  method?: TsneMethod;
  /** Barnes–Hut accuracy/speed trade-off (scikit-learn's `angle`), 0 … 1; 0 is exact. @default 0.5 */
  theta?: number;
  /** Initial embedding: `'pca'`, `'random'`, or rows × dims values. @default 'pca' */
  init?: TsneInit | Float64Array;
  /** Degrees of freedom α of the Student-t kernel. @default max(dims − 1, 1), as scikit-learn */
  degreesOfFreedom?: number;
}

/** The embedding and how the optimisation ended. */
export interface TsneResult {
  /** rows × dims, row-major. */
  readonly embedding: Float64Array;
  /** KL(P‖Q) at the last iteration (Barnes–Hut: its approximation), scikit-learn's `kl_divergence_`. */
  readonly klDivergence: number;
  /** Gradient steps performed (scikit-learn's `n_iter_` is this minus one). */
  readonly iterations: number;
}

/** The defaults, scikit-learn's except `method` (`'exact'`: the Sup-Walsh hot path embeds ~10 points). */
export const defaultTsneOptions = {
  dims: 2,
  perplexity: 30,
  earlyExaggeration: 12,
  learningRate: 'auto',
  maxIter: 1000,
  explorationIter: 250,
  iterWithoutProgress: 300,
  minGradNorm: 1e-7,
  method: 'exact',
  theta: 0.5,
  init: 'pca',
  seed: 0,
} as const satisfies TsneOptions;

/** Options after validation, with every default filled in. */
export interface ResolvedTsneOptions {
  rows: number;
  cols: number;
  dims: number;
  perplexity: number;
  earlyExaggeration: number;
  learningRate: number;
  maxIter: number;
  explorationIter: number;
  iterWithoutProgress: number;
  minGradNorm: number;
  method: TsneMethod;
  theta: number;
  init: TsneInit | Float64Array;
  degreesOfFreedom: number;
  seed: number;
}

const METHODS: readonly TsneMethod[] = ['exact', 'barnes-hut'];
const INITS: readonly TsneInit[] = ['pca', 'random'];

/** Turns any accepted data form into a row-major matrix with its shape; validates the shape. */
export function toMatrix(
  fn: string,
  data: TsneData,
  options: { rows?: number | undefined; cols?: number | undefined }
): { matrix: Matrix; rows: number; cols: number } {
  let matrix: Matrix;
  let rows: number;
  let cols: number;
  if (data instanceof Float32Array || data instanceof Float64Array) {
    if (data.length === 0) throw new TsneArgumentError(fn, 'data', 'must not be empty, got 0 values');
    matrix = data;
    if (options.rows === undefined && options.cols === undefined) {
      throw new TsneArgumentError(fn, 'options.rows', 'must be given (or options.cols) for typed-array data');
    }
    rows = options.rows ?? data.length / options.cols!;
    cols = options.cols ?? data.length / options.rows!;
    checkCount(fn, 'options.rows', rows);
    checkCount(fn, 'options.cols', cols);
    if (rows * cols !== data.length) {
      throw new TsneArgumentError(
        fn,
        'data.length',
        `must equal rows × cols = ${rows} × ${cols} = ${rows * cols}, got ${data.length}`
      );
    }
  } else if (Array.isArray(data)) {
    rows = data.length;
    const first: unknown = data[0];
    if (rows === 0 || !Array.isArray(first) || first.length === 0) {
      throw new TsneArgumentError(fn, 'data', `must not be empty, got ${rows} rows`);
    }
    cols = first.length;
    if (options.rows !== undefined && options.rows !== rows) {
      throw new TsneArgumentError(fn, 'options.rows', `must match data (${rows} rows), got ${options.rows}`);
    }
    if (options.cols !== undefined && options.cols !== cols) {
      throw new TsneArgumentError(fn, 'options.cols', `must match data (${cols} columns), got ${options.cols}`);
    }
    const flat = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row: unknown = data[r];
      if (!Array.isArray(row) || row.length !== cols) {
        const got = Array.isArray(row) ? `${row.length} values` : typeof row;
        throw new TsneArgumentError(fn, `data[${r}]`, `must be an array of ${cols} numbers like data[0], got ${got}`);
      }
      for (let c = 0; c < cols; c++) {
        const v: unknown = row[c];
        if (typeof v !== 'number')
          throw new TsneArgumentError(fn, `data[${r}][${c}]`, `must be a number, got ${typeof v}`);
        flat[r * cols + c] = v;
      }
    }
    matrix = flat;
  } else {
    throw new TsneArgumentError(fn, 'data', 'must be a Float32Array, a Float64Array or an array of number arrays');
  }
  if (rows < 2) throw new TsneArgumentError(fn, 'data', `must have at least 2 rows (points), got ${rows}`);
  return { matrix, rows, cols };
}

function checkCount(fn: string, argument: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new TsneArgumentError(fn, argument, `must be a positive integer, got ${value}`);
  }
}

/** Throws TsneArgumentError naming the first out-of-range option; returns them with defaults filled in. */
export function resolveTsneOptions(fn: string, options: TsneOptions, rows: number, cols: number): ResolvedTsneOptions {
  const d = defaultTsneOptions;
  const method = options.method ?? d.method;
  if (!METHODS.includes(method)) {
    throw new TsneArgumentError(fn, 'options.method', `must be one of ${METHODS.join(', ')}, got ${String(method)}`);
  }
  const dims = options.dims ?? d.dims;
  if (!Number.isInteger(dims) || dims < 1) {
    throw new TsneArgumentError(fn, 'options.dims', `must be a positive integer, got ${dims}`);
  }
  if (method === 'barnes-hut' && dims !== 2 && dims !== 3) {
    throw new TsneArgumentError(fn, 'options.dims', `must be 2 or 3 for method 'barnes-hut', got ${dims}`);
  }
  const init = options.init ?? d.init;
  if (init instanceof Float64Array) {
    if (init.length !== rows * dims) {
      throw new TsneArgumentError(
        fn,
        'options.init',
        `must hold rows × dims = ${rows * dims} values, got ${init.length}`
      );
    }
    for (let i = 0; i < init.length; i++) {
      if (!Number.isFinite(init[i]))
        throw new TsneArgumentError(fn, 'options.init', `must be finite, got ${init[i]} at ${i}`);
    }
  } else if (!INITS.includes(init)) {
    throw new TsneArgumentError(
      fn,
      'options.init',
      `must be one of ${INITS.join(', ')} or a Float64Array, got ${String(init)}`
    );
  } else if (init === 'pca' && dims > Math.min(rows, cols)) {
    throw new TsneArgumentError(
      fn,
      'options.dims',
      `must be at most min(rows, cols) = ${Math.min(rows, cols)} with init 'pca', got ${dims}`
    );
  }
  const perplexity = options.perplexity ?? d.perplexity;
  if (!(perplexity > 0 && perplexity < rows)) {
    throw new TsneArgumentError(
      fn,
      'options.perplexity',
      `must be greater than 0 and less than the number of rows (${rows}), got ${perplexity}`
    );
  }
  const earlyExaggeration = options.earlyExaggeration ?? d.earlyExaggeration;
  if (!(earlyExaggeration >= 1 && Number.isFinite(earlyExaggeration))) {
    throw new TsneArgumentError(
      fn,
      'options.earlyExaggeration',
      `must be a finite number ≥ 1, got ${earlyExaggeration}`
    );
  }
  const lr = options.learningRate ?? d.learningRate;
  if (lr !== 'auto' && !(typeof lr === 'number' && lr > 0 && Number.isFinite(lr))) {
    throw new TsneArgumentError(fn, 'options.learningRate', `must be 'auto' or a finite number > 0, got ${String(lr)}`);
  }
  const learningRate = lr === 'auto' ? Math.max(rows / earlyExaggeration / 4, 50) : lr;
  const maxIter = integerAtLeast(fn, 'options.maxIter', options.maxIter ?? d.maxIter, 1);
  const explorationIter = integerAtLeast(
    fn,
    'options.explorationIter',
    options.explorationIter ?? d.explorationIter,
    0
  );
  const iterWithoutProgress = integerAtLeast(
    fn,
    'options.iterWithoutProgress',
    options.iterWithoutProgress ?? d.iterWithoutProgress,
    0
  );
  const minGradNorm = options.minGradNorm ?? d.minGradNorm;
  if (!(minGradNorm >= 0 && Number.isFinite(minGradNorm))) {
    throw new TsneArgumentError(fn, 'options.minGradNorm', `must be a finite number ≥ 0, got ${minGradNorm}`);
  }
  const theta = options.theta ?? d.theta;
  if (!(theta >= 0 && theta <= 1)) {
    throw new TsneArgumentError(fn, 'options.theta', `must be from 0 to 1, got ${theta}`);
  }
  const degreesOfFreedom = options.degreesOfFreedom ?? Math.max(dims - 1, 1);
  if (!(degreesOfFreedom > 0 && Number.isFinite(degreesOfFreedom))) {
    throw new TsneArgumentError(fn, 'options.degreesOfFreedom', `must be a finite number > 0, got ${degreesOfFreedom}`);
  }
  const seed = checkSeed(fn, options.seed ?? d.seed);
  return {
    rows,
    cols,
    dims,
    perplexity,
    earlyExaggeration,
    learningRate,
    maxIter,
    explorationIter,
    iterWithoutProgress,
    minGradNorm,
    method,
    theta,
    init,
    degreesOfFreedom,
    seed,
  };
}

/** Throws unless the seed is a safe integer. */
export function checkSeed(fn: string, seed: number): number {
  if (!Number.isSafeInteger(seed))
    throw new TsneArgumentError(fn, 'options.seed', `must be a safe integer, got ${seed}`);
  return seed;
}

function integerAtLeast(fn: string, argument: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new TsneArgumentError(fn, argument, `must be an integer ≥ ${min}, got ${value}`);
  }
  return value;
}
