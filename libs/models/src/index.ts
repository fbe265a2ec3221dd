/**
 * @supwalsh/models — the original's seven classifiers (Base MLP, AlexNet, VGG-19, ResNet-50, GoogLeNet,
 * SqueezeNet 1.0, MiT-b0) as TF.js layers models with torchvision's semantics and exact parameter counts, and the
 * initializers the experiments compare (PyTorch default, zero, random, He, Xavier, orthogonal, LSUV), all seeded;
 * and the loader of Hugging Face's ImageNet MiT-b0 weights (`nvidia/mit-b0`) the original starts MiT-b0 from.
 * @module
 */
export {
  buildModel,
  buildModelWithReport,
  countParameters,
  DEFAULT_INPUT_SHAPE,
  DEFAULT_NUM_CLASSES,
  describeModel,
  minimumInputSize,
  type BuildModelOptions,
  type BuiltModel,
  type ModelDescription,
} from './build-model.js';
export { setDropoutStep } from './dropout-step.js';
export { InputTooSmallError, ModelArgumentError, PretrainedWeightsError } from './errors.js';
export {
  initializeModel,
  type InitializationReport,
  type InitializeOptions,
  type LayerInitRecord,
  type LsuvOptions,
} from './init/initialize-model.js';
export { orthogonalMatrix } from './init/orthogonal.js';
export { parameterLayers, type ParameterLayer, type ParameterLayerKind } from './init/parameter-layers.js';
export {
  INITIALIZER_NAMES,
  isInitializerName,
  REPLACED_LAYERS,
  type InitializerName,
  type LayerPlan,
} from './init/policies.js';
export { AdaptiveAvgPool2d, type AdaptiveAvgPool2dArgs } from './layers/adaptive-avg-pool-2d.js';
export { DropPath, type DropPathArgs } from './layers/drop-path.js';
export { MultiHeadAttention, type MultiHeadAttentionArgs } from './layers/multi-head-attention.js';
export { SeededDropout, type SeededDropoutArgs } from './layers/seeded-dropout.js';
export { TorchBatchNorm, type TorchBatchNormArgs } from './layers/torch-batch-norm.js';
export { TorchMaxPool2d, type TorchMaxPool2dArgs } from './layers/torch-max-pool-2d.js';
export type { BatchWindow } from './layers/seeded-mask.js';
export { isModelName, MODEL_NAMES, type ModelName } from './model-names.js';
export {
  applyPretrainedWeights,
  loadPretrainedWeights,
  type LoadPretrainedOptions,
  type PretrainedLoadReport,
} from './pretrained/load-pretrained.js';
export { SEGFORMER_CONFIG_DEFAULTS, type MitHyperParameters } from './pretrained/mit-weight-map.js';
export {
  decodeTensor,
  parseSafetensors,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsFile,
} from './pretrained/safetensors.js';
