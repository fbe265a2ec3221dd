/**
 * @supwalsh/engine — the compute engine every supwalsh library trains through: it picks the fastest TF.js backend
 * (`initEngine`), adds the training kernels the wasm backend lacks, fuses gradients into flat all-reduce buckets,
 * (de)serializes weights, and gives seeded randomness so runs are reproducible.
 *
 * TF.js itself is imported from `@tensorflow/tfjs-core` and `@tensorflow/tfjs-layers` directly (one deduplicated
 * copy per install); call `initEngine()` before the first tensor op.
 * @module
 */
export {
  createBucketLayout,
  DEFAULT_BUCKET_BYTES,
  flattenGradients,
  unflattenGradients,
  type BucketLayout,
  type BucketOptions,
  type BucketSegment,
  type BucketVariable,
  type GradientBuckets,
  type Gradients,
  type NamedGradient,
} from './buckets.js';
export { availableCores, CGROUP_CPU_FILES, cgroupQuota, type AvailableCoresOptions } from './cores.js';
export { BackendUnavailableError, EngineArgumentError, KernelConfigError, WeightsFormatError } from './errors.js';
export {
  BACKEND_CHOICES,
  engineInfo,
  initEngine,
  MAX_THREADS_OPTION,
  NATIVE_GPU_REQUIREMENTS,
  NATIVE_PACKAGES,
  type BackendChoice,
  type BackendName,
  type EngineInfo,
  type EngineOptions,
  type NativePackage,
} from './init-engine.js';
export { createTileGradConfig, registerEngineGradients } from './gradients/tile-grad.js';
export { conv2dBackpropFilterWasm } from './kernels/conv2d-backprop-filter.js';
export { conv2dBackpropInputWasm } from './kernels/conv2d-backprop-input.js';
export {
  DEPTHWISE_FILTER_GRAD_BLOCK,
  depthwiseConv2dNativeBackpropFilterWasm,
} from './kernels/depthwise-conv2d-native-backprop-filter.js';
export { depthwiseConv2dNativeBackpropInputWasm } from './kernels/depthwise-conv2d-native-backprop-input.js';
export { nativeWasmKernel, registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './kernels/register-all.js';
export {
  ADAM_UPDATE_KERNEL,
  adamUpdate,
  SGD_UPDATE_KERNEL,
  sgdUpdate,
  type AdamUpdateConfig,
  type SgdUpdateConfig,
} from './optim/optimizer-updates.js';
export { maxPoolGradWasm } from './kernels/max-pool-grad.js';
export { unsortedSegmentSumWasm } from './kernels/unsorted-segment-sum.js';
export { silentLogger, type EngineLogger } from './logger.js';
export { createRng, deriveSeed, type Rng, type Seed } from './rng.js';
export {
  loadTfjsModel,
  saveTfjsModel,
  TFJS_MODEL_FILES,
  tfjsFileHandler,
  type SaveTfjsModelOptions,
} from './tfjs-model.js';
export { WASM_MAX_THREADS, WASM_THREADS_PINNED_VERSION } from './wasm-threads.js';
export {
  readWeightsHeader,
  WEIGHTS_FORMAT_VERSION,
  WEIGHTS_MAGIC,
  weightsFromBytes,
  weightsToBytes,
  type WeightEntry,
  type WeightsFromBytesOptions,
} from './weights.js';
