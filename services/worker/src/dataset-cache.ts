import { loadDataset, type ImageSet, type LoadDatasetOptions } from '@supwalsh/datasets';
import type { ResolvedDataset } from '@supwalsh/method';
import { silentWorkerLogger, type WorkerLogger } from './logger.js';

/** A run's two splits. */
export interface DatasetSplits {
  readonly train: ImageSet;
  readonly test: ImageSet;
}

/** Options of {@link createDatasetCache}. */
export interface DatasetCacheOptions {
  /**
   * The worker's data directory: a run without a dataset root is searched for here first (`<dataDir>/<kind dir>`),
   * then where @supwalsh/datasets looks by default (Debian's Fashion-MNIST, `~/.cache/supwalsh/data`).
   */
  dataDir?: string;
  /** On-disk cache of preprocessed splits (@supwalsh/datasets' `cacheDir`). @default its default */
  cacheDir?: string;
  /** Splits kept in memory, most recently used first (runs of one experiment share them). @default 2 */
  keep?: number;
  logger?: WorkerLogger;
  /** Replaces `loadDataset` (tests). */
  load?: (options: LoadDatasetOptions) => Promise<ImageSet>;
}

/** Loads a run's train and test splits, keeping the last few in memory. */
export interface DatasetCache {
  load(dataset: ResolvedDataset, root: string | undefined): Promise<DatasetSplits>;
}

/** A per-process cache of loaded splits in front of @supwalsh/datasets' `loadDataset`. */
export function createDatasetCache(options: DatasetCacheOptions = {}): DatasetCache {
  const keep = options.keep ?? 2;
  const load = options.load ?? loadDataset;
  const logger = options.logger ?? silentWorkerLogger;
  const entries = new Map<string, Promise<DatasetSplits>>();
  return {
    load(dataset, root) {
      const key = JSON.stringify([dataset, root]);
      let entry = entries.get(key);
      if (entry) {
        entries.delete(key); // re-inserted below as the most recent
      } else {
        const base = {
          kind: dataset.kind,
          imageSize: dataset.imageSize,
          resizeRoute: dataset.resizeRoute,
          logger,
          ...(root === undefined ? {} : { root }),
          ...(options.dataDir === undefined ? {} : { env: { ...process.env, SUPWALSH_DATA_DIR: options.dataDir } }),
          ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
        };
        const loading = Promise.all([
          load({
            ...base,
            split: 'train',
            ...(dataset.trainSubset === undefined ? {} : { subset: dataset.trainSubset }),
          }),
          load({ ...base, split: 'test', ...(dataset.testSubset === undefined ? {} : { subset: dataset.testSubset }) }),
        ]).then(([train, test]) => ({ train, test }));
        // A failed load is not kept: the next run tries again (the files may have been fixed).
        loading.catch(() => {
          if (entries.get(key) === loading) entries.delete(key);
        });
        entry = loading;
      }
      entries.set(key, entry);
      while (entries.size > keep) entries.delete(entries.keys().next().value as string);
      return entry;
    },
  };
}
