import { createRng, type Rng, type Seed } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ModelArgumentError } from '../errors.js';
import { isModelName, type ModelName } from '../model-names.js';
import { describeDistribution, fill, type Distribution } from './distributions.js';
import { orthogonalMatrix } from './orthogonal.js';
import { parameterLayers, type ParameterLayer } from './parameter-layers.js';
import { INITIALIZER_NAMES, isInitializerName, layerPlan, type InitializerName } from './policies.js';

export interface LsuvOptions {
  /** Stop scaling a layer once |Var(output) − 1| is below this. @default 0.1 (Mishkin & Matas) */
  tolerance?: number;
  /** Scaling rounds per layer at most. @default 10 (Mishkin & Matas) */
  maxIterations?: number;
}

export interface InitializeOptions {
  /**
   * Seed of every weight draw (an integer or a string such as an experiment id); layer `name` draws from
   * `createRng(seed).fork('init').fork(name)`, so equal seeds give bit-identical weights on every backend. @default 0
   */
  seed?: Seed;
  /** Which model's constructor `pytorch-default` reproduces. @default model.name when it is a zoo name */
  architecture?: ModelName;
  /** `lsuv` only (required there): a batch of inputs `[n, height, width, channels]` the variances are measured on. */
  data?: tf.Tensor;
  lsuv?: LsuvOptions;
}

/** What was done to one weight-matrix layer. */
export interface LayerInitRecord {
  name: string;
  kind: ParameterLayer['kind'];
  fanIn: number;
  fanOut: number;
  weight: string;
  bias: string | null;
  /** `lsuv`: the layer output's variance on the data batch when scaling stopped, and the rounds taken. */
  lsuv?: { variance: number; iterations: number };
}

export interface InitializationReport {
  init: InitializerName;
  seed: Seed;
  layers: LayerInitRecord[];
}

/** Weight values in TF.js layout for one layer: i.i.d. draws fill the kernel directly; orthogonal goes via PyTorch's. */
function kernelValues(p: ParameterLayer, shape: number[], d: Distribution, random: Rng): tf.Tensor {
  if (d.kind !== 'orthogonal')
    return tf.tensor(fill(new Float32Array(shape.reduce((a, b) => a * b, 1)), d, random), shape);
  const torchMatrix = orthogonalMatrix(p.rows, p.fanIn, random, d.gain);
  const [kh = 1, kw = 1, channels = 1, last = 1] = shape;
  return tf.tidy(() => {
    switch (p.kind) {
      case 'dense': // torch [out, in] → [in, out]
        return tf.transpose(tf.tensor2d(torchMatrix, [p.rows, p.fanIn]));
      case 'conv': // torch [out, in, kh, kw] → [kh, kw, in, out]
        return tf.transpose(tf.tensor4d(torchMatrix, [last, channels, kh, kw]), [2, 3, 1, 0]);
      case 'depthwise': // torch [in·mult, 1, kh, kw] → [kh, kw, in, mult]
        return tf.transpose(tf.tensor4d(torchMatrix, [channels, last, kh, kw]), [2, 3, 0, 1]);
    }
  });
}

/** A seed `createRng` accepts: a safe integer or a string. */
export function isSeed(value: unknown): value is Seed {
  return typeof value === 'string' || (typeof value === 'number' && Number.isSafeInteger(value));
}

/** Layers whose weights start at 1 (scale, running variance) and 0 (shift, running mean). */
const NORM_CLASSES = new Set(['BatchNormalization', 'TorchBatchNorm', 'LayerNormalization']);

function resetNormLayers(model: tfl.LayersModel): void {
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (!NORM_CLASSES.has(cls)) continue;
    const values = layer.weights.map((w) =>
      /gamma|moving_variance/.test(w.originalName) ? tf.ones(w.shape as number[]) : tf.zeros(w.shape as number[])
    );
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/**
 * (Re-)initializes every weight of `model` in place with the named scheme and returns what it did per layer.
 * Weight-matrix layers follow `layerPlan` (see README for each scheme); BatchNorm/LayerNorm get weight 1, bias 0,
 * running mean 0 and variance 1 under every scheme. `lsuv` then rescales layer by layer on `options.data`.
 */
export function initializeModel(
  model: tfl.LayersModel,
  init: InitializerName,
  options: InitializeOptions = {}
): InitializationReport {
  const fn = 'initializeModel';
  if (!isInitializerName(init)) {
    throw new ModelArgumentError(fn, 'init', `must be one of ${INITIALIZER_NAMES.join(', ')}, got ${String(init)}`);
  }
  const seed = options.seed ?? 0;
  if (!isSeed(seed)) {
    throw new ModelArgumentError(fn, 'options.seed', `must be a safe integer or a string, got ${String(seed)}`);
  }
  const initRng = createRng(seed).fork('init');
  const architecture = options.architecture ?? (isModelName(model.name) ? model.name : undefined);
  if (init === 'lsuv' && !options.data) {
    throw new ModelArgumentError(fn, 'options.data', 'is required for lsuv: a batch of inputs to measure variances on');
  }
  resetNormLayers(model);
  const layers = parameterLayers(model);
  const records: LayerInitRecord[] = layers.map((p) => {
    const plan = layerPlan(init, architecture, p);
    const [kernel, bias] = p.layer.weights;
    const layerRng = initRng.fork(p.name);
    const values = [kernelValues(p, kernel?.shape as number[], plan.weight, layerRng.fork('weight'))];
    if (bias) {
      const random = layerRng.fork('bias');
      values.push(tf.tensor(fill(new Float32Array(bias.shape[0] ?? 0), plan.bias, random), bias.shape as number[]));
    }
    p.layer.setWeights(values);
    tf.dispose(values);
    return {
      name: p.name,
      kind: p.kind,
      fanIn: p.fanIn,
      fanOut: p.fanOut,
      weight: describeDistribution(plan.weight),
      bias: bias ? describeDistribution(plan.bias) : null,
    };
  });
  if (init === 'lsuv' && options.data) {
    const results = layerSequentialUnitVariance(model, layers, options.data, options.lsuv ?? {});
    records.forEach((r, i) => (r.lsuv = results[i]));
  }
  return { init, seed, layers: records };
}

/**
 * Mishkin & Matas (2016), "All you need is a good init", Algorithm 1, after the orthogonal pre-initialization: for
 * each weight layer in order, measure the variance of its output on the batch (inference mode) and divide its
 * weights by the standard deviation until the variance is within `tolerance` of 1 or `maxIterations` rounds passed.
 */
function layerSequentialUnitVariance(
  model: tfl.LayersModel,
  layers: ParameterLayer[],
  data: tf.Tensor,
  options: LsuvOptions
): Array<{ variance: number; iterations: number }> {
  const { tolerance = 0.1, maxIterations = 10 } = options;
  return layers.map((p) => {
    const probe = tfl.model({ inputs: model.inputs, outputs: p.layer.output as tfl.SymbolicTensor });
    const measure = () =>
      tf.tidy(() => {
        const y = probe.predict(data, { batchSize: data.shape[0] }) as tf.Tensor;
        return tf.moments(y).variance.dataSync()[0] ?? Number.NaN;
      });
    let variance = measure();
    let iterations = 0;
    // A dead (variance 0) or diverged layer has nothing to rescale.
    while (
      variance > 0 &&
      Number.isFinite(variance) &&
      Math.abs(variance - 1) >= tolerance &&
      iterations < maxIterations
    ) {
      const scale = 1 / Math.sqrt(variance);
      const kernel = p.layer.weights[0] as tfl.LayerVariable;
      const scaled = tf.tidy(() => tf.mul(kernel.read(), scale));
      kernel.write(scaled);
      scaled.dispose();
      iterations += 1;
      variance = measure();
    }
    return { variance, iterations };
  });
}
