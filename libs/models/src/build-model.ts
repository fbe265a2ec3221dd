import type { Seed } from '@supwalsh/engine';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ARCHITECTURES } from './architectures/index.js';
import { InputTooSmallError, ModelArgumentError } from './errors.js';
import { initializeModel, isSeed, type InitializationReport, type LsuvOptions } from './init/initialize-model.js';
import { INITIALIZER_NAMES, isInitializerName, type InitializerName } from './init/policies.js';
import { LayerUnderflowError, ModelGraph } from './model-graph.js';
import { MODEL_NAMES, isModelName, type ModelName } from './model-names.js';

/** The input the original feeds every model: 64 × 64 grey images. */
export const DEFAULT_INPUT_SHAPE: readonly [number, number, number] = [64, 64, 1];
export const DEFAULT_NUM_CLASSES = 10;
/** Largest height/width `minimumInputSize` searches. */
const MAX_SEARCHED_SIZE = 4096;

export interface BuildModelOptions {
  /** `[height, width, channels]`, channels-last. @default [64, 64, 1] */
  inputShape?: readonly number[];
  /** Logits produced (no softmax, like torchvision). @default 10 */
  numClasses?: number;
  /** Weight initialization scheme. @default 'pytorch-default' */
  init?: InitializerName;
  /** Seed (integer or string) of the weights and of the dropout masks: equal seeds give identical models. @default 0 */
  seed?: Seed;
  /** `lsuv` only (required there): a batch of inputs `[n, ...inputShape]`. */
  data?: tf.Tensor;
  lsuv?: LsuvOptions;
}

export interface ModelDescription {
  name: ModelName;
  inputShape: [number, number, number];
  numClasses: number;
  /** Parameters an optimizer updates (weights, biases, norm scales and shifts). */
  trainableParams: number;
  /** BatchNorm's running mean and variance. */
  nonTrainableParams: number;
}

interface Resolved {
  name: ModelName;
  inputShape: [number, number, number];
  numClasses: number;
  init: InitializerName;
  seed: Seed;
}

function resolve(fn: string, name: unknown, options: BuildModelOptions): Resolved {
  if (!isModelName(name)) {
    throw new ModelArgumentError(fn, 'name', `must be one of ${MODEL_NAMES.join(', ')}, got ${JSON.stringify(name)}`);
  }
  const shape = options.inputShape ?? DEFAULT_INPUT_SHAPE;
  if (shape.length !== 3 || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new ModelArgumentError(
      fn,
      'options.inputShape',
      `must be [height, width, channels] of positive integers, got ${JSON.stringify(shape)}`
    );
  }
  const numClasses = options.numClasses ?? DEFAULT_NUM_CLASSES;
  if (!Number.isSafeInteger(numClasses) || numClasses < 1) {
    throw new ModelArgumentError(fn, 'options.numClasses', `must be a positive integer, got ${numClasses}`);
  }
  const init = options.init ?? 'pytorch-default';
  if (!isInitializerName(init)) {
    throw new ModelArgumentError(
      fn,
      'options.init',
      `must be one of ${INITIALIZER_NAMES.join(', ')}, got ${String(init)}`
    );
  }
  const seed = options.seed ?? 0;
  if (!isSeed(seed)) {
    throw new ModelArgumentError(fn, 'options.seed', `must be a safe integer or a string, got ${String(seed)}`);
  }
  return { name, inputShape: [shape[0], shape[1], shape[2]] as [number, number, number], numClasses, init, seed };
}

function run(graph: ModelGraph, r: Resolved): tfl.LayersModel | null {
  const logits = ARCHITECTURES[r.name](graph, graph.input(r.inputShape), r.numClasses);
  return graph.finish(logits);
}

/** Shapes only: the graph is traced without creating any layer; throws `InputTooSmallError` like `buildModel`. */
function dryRun(fn: string, r: Resolved): ModelGraph {
  const graph = new ModelGraph(r.name, true, r.seed);
  try {
    run(graph, r);
  } catch (error: unknown) {
    if (error instanceof LayerUnderflowError) {
      throw new InputTooSmallError(fn, r.name, r.inputShape, error.layer, error.output, minimumInputSize(r.name));
    }
    throw error;
  }
  return graph;
}

/**
 * The smallest height (and, independently, width) `name` accepts: below it some pooling or strided conv would
 * produce an empty map. At least 57 for AlexNet, 32 for VGG-19, for instance.
 */
export function minimumInputSize(name: ModelName): number | null {
  if (!isModelName(name)) {
    throw new ModelArgumentError(
      'minimumInputSize',
      'name',
      `must be one of ${MODEL_NAMES.join(', ')}, got ${String(name)}`
    );
  }
  for (let size = 1; size <= MAX_SEARCHED_SIZE; size++) {
    try {
      run(new ModelGraph(name, true), { name, inputShape: [size, size, 1], numClasses: 1, init: 'zero', seed: 0 });
      return size;
    } catch (error: unknown) {
      if (!(error instanceof LayerUnderflowError)) throw error;
    }
  }
  return null;
}

/** Parameter counts and validated shapes of a model, without building it (no tensors are created). */
export function describeModel(
  name: ModelName,
  options: Omit<BuildModelOptions, 'data' | 'lsuv'> = {}
): ModelDescription {
  const r = resolve('describeModel', name, options);
  const graph = dryRun('describeModel', r);
  return {
    name: r.name,
    inputShape: r.inputShape,
    numClasses: r.numClasses,
    trainableParams: graph.params.trainable,
    nonTrainableParams: graph.params.nonTrainable,
  };
}

/** A model and the record of how its weights were initialized. */
export interface BuiltModel {
  model: tfl.LayersModel;
  init: InitializationReport;
}

/**
 * Builds one of the zoo's models as a `tf.LayersModel` producing logits `[batch, numClasses]` from channels-last
 * inputs `[batch, ...inputShape]`, initialized by `options.init` with `options.seed`. Inputs too small for the
 * model's downsampling are rejected (`InputTooSmallError`) before any tensor is created. Train with
 * `model.apply(x, { training: true })` (dropout and BatchNorm in training mode) inside an optimizer step.
 */
export function buildModelWithReport(name: ModelName, options: BuildModelOptions = {}): BuiltModel {
  const fn = 'buildModel';
  const r = resolve(fn, name, options);
  if (r.init === 'lsuv' && !options.data) {
    throw new ModelArgumentError(fn, 'options.data', 'is required for lsuv: a batch of inputs to measure variances on');
  }
  dryRun(fn, r);
  const model = run(new ModelGraph(r.name, false, r.seed), r) as tfl.LayersModel;
  const init = initializeModel(model, r.init, {
    seed: r.seed,
    architecture: r.name,
    ...(options.data ? { data: options.data } : {}),
    ...(options.lsuv ? { lsuv: options.lsuv } : {}),
  });
  return { model, init };
}

/** `buildModelWithReport(name, options).model`. */
export function buildModel(name: ModelName, options: BuildModelOptions = {}): tfl.LayersModel {
  return buildModelWithReport(name, options).model;
}

/** Trainable and non-trainable (BatchNorm running statistics) parameter counts of a built model. */
export function countParameters(model: tfl.LayersModel): { trainable: number; nonTrainable: number } {
  const size = (ws: readonly tfl.LayerVariable[]) =>
    ws.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 0), 1), 0);
  return { trainable: size(model.trainableWeights), nonTrainable: size(model.nonTrainableWeights) };
}
