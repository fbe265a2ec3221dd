import { createRng, type Rng, type Seed } from '@supwalsh/engine';
import { DatasetArgumentError } from './errors.js';
import { checkInteger, show } from './kinds.js';

/**
 * A seeded, random-access batch order: any worker can compute any batch of any epoch on its own, so the global
 * batches depend only on (size, batchSize, seed, shuffle, dropLast), never on the number of workers, and a run can
 * resume mid-epoch.
 */
export interface BatchSampler {
  /** Number of samples. */
  readonly size: number;
  readonly batchSize: number;
  /** `ceil(size / batchSize)`, or `floor` with `dropLast`. */
  readonly batchesPerEpoch: number;
  /** The sample order of `epoch` (0-based): a permutation of 0…size−1 (the identity without shuffling). A copy. */
  order(epoch: number): Uint32Array;
  /** The global sample indices of batch `index` of `epoch`: `order(epoch)` from `index·batchSize`, a new array. */
  batch(epoch: number, index: number): Uint32Array;
}

/** Options of `createBatchSampler`. */
export interface BatchSamplerOptions {
  /** Number of samples (≥ 1). */
  size: number;
  /** Samples per batch (≥ 1). */
  batchSize: number;
  /** The run's seed (an integer or a string). */
  seed: Seed;
  /** Reshuffle every epoch. @default true */
  shuffle?: boolean;
  /** Leave out the last batch when it is smaller than `batchSize`. @default false */
  dropLast?: boolean;
}

/** Largest sample count the samplers take (indices are uint32). */
export const MAX_SAMPLES = 2 ** 32 - 1;

/** A uniform random permutation of 0…n−1 by Fisher–Yates (the same swaps as the engine's `Rng.shuffle`). */
export function permutation(rng: Rng, n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = order[i] as number;
    order[i] = order[j] as number;
    order[j] = tmp;
  }
  return order;
}

/** Throws unless `epoch` is a non-negative safe integer. */
export function checkEpoch(fn: string, epoch: unknown): number {
  return checkInteger(fn, 'epoch', epoch, 0, Number.MAX_SAFE_INTEGER);
}

function checkSeed(fn: string, seed: unknown): Seed {
  if (!(typeof seed === 'string' || (typeof seed === 'number' && Number.isSafeInteger(seed)))) {
    throw new DatasetArgumentError(fn, 'options.seed', `must be a safe integer or a string; got ${show(seed)}`);
  }
  return seed;
}

/** Per-epoch permutations from `root` (a stream named by a label under the seed), keeping the last one computed. */
export function epochOrders(root: Rng, size: number, shuffle: boolean): (epoch: number) => Uint32Array {
  let cachedEpoch = -1;
  let cached: Uint32Array = new Uint32Array(0);
  return (epoch) => {
    if (epoch !== cachedEpoch) {
      if (shuffle) {
        cached = permutation(root.fork(epoch), size);
      } else if (cached.length !== size) {
        cached = new Uint32Array(size);
        for (let i = 0; i < size; i++) cached[i] = i;
      }
      cachedEpoch = epoch;
    }
    return cached;
  };
}

/**
 * Creates a batch sampler (see `BatchSampler`). Epoch e's order is a Fisher–Yates shuffle driven by the stream
 * `createRng(seed).fork('batches').fork(e)`; the last epoch's order is kept, so walking an epoch's batches shuffles
 * once.
 */
export function createBatchSampler(options: BatchSamplerOptions): BatchSampler {
  const fn = 'createBatchSampler';
  if (options === null || typeof options !== 'object') {
    throw new DatasetArgumentError(
      fn,
      'options',
      `must be an object with size, batchSize and seed; got ${show(options)}`
    );
  }
  const size = checkInteger(fn, 'options.size', options.size, 1, MAX_SAMPLES);
  const batchSize = checkInteger(fn, 'options.batchSize', options.batchSize, 1, MAX_SAMPLES);
  const seed = checkSeed(fn, options.seed);
  for (const flag of ['shuffle', 'dropLast'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') {
      throw new DatasetArgumentError(fn, `options.${flag}`, `must be true or false; got ${show(options[flag])}`);
    }
  }
  const shuffle = options.shuffle ?? true;
  const dropLast = options.dropLast ?? false;
  const batchesPerEpoch = dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
  const orderOf = epochOrders(createRng(seed).fork('batches'), size, shuffle);
  return {
    size,
    batchSize,
    batchesPerEpoch,
    order(epoch) {
      return orderOf(checkEpoch('BatchSampler.order', epoch)).slice();
    },
    batch(epoch, index) {
      const fnName = 'BatchSampler.batch';
      checkEpoch(fnName, epoch);
      if (batchesPerEpoch === 0) {
        throw new DatasetArgumentError(
          fnName,
          'index',
          `has no valid value: dropLast leaves no batch (size ${size} < batchSize ${batchSize})`
        );
      }
      checkInteger(fnName, 'index', index, 0, batchesPerEpoch - 1);
      const start = index * batchSize;
      return orderOf(epoch).slice(start, Math.min(start + batchSize, size));
    },
  };
}

/**
 * The contiguous share of `count` items that rank `rank` of `worldSize` takes: ranks get ⌊count/worldSize⌋ items
 * each and the first `count mod worldSize` ranks one more, in rank order, so the ranges cover 0…count−1 exactly once
 * (some are empty when count < worldSize).
 */
export function shardRange(count: number, rank: number, worldSize: number): { start: number; end: number } {
  const fn = 'shardRange';
  checkInteger(fn, 'count', count, 0, Number.MAX_SAFE_INTEGER);
  checkInteger(fn, 'worldSize', worldSize, 1, 1 << 20);
  checkInteger(fn, 'rank', rank, 0, worldSize - 1);
  const base = Math.floor(count / worldSize);
  const extra = count % worldSize;
  const start = rank * base + Math.min(rank, extra);
  return { start, end: start + base + (rank < extra ? 1 : 0) };
}

/** Rank `rank`'s share of `items` (a typed array or anything with `subarray`), as `shardRange` cuts it; a view. */
export function shard<T extends { subarray(start: number, end: number): T; length: number }>(
  items: T,
  rank: number,
  worldSize: number
): T {
  if (items === null || typeof items !== 'object' || typeof items.subarray !== 'function') {
    throw new DatasetArgumentError(
      'shard',
      'items',
      `must be a typed array (have subarray and length); got ${show(items)}`
    );
  }
  const { start, end } = shardRange(items.length, rank, worldSize);
  return items.subarray(start, end);
}
