import type { ModelName } from '../model-names.js';
import type { Distribution } from './distributions.js';
import type { ParameterLayer } from './parameter-layers.js';

/** Every initializer `buildModel` / `initializeModel` accepts. */
export const INITIALIZER_NAMES = [
  'pytorch-default',
  'pytorch-reset',
  'zero',
  'random',
  'he',
  'xavier',
  'orthogonal',
  'lsuv',
] as const;

export type InitializerName = (typeof INITIALIZER_NAMES)[number];

export function isInitializerName(value: unknown): value is InitializerName {
  return typeof value === 'string' && (INITIALIZER_NAMES as readonly string[]).includes(value);
}

/** How one weight-matrix layer is initialized. */
export interface LayerPlan {
  weight: Distribution;
  bias: Distribution;
}

const ZERO: Distribution = { kind: 'zeros' };

/** PyTorch's `reset_parameters` for Linear and Conv: kaiming_uniform(a = √5) ⇒ U(±1/√fan_in), bias U(±1/√fan_in). */
export function torchReset(p: ParameterLayer): LayerPlan {
  const bound = 1 / Math.sqrt(p.fanIn);
  return { weight: { kind: 'uniform', bound }, bias: { kind: 'uniform', bound } };
}

/** `kaiming_normal_(mode='fan_out', nonlinearity='relu')`, bias 0 (torchvision VGG, ResNet). */
function kaimingNormalFanOut(p: ParameterLayer): LayerPlan {
  return { weight: { kind: 'normal', std: Math.sqrt(2 / p.fanOut) }, bias: ZERO };
}

/**
 * Layers the original replaced after construction to take one input channel and ten classes. A replaced layer is a
 * fresh `nn.Conv2d`/`nn.Linear`, so it has PyTorch's reset_parameters, not the constructor's initialization.
 */
export const REPLACED_LAYERS: Record<ModelName, readonly string[]> = {
  base: [],
  alexnet: ['features.0', 'classifier.6'],
  vgg19: ['features.0', 'classifier.6'],
  resnet50: ['conv1', 'fc'],
  googlenet: ['conv1.conv', 'fc'],
  squeezenet: ['features.0', 'classifier.1'],
  'mit-b0': ['patch_embed1.proj', 'head'],
};

/**
 * The "without" arm of the original: what the torchvision (or SegFormer) constructor leaves in each layer, with the
 * adapted layers reset as fresh PyTorch modules. Per model:
 * - base, alexnet: no custom initialization, so every layer has reset_parameters;
 * - vgg19: convs kaiming_normal(fan_out, relu), Linear N(0, 0.01²), biases 0;
 * - resnet50: convs kaiming_normal(fan_out, relu) (no biases), BatchNorm 1/0, fc reset_parameters (not re-initialized);
 * - googlenet (init_weights = True, torchvision's default with a warning): convs and Linear trunc_normal(0, 0.01, ±2);
 * - squeezenet: convs kaiming_uniform(a = 0) ⇒ U(±√(6/fan_in)), final_conv N(0, 0.01²), biases 0;
 * - mit-b0 (`MixVisionTransformer._init_weights`): Linear trunc_normal(0, 0.02, ±2), convs N(0, 2/fan_out) with
 *   fan_out = k²·out/groups, biases 0, LayerNorm 1/0.
 * Norm layers are always weight 1, bias 0 (running mean 0, variance 1).
 */
export function torchConstructorPlan(model: ModelName | undefined, p: ParameterLayer): LayerPlan {
  if (!model || REPLACED_LAYERS[model].includes(p.name)) return torchReset(p);
  switch (model) {
    case 'base':
    case 'alexnet':
      return torchReset(p);
    case 'vgg19':
      return p.kind === 'dense' ? { weight: { kind: 'normal', std: 0.01 }, bias: ZERO } : kaimingNormalFanOut(p);
    case 'resnet50':
      return p.kind === 'dense' ? torchReset(p) : kaimingNormalFanOut(p);
    case 'googlenet':
      return { weight: { kind: 'normal', std: 0.01, truncate: 2 }, bias: ZERO };
    case 'squeezenet':
      return { weight: { kind: 'uniform', bound: Math.sqrt(6 / p.fanIn) }, bias: ZERO };
    case 'mit-b0':
      return p.kind === 'dense'
        ? { weight: { kind: 'normal', std: 0.02, truncate: 2 }, bias: ZERO }
        : { weight: { kind: 'normal', std: Math.sqrt(2 / (p.receptiveField * p.groupOutputs)) }, bias: ZERO };
  }
}

/** The plan of one layer under a data-independent initializer (`lsuv` starts from `orthogonal`). */
export function layerPlan(init: InitializerName, model: ModelName | undefined, p: ParameterLayer): LayerPlan {
  switch (init) {
    case 'pytorch-default':
      return torchConstructorPlan(model, p);
    case 'pytorch-reset':
      return torchReset(p);
    case 'zero':
      return { weight: ZERO, bias: ZERO };
    case 'random':
      return { weight: { kind: 'normal', std: 0.01 }, bias: ZERO };
    case 'he':
      return { weight: { kind: 'normal', std: Math.sqrt(2 / p.fanIn) }, bias: ZERO };
    case 'xavier':
      return { weight: { kind: 'uniform', bound: Math.sqrt(6 / (p.fanIn + p.fanOut)) }, bias: ZERO };
    case 'orthogonal':
    case 'lsuv':
      return { weight: { kind: 'orthogonal', gain: 1 }, bias: ZERO };
  }
}
