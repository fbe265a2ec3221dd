import { createRng, type Seed } from '@supwalsh/engine';
import { DatasetArgumentError } from './errors.js';
import { checkInteger, show } from './kinds.js';
import { checkEpoch, epochOrders, MAX_SAMPLES } from './sampler.js';

/** One class group: a sample of every class present in one shuffled batch. */
export interface ClassGroup {
  /** The epoch (0-based). */
  readonly epoch: number;
  /** The batch of that epoch it was drawn from (0-based). */
  readonly index: number;
  /** Global sample indices, one per class present in the batch, ordered by class. */
  readonly indices: Uint32Array;
  /** The class of each entry of `indices` (ascending). */
  readonly classes: Uint8Array;
  /** Classes with no sample in the batch, ascending; they are left out of `indices`. Usually empty. */
  readonly missing: readonly number[];
}

/**
 * Sup-Walsh's sampler for pretraining: per epoch the samples are shuffled and cut into batches of `batchSize` (the
 * original's `DataLoader(shuffle=True, batch_size=200)`), and for each batch one sample of every class is drawn
 * uniformly among that batch's samples of the class. Random access and seeded like `BatchSampler`.
 */
export interface ClassGroupSampler {
  /** `ceil(n / batchSize)`: one group per batch, the last batch possibly smaller. */
  readonly groupsPerEpoch: number;
  /** The group of batch `index` of `epoch`. */
  group(epoch: number, index: number): ClassGroup;
  /** The global sample indices of batch `index` of `epoch`, the batch that group is drawn from (a new array). */
  batch(epoch: number, index: number): Uint32Array;
}

/** Options of `createClassGroupSampler`. */
export interface ClassGroupSamplerOptions {
  /** The training labels (one per sample, each below numClasses). */
  labels: Uint8Array;
  /** Number of classes K (1…256). */
  numClasses: number;
  /** Samples per batch the groups are drawn from (the original uses 200). */
  batchSize: number;
  /** The run's seed (an integer or a string). */
  seed: Seed;
}

/**
 * Creates a class-group sampler (see `ClassGroupSampler`). Its epoch orders come from the stream
 * `createRng(seed).fork('class-group-batches').fork(epoch)` and its picks from
 * `createRng(seed).fork('class-group-picks').fork(epoch).fork(index)`: independent of a `createBatchSampler` with
 * the same seed, and of how many workers ask.
 */
export function createClassGroupSampler(options: ClassGroupSamplerOptions): ClassGroupSampler {
  const fn = 'createClassGroupSampler';
  if (options === null || typeof options !== 'object') {
    throw new DatasetArgumentError(
      fn,
      'options',
      `must be an object with labels, numClasses, batchSize and seed; got ${show(options)}`
    );
  }
  const { labels } = options;
  if (!(labels instanceof Uint8Array) || labels.length === 0) {
    throw new DatasetArgumentError(fn, 'options.labels', `must be a non-empty Uint8Array; got ${show(labels)}`);
  }
  if (labels.length > MAX_SAMPLES) {
    throw new DatasetArgumentError(
      fn,
      'options.labels',
      `must hold at most ${MAX_SAMPLES} labels; got ${labels.length}`
    );
  }
  const numClasses = checkInteger(fn, 'options.numClasses', options.numClasses, 1, 256);
  const batchSize = checkInteger(fn, 'options.batchSize', options.batchSize, 1, MAX_SAMPLES);
  const { seed } = options;
  if (!(typeof seed === 'string' || (typeof seed === 'number' && Number.isSafeInteger(seed)))) {
    throw new DatasetArgumentError(fn, 'options.seed', `must be a safe integer or a string; got ${show(seed)}`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= numClasses) {
      throw new DatasetArgumentError(
        fn,
        `options.labels[${i}]`,
        `must be below numClasses (${numClasses}); got ${labels[i]}`
      );
    }
  }
  const n = labels.length;
  const groupsPerEpoch = Math.ceil(n / batchSize);
  const root = createRng(seed);
  const orderOf = epochOrders(root.fork('class-group-batches'), n, true);
  const picks = root.fork('class-group-picks');
  const counts = new Uint32Array(numClasses);
  const chosen = new Int32Array(numClasses);
  return {
    groupsPerEpoch,
    batch(epoch, index) {
      const b = 'ClassGroupSampler.batch';
      checkEpoch(b, epoch);
      checkInteger(b, 'index', index, 0, groupsPerEpoch - 1);
      return orderOf(epoch).slice(index * batchSize, Math.min((index + 1) * batchSize, n));
    },
    group(epoch, index) {
      const g = 'ClassGroupSampler.group';
      checkEpoch(g, epoch);
      checkInteger(g, 'index', index, 0, groupsPerEpoch - 1);
      const order = orderOf(epoch);
      const start = index * batchSize;
      const end = Math.min(start + batchSize, n);
      counts.fill(0);
      for (let i = start; i < end; i++) counts[labels[order[i]!]!]!++;
      // One uniform draw per present class, in class order: the rank of its pick among the batch's samples of it.
      const rng = picks.fork(epoch).fork(index);
      const missing: number[] = [];
      for (let k = 0; k < numClasses; k++) {
        if (counts[k] === 0) missing.push(k);
        chosen[k] = counts[k] === 0 ? -1 : rng.int(counts[k]!);
      }
      const present = numClasses - missing.length;
      const indices = new Uint32Array(present);
      const classes = new Uint8Array(present);
      const slot = new Int32Array(numClasses);
      for (let k = 0, s = 0; k < numClasses; k++) slot[k] = counts[k] === 0 ? -1 : s++;
      for (let i = start; i < end; i++) {
        const sample = order[i]!;
        const k = labels[sample]!;
        if (chosen[k] === 0) {
          indices[slot[k]!] = sample;
          classes[slot[k]!] = k;
        }
        chosen[k]!--;
      }
      return Object.freeze({ epoch, index, indices, classes, missing: Object.freeze(missing) });
    },
  };
}
