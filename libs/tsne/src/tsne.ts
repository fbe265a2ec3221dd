import { type BarnesHutScratch, barnesHutKlGradient } from './barnes-hut-gradient-impl.js';
import { bruteForceNeighbors } from './brute-knn-impl.js';
import { centerGram, firstNonFinite, gramMatrix, type Matrix, squaredDistancesFromGram } from './distances-impl.js';
import { TsneArgumentError, TsneRunnerBusyError } from './errors.js';
import { type ExactScratch, exactKlGradient } from './exact-gradient-impl.js';
import { GradientDescent, type Objective } from './gradient-descent-impl.js';
import { symmetrizeDense, symmetrizeSparse } from './joint-probabilities-impl.js';
import { finishPcaInit, INIT_STD, pcaScoresFromCenteredGram, pcaScoresFromData } from './pca-impl.js';
import { binarySearchPerplexity } from './perplexity-impl.js';
import { createRandom } from './random.js';
import { SpaceTree } from './space-tree-impl.js';
import {
  checkSeed,
  type ResolvedTsneOptions,
  resolveTsneOptions,
  type TsneCallOptions,
  type TsneData,
  type TsneOptions,
  type TsneResult,
  toMatrix,
} from './tsne-options.js';
import { nearestNeighbors } from './vp-tree-impl.js';

/** Most columns for which Barnes–Hut finds neighbours with a vantage-point tree (brute force above). */
export const KNN_TREE_MAX_COLS = 15;

/** Most rows the exact method accepts: it keeps four rows × rows float64 matrices (3.2 GB at this size). */
export const MAX_EXACT_ROWS = 10_000;

/**
 * t-SNE embedding of rows × cols data, scikit-learn's `TSNE(...).fit_transform` with its defaults (except
 * `method`, `'exact'` here): perplexity-calibrated Gaussian affinities, symmetrised P, 250 iterations of early
 * exaggeration with momentum 0.5, then momentum 0.8, gains, learning rate `'auto'`, PCA initialisation.
 * Deterministic: the same data, options and seed give bit-identical results.
 *
 * Synchronous: `signal` can only stop it from inside `onProgress` (or before it starts); use `tsneAsync` to
 * cancel from elsewhere. For many small calls of one shape, `createTsne` reuses the buffers.
 *
 * @throws TsneArgumentError for empty or non-finite data, rows·cols ≠ data.length, perplexity ≥ rows, an
 *   unknown method or init, dims outside the method's range, or any other option out of range.
 */
export function tsne(data: TsneData, options: TsneOptions = {}): TsneResult {
  const { matrix, rows, cols } = toMatrix('tsne', data, options);
  const resolved = resolve('tsne', options, rows, cols);
  return execute('tsne', resolved, new Workspace(resolved), matrix, options, undefined);
}

/**
 * `tsne` that gives the event loop a turn every ~10–30 ms of iterations, so that an `AbortSignal` fired
 * elsewhere (a timeout, a cancelled request) stops it between iterations. Same result as `tsne`, bit for bit.
 */
export async function tsneAsync(data: TsneData, options: TsneOptions = {}): Promise<TsneResult> {
  const { matrix, rows, cols } = toMatrix('tsneAsync', data, options);
  const resolved = resolve('tsneAsync', options, rows, cols);
  return executeAsync('tsneAsync', resolved, new Workspace(resolved), matrix, options, undefined);
}

/** Per-call options of a runner: `TsneCallOptions`, plus where to write the embedding. */
export interface TsneRunOptions extends TsneCallOptions {
  /** Receives the embedding (rows × dims) instead of a newly allocated array; returned as `embedding`. */
  out?: Float64Array;
}

/** A t-SNE set up once for one shape and one set of options, reusing its buffers on every call. */
export interface TsneRunner {
  /** The validated options, defaults filled in (learning rate resolved). */
  readonly options: Readonly<ResolvedTsneOptions>;
  /** `tsne(data, options)` on this runner's buffers; `call` overrides seed, signal, progress and logger. */
  run(data: Float32Array | Float64Array, call?: TsneRunOptions): TsneResult;
  /** `tsneAsync` on this runner's buffers; the runner refuses other calls until it settles. */
  runAsync(data: Float32Array | Float64Array, call?: TsneRunOptions): Promise<TsneResult>;
}

/**
 * Validates the options once and allocates every buffer an exact run of this shape needs (P, kernel, gradient,
 * gains, Gram and eigen scratch), so that repeated calls — Sup-Walsh's one t-SNE per pretraining batch on ~10
 * points of 4096 dimensions — allocate no buffer, only a few small objects and the returned embedding (not even
 * that with `out`). A runner serves one call at a time.
 * @throws TsneArgumentError as `tsne`, and when `rows` or `cols` is missing.
 */
export function createTsne(options: TsneOptions & { rows: number; cols: number }): TsneRunner {
  const fn = 'createTsne';
  for (const key of ['rows', 'cols'] as const) {
    const v = options[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new TsneArgumentError(fn, `options.${key}`, `must be a positive integer, got ${String(v)}`);
    }
  }
  if (options.rows < 2) throw new TsneArgumentError(fn, 'options.rows', `must be at least 2, got ${options.rows}`);
  const resolved = resolve(fn, options, options.rows, options.cols);
  const workspace = new Workspace(resolved);
  let busy = false;
  const check = (method: string, data: unknown): Matrix => {
    if (busy) throw new TsneRunnerBusyError(method);
    if (!(data instanceof Float32Array || data instanceof Float64Array)) {
      throw new TsneArgumentError(method, 'data', 'must be a Float32Array or a Float64Array');
    }
    if (data.length !== resolved.rows * resolved.cols) {
      throw new TsneArgumentError(
        method,
        'data.length',
        `must equal rows × cols = ${resolved.rows} × ${resolved.cols} = ${resolved.rows * resolved.cols}, got ${data.length}`
      );
    }
    return data;
  };
  return {
    options: resolved,
    run(data, call = {}) {
      const matrix = check('TsneRunner.run', data);
      busy = true;
      try {
        return execute('TsneRunner.run', resolved, workspace, matrix, { ...options, ...call }, call.out);
      } finally {
        busy = false;
      }
    },
    async runAsync(data, call = {}) {
      const matrix = check('TsneRunner.runAsync', data);
      busy = true;
      try {
        return await executeAsync(
          'TsneRunner.runAsync',
          resolved,
          workspace,
          matrix,
          { ...options, ...call },
          call.out
        );
      } finally {
        busy = false;
      }
    },
  };
}

function resolve(fn: string, options: TsneOptions, rows: number, cols: number): ResolvedTsneOptions {
  const resolved = resolveTsneOptions(fn, options, rows, cols);
  if (resolved.method === 'exact' && rows > MAX_EXACT_ROWS) {
    throw new TsneArgumentError(
      fn,
      'options.method',
      `'exact' handles at most ${MAX_EXACT_ROWS} rows (it stores rows² probabilities), got ${rows}; use 'barnes-hut'`
    );
  }
  if (resolved.method === 'exact' && rows > 5000) {
    options.logger?.warn(`[t-SNE] exact method on ${rows} points: O(N²) per iteration; consider 'barnes-hut'`);
  }
  return resolved;
}

/** Every buffer one run needs, sized for one shape; exact runs allocate nothing else. */
class Workspace {
  readonly y: Float64Array;
  readonly grad: Float64Array;
  readonly update: Float64Array;
  readonly gains: Float64Array;
  readonly betas: Float64Array;
  /** Exact method: Gram, squared distances (later eigenvectors), joint P, kernel scratch, row means, eigenvalues. */
  readonly exact: {
    gram: Float64Array;
    dist: Float64Array;
    p: Float64Array;
    scratch: ExactScratch;
    rowMeans: Float64Array;
    values: Float64Array;
    /** 4 × 4 dot-product block of the Gram kernel. */
    block: Float64Array;
  } | null;
  readonly barnesHut: BarnesHutScratch | null;

  constructor(o: ResolvedTsneOptions) {
    const n = o.rows;
    const len = n * o.dims;
    this.y = new Float64Array(len);
    this.grad = new Float64Array(len);
    this.update = new Float64Array(len);
    this.gains = new Float64Array(len);
    this.betas = new Float64Array(n);
    if (o.method === 'exact') {
      this.exact = {
        gram: new Float64Array(n * n),
        dist: new Float64Array(n * n),
        p: new Float64Array(n * n),
        scratch: { w: new Float64Array(n * n), u: new Float64Array(o.degreesOfFreedom === 1 ? 0 : n * n) },
        rowMeans: new Float64Array(n),
        values: new Float64Array(n),
        block: new Float64Array(16),
      };
      this.barnesHut = null;
    } else {
      this.exact = null;
      this.barnesHut = { tree: new SpaceTree(o.dims as 2 | 3), negative: new Float64Array(len) };
    }
  }
}

interface Job {
  descent: GradientDescent;
  finish(): TsneResult;
}

/** Affinities, initial embedding and optimiser for one call. */
function startJob(
  fn: string,
  o: ResolvedTsneOptions,
  ws: Workspace,
  data: Matrix,
  call: TsneCallOptions,
  out: Float64Array | undefined
): Job {
  const seed = checkSeed(fn, call.seed ?? o.seed);
  const { signal, onProgress, logger } = call;
  if (out !== undefined && (!(out instanceof Float64Array) || out.length !== o.rows * o.dims)) {
    throw new TsneArgumentError(fn, 'out', `must be a Float64Array of rows × dims = ${o.rows * o.dims} values`);
  }
  if (signal?.aborted) throw signal.reason;
  const { rows: n, cols, dims } = o;
  const random = createRandom(seed);
  const { y } = ws;
  if (o.init === 'random') for (let k = 0; k < n * dims; k++) y[k] = INIT_STD * random.normal();
  else if (o.init instanceof Float64Array) y.set(o.init);

  let objective: Objective;
  if (ws.exact) {
    const { gram, dist, p, scratch, rowMeans, values } = ws.exact;
    gramMatrix(data, n, cols, gram, ws.exact.block);
    for (let i = 0; i < n; i++) if (!Number.isFinite(gram[i * n + i])) throwNonFinite(fn, data, cols);
    squaredDistancesFromGram(gram, n, dist);
    // scikit-learn hands the perplexity search float32 distances (exact for integer pixels, then rounded).
    for (let a = 0; a < n * n; a++) dist[a] = Math.fround(dist[a]!);
    binarySearchPerplexity(dist, n, n, false, o.perplexity, scratch.w, ws.betas);
    symmetrizeDense(scratch.w, n, p);
    if (o.init === 'pca') {
      if (n <= cols) {
        centerGram(gram, n, rowMeans);
        pcaScoresFromCenteredGram(gram, n, dims, y, { vectors: dist, values }, random);
      } else {
        pcaScoresFromData(data, n, cols, dims, y, random);
      }
      finishPcaInit(y, n, dims);
    }
    const dof = o.degreesOfFreedom;
    objective = (yy, grad, exaggeration, computeError) =>
      exactKlGradient(yy, p, n, dims, dof, exaggeration, grad, scratch, computeError);
  } else {
    if (firstNonFinite(data) >= 0) throwNonFinite(fn, data, cols);
    const k = Math.min(n - 1, Math.floor(3 * o.perplexity + 1));
    logger?.debug(`[t-SNE] Computing ${k} nearest neighbors...`);
    // scikit-learn's NearestNeighbors(algorithm='auto'): brute force above 15 columns or for k ≥ n/2, else a tree.
    const nn =
      cols > KNN_TREE_MAX_COLS || k >= n >> 1
        ? bruteForceNeighbors(data, n, cols, k)
        : nearestNeighbors(data, n, cols, k, random);
    // As scikit-learn (`distances.sort_indices()`, then float32): each row's neighbours in column order.
    sortRowsByColumn(nn.indices, nn.sqDistances, n, k);
    for (let a = 0; a < n * k; a++) nn.sqDistances[a] = Math.fround(nn.sqDistances[a]!);
    const conditional = new Float64Array(n * k);
    binarySearchPerplexity(nn.sqDistances, n, k, true, o.perplexity, conditional, ws.betas);
    const p = symmetrizeSparse(conditional, nn.indices, n, k);
    if (o.init === 'pca') {
      pcaScoresFromData(data, n, cols, dims, y, random);
      finishPcaInit(y, n, dims);
    }
    const scratch = ws.barnesHut!;
    const bhDims = dims as 2 | 3;
    const { degreesOfFreedom: dof, theta } = o;
    objective = (yy, grad, exaggeration, computeError) =>
      barnesHutKlGradient(yy, p, bhDims, dof, theta, exaggeration, grad, scratch, computeError);
  }
  if (logger) logAffinities(logger, ws.betas, n);
  // scikit-learn's embedding is float32 from the start (the optimiser keeps it there).
  for (let a = 0; a < n * dims; a++) y[a] = Math.fround(y[a]!);

  const descent = new GradientDescent(objective, y, ws.grad, ws.update, ws.gains, {
    maxIter: o.maxIter,
    explorationIter: o.explorationIter,
    earlyExaggeration: o.earlyExaggeration,
    learningRate: o.learningRate,
    iterWithoutProgress: o.iterWithoutProgress,
    minGradNorm: o.minGradNorm,
    onCheck: (iteration, phase, klDivergence, gradNorm) => {
      logger?.debug(
        `[t-SNE] Iteration ${iteration}: error = ${klDivergence.toFixed(7)}, gradient norm = ${gradNorm.toFixed(7)}`
      );
      onProgress?.({ iteration, phase, klDivergence, gradNorm });
      if (signal?.aborted) throw signal.reason;
    },
    onPhaseEnd: logger
      ? (phase, iterations, error) => {
          if (iterations === 0) return;
          const what = phase === 'exaggeration' ? ' with early exaggeration' : '';
          logger.debug(`[t-SNE] KL divergence after ${iterations} iterations${what}: ${error.toFixed(6)}`);
        }
      : undefined,
  });
  return {
    descent,
    finish() {
      // Only when maxIter ≤ explorationIter did the run end exaggerated; report the true KL then.
      const kl = descent.lastExaggeration === 1 ? descent.error : objective(y, ws.grad, 1, true);
      const embedding = out ?? new Float64Array(n * dims);
      embedding.set(y);
      return { embedding, klDivergence: kl, iterations: descent.performed };
    },
  };
}

function execute(
  fn: string,
  o: ResolvedTsneOptions,
  ws: Workspace,
  data: Matrix,
  call: TsneCallOptions,
  out: Float64Array | undefined
): TsneResult {
  const job = startJob(fn, o, ws, data, call, out);
  job.descent.advance(Infinity);
  return job.finish();
}

async function executeAsync(
  fn: string,
  o: ResolvedTsneOptions,
  ws: Workspace,
  data: Matrix,
  call: TsneCallOptions,
  out: Float64Array | undefined
): Promise<TsneResult> {
  const job = startJob(fn, o, ws, data, call, out);
  let chunk = 1;
  for (;;) {
    const start = Date.now();
    if (job.descent.advance(chunk)) break;
    const elapsed = Date.now() - start;
    if (elapsed < 10 && chunk < 1 << 16) chunk *= 2;
    else if (elapsed > 30 && chunk > 1) chunk >>= 1;
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    if (call.signal?.aborted) throw call.signal.reason;
  }
  return job.finish();
}

/** Sorts each row's k (index, distance) pairs by index, in place (k is small: insertion sort). */
function sortRowsByColumn(indices: Int32Array, values: Float64Array, n: number, k: number): void {
  for (let i = 0; i < n; i++) {
    const o = i * k;
    for (let t = 1; t < k; t++) {
      const idx = indices[o + t]!;
      const v = values[o + t]!;
      let s = t - 1;
      while (s >= 0 && indices[o + s]! > idx) {
        indices[o + s + 1] = indices[o + s]!;
        values[o + s + 1] = values[o + s]!;
        s--;
      }
      indices[o + s + 1] = idx;
      values[o + s + 1] = v;
    }
  }
}

function throwNonFinite(fn: string, data: Matrix, cols: number): never {
  const at = firstNonFinite(data);
  if (at < 0) {
    throw new TsneArgumentError(fn, 'data', 'must be finite; its squared norms overflow float64 (values too large)');
  }
  const r = Math.floor(at / cols);
  throw new TsneArgumentError(
    fn,
    'data',
    `must be finite, got ${data[at]} at index ${at} (row ${r}, column ${at - r * cols})`
  );
}

function logAffinities(logger: { debug(m: string): void }, betas: Float64Array, n: number): void {
  let betaSum = 0;
  for (let i = 0; i < n; i++) betaSum += betas[i]!;
  logger.debug(`[t-SNE] Computed conditional probabilities for sample ${n} / ${n}`);
  logger.debug(`[t-SNE] Mean sigma: ${Math.sqrt(n / betaSum).toFixed(6)}`);
}
