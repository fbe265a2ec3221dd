import type { GraphNode, ModelGraph } from '../model-graph.js';
import type { ModelName } from '../model-names.js';
import { buildAlexNet } from './alexnet.js';
import { buildBase } from './base.js';
import { buildGoogLeNet } from './googlenet.js';
import { buildMitB0 } from './mit-b0.js';
import { buildResNet50 } from './resnet50.js';
import { buildSqueezeNet } from './squeezenet.js';
import { buildVgg19 } from './vgg19.js';

/** Adds a model's layers to `g` after input `x`; returns the logits node. */
export type Architecture = (g: ModelGraph, x: GraphNode, numClasses: number) => GraphNode;

export const ARCHITECTURES: Record<ModelName, Architecture> = {
  base: buildBase,
  alexnet: buildAlexNet,
  vgg19: buildVgg19,
  resnet50: buildResNet50,
  googlenet: buildGoogLeNet,
  squeezenet: buildSqueezeNet,
  'mit-b0': buildMitB0,
};
