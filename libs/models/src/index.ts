/**
 * @supwalsh/models — the original's seven classifiers (Base MLP, AlexNet, VGG-19, ResNet-50, GoogLeNet,
 * SqueezeNet 1.0, MiT-b0) as TF.js layers models with torchvision's semantics and exact parameter counts, and the
 * initializers the experiments compare (PyTorch default, zero, random, He, Xavier, orthogonal, LSUV), all seeded.
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
export { InputTooSmallError, ModelArgumentError } from './errors.js';
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
export { MultiHeadAttention, type MultiHeadAttentionArgs } from './layers/multi-head-attention.js';
export { SeededDropout, type SeededDropoutArgs } from './layers/seeded-dropout.js';
export { TorchMaxPool2d, type TorchMaxPool2dArgs } from './layers/torch-max-pool-2d.js';
export { isModelName, MODEL_NAMES, type ModelName } from './model-names.js';
