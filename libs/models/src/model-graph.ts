import { deriveSeed, type Seed } from '@supwalsh/engine';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdaptiveAvgPool2d } from './layers/adaptive-avg-pool-2d.js';
import { DropPath } from './layers/drop-path.js';
import { MultiHeadAttention } from './layers/multi-head-attention.js';
import { SeededDropout } from './layers/seeded-dropout.js';
import { TorchBatchNorm } from './layers/torch-batch-norm.js';
import { TorchMaxPool2d } from './layers/torch-max-pool-2d.js';
import { convOutputSize, poolOutputSize } from './torch-shapes.js';

/** A value flowing through an architecture: its shape without the batch axis, and (unless dry) the TF.js tensor. */
export interface GraphNode {
  readonly shape: readonly number[];
  readonly tensor: tfl.SymbolicTensor | null;
}

/** Thrown inside a build when a layer's output would be empty; `buildModel` turns it into `InputTooSmallError`. */
export class LayerUnderflowError extends Error {
  override readonly name = 'LayerUnderflowError';
  constructor(
    readonly layer: string,
    readonly output: readonly number[]
  ) {
    super(`layer ${layer} would output a ${output.join(' × ')} map`);
  }
}

export interface ConvSpec {
  filters: number;
  kernel: number;
  stride?: number;
  padding?: number;
  bias?: boolean;
}

export interface PoolSpec {
  kernel: number;
  stride?: number;
  padding?: number;
  ceilMode?: boolean;
}

/**
 * Builds an architecture once for either purpose: `dryRun` only tracks shapes and parameter counts (no tensors, so
 * input-size checks and parameter tables cost nothing); otherwise every op adds the TF.js layer, named after the
 * torchvision module path (`features.0`, `layer1.0.conv2`, `inception3a.branch2.1.conv`, …). Weights start at
 * zero; `initializeModel` fills them. PyTorch semantics are reproduced op by op (explicit padding, ceil-mode pooling,
 * adaptive pooling, BatchNorm's running statistics), so output sizes always equal torchvision's.
 */
export class ModelGraph {
  /** Parameters created so far; BatchNorm's moving statistics are non-trainable, as in PyTorch. */
  readonly params = { trainable: 0, nonTrainable: 0 };
  private readonly inputs: tfl.SymbolicTensor[] = [];

  constructor(
    readonly modelName: string,
    readonly dryRun: boolean,
    readonly seed: Seed = 0
  ) {}

  input(shape: readonly number[]): GraphNode {
    const tensor = this.dryRun ? null : tfl.input({ shape: [...shape], name: 'input' });
    if (tensor) this.inputs.push(tensor);
    return { shape: [...shape], tensor };
  }

  /** The finished `tf.LayersModel` (null in a dry run). */
  finish(output: GraphNode): tfl.LayersModel | null {
    if (this.dryRun || !output.tensor) return null;
    return tfl.model({ inputs: this.inputs, outputs: output.tensor, name: this.modelName });
  }

  private apply(layer: () => tfl.layers.Layer, inputs: GraphNode | GraphNode[], shape: readonly number[]): GraphNode {
    if (this.dryRun) return { shape, tensor: null };
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const symbolic = list.map((n) => n.tensor as tfl.SymbolicTensor);
    const created = layer();
    const out = created.apply(symbolic.length === 1 ? (symbolic[0] as tfl.SymbolicTensor) : symbolic);
    const tensor = out as tfl.SymbolicTensor;
    // The TF.js layer must agree with the PyTorch arithmetic the dry run (and the size checks) rely on.
    if (tensor.shape.slice(1).join() !== shape.join()) {
      throw new Error(
        `${this.modelName}: layer ${created.name} gives [${tensor.shape.slice(1).join(', ')}], torchvision [${shape.join(', ')}]`
      );
    }
    return { shape, tensor };
  }

  private spatial(x: GraphNode, layer: string, size: (s: number) => number): [number, number, number] {
    const [h = 0, w = 0, c = 0] = x.shape;
    const out = [size(h), size(w)] as const;
    if (out[0] < 1 || out[1] < 1) throw new LayerUnderflowError(layer, out);
    return [out[0], out[1], c];
  }

  /** `nn.Conv2d` (or, with `depthwise`, `nn.Conv2d(groups=channels)`), explicit symmetric zero padding. */
  conv2d(x: GraphNode, name: string, spec: ConvSpec, depthwise = false): GraphNode {
    const { kernel, stride = 1, padding = 0, bias = true } = spec;
    const filters = depthwise ? (x.shape[2] ?? 0) : spec.filters;
    const [h, w, c] = this.spatial(x, name, (s) => convOutputSize(s, kernel, stride, padding));
    this.params.trainable += kernel * kernel * (depthwise ? 1 : c) * filters + (bias ? filters : 0);
    // 'same' equals PyTorch's padding only for stride 1 and padding (k − 1) / 2; otherwise pad explicitly.
    const same = padding > 0 && stride === 1 && 2 * padding === kernel - 1;
    let input = x;
    if (padding > 0 && !same) {
      const padded = [(x.shape[0] ?? 0) + 2 * padding, (x.shape[1] ?? 0) + 2 * padding, c];
      input = this.apply(() => tfl.layers.zeroPadding2d({ padding: padding, name: `${name}.pad` }), x, padded);
    }
    const common = {
      kernelSize: kernel,
      strides: stride,
      padding: same ? ('same' as const) : ('valid' as const),
      useBias: bias,
      biasInitializer: 'zeros' as const,
      name,
    };
    return this.apply(
      () =>
        depthwise
          ? tfl.layers.depthwiseConv2d({ ...common, depthMultiplier: 1, depthwiseInitializer: 'zeros' })
          : tfl.layers.conv2d({ ...common, filters, kernelInitializer: 'zeros' }),
      input,
      [h, w, filters]
    );
  }

  /** `nn.BatchNorm2d(eps)`, momentum 0.1, running variance updated with the unbiased batch variance (`TorchBatchNorm`). */
  batchNorm(x: GraphNode, name: string, epsilon = 1e-5): GraphNode {
    const c = x.shape[x.shape.length - 1] ?? 0;
    this.params.trainable += 2 * c;
    this.params.nonTrainable += 2 * c;
    return this.apply(() => new TorchBatchNorm({ momentum: 0.1, epsilon, name }), x, x.shape);
  }

  /** `nn.LayerNorm(channels, eps)` over the last axis. */
  layerNorm(x: GraphNode, name: string, epsilon: number): GraphNode {
    this.params.trainable += 2 * (x.shape[x.shape.length - 1] ?? 0);
    return this.apply(() => tfl.layers.layerNormalization({ axis: -1, epsilon, name }), x, x.shape);
  }

  /** Element-wise `ReLU` or exact (erf) `GELU`, as `nn.GELU()`. */
  activation(x: GraphNode, name: string, activation: 'relu' | 'gelu'): GraphNode {
    return this.apply(() => tfl.layers.activation({ activation, name }), x, x.shape);
  }

  relu(x: GraphNode, name: string): GraphNode {
    return this.activation(x, name, 'relu');
  }

  /** `nn.MaxPool2d(kernel, stride, padding, ceil_mode)`. */
  maxPool(x: GraphNode, name: string, spec: PoolSpec): GraphNode {
    const { kernel, stride = kernel, padding = 0, ceilMode = false } = spec;
    const shape = this.spatial(x, name, (s) => poolOutputSize(s, kernel, stride, padding, ceilMode));
    return this.apply(
      () => new TorchMaxPool2d({ kernelSize: kernel, strides: stride, padding, ceilMode, name }),
      x,
      shape
    );
  }

  /** `nn.AdaptiveAvgPool2d((height, width))`. */
  adaptiveAvgPool(x: GraphNode, name: string, size: [number, number]): GraphNode {
    const shape = [size[0], size[1], x.shape[2] ?? 0];
    return this.apply(() => new AdaptiveAvgPool2d({ outputSize: size, name }), x, shape);
  }

  /**
   * `torch.flatten(x, 1)`: a channels-last map is flattened in PyTorch's (C, H, W) order, so a Linear layer's
   * weights correspond one-to-one (transposed) to a torchvision state dict.
   */
  flatten(x: GraphNode, name: string): GraphNode {
    const size = x.shape.reduce((a, b) => a * b, 1);
    let input = x;
    if (x.shape.length === 3 && (x.shape[0] ?? 1) * (x.shape[1] ?? 1) > 1 && (x.shape[2] ?? 1) > 1) {
      const [h = 0, w = 0, c = 0] = x.shape;
      input = this.apply(() => tfl.layers.permute({ dims: [3, 1, 2], name: `${name}.chw` }), x, [c, h, w]);
    }
    return this.apply(() => tfl.layers.flatten({ name }), input, [size]);
  }

  /** `nn.Linear(in, units)` on the last axis (also on token sequences `[N, C]`). */
  dense(x: GraphNode, name: string, units: number, bias = true): GraphNode {
    const inputs = x.shape[x.shape.length - 1] ?? 0;
    this.params.trainable += inputs * units + (bias ? units : 0);
    const shape = [...x.shape.slice(0, -1), units];
    return this.apply(
      () => tfl.layers.dense({ units, useBias: bias, kernelInitializer: 'zeros', biasInitializer: 'zeros', name }),
      x,
      shape
    );
  }

  /** `nn.Dropout(rate)` with reproducible masks (`SeededDropout`). */
  dropout(x: GraphNode, name: string, rate: number): GraphNode {
    const seed = deriveSeed(this.seed, 'dropout', name);
    return this.apply(() => new SeededDropout({ rate, seed, name }), x, x.shape);
  }

  /** Stochastic depth on a residual branch (`DropPath`), per-sample masks seeded like `dropout`'s. */
  dropPath(x: GraphNode, name: string, rate: number): GraphNode {
    const seed = deriveSeed(this.seed, 'drop_path', name);
    return this.apply(() => new DropPath({ rate, seed, name }), x, x.shape);
  }

  add(xs: GraphNode[], name: string): GraphNode {
    return this.apply(() => tfl.layers.add({ name }), xs, xs[0]?.shape ?? []);
  }

  /** `torch.cat(xs, 1)`: channel concatenation. */
  concat(xs: GraphNode[], name: string): GraphNode {
    const first = xs[0]?.shape ?? [];
    const channels = xs.reduce((sum, n) => sum + (n.shape[n.shape.length - 1] ?? 0), 0);
    return this.apply(() => tfl.layers.concatenate({ axis: -1, name }), xs, [...first.slice(0, -1), channels]);
  }

  reshape(x: GraphNode, name: string, shape: number[]): GraphNode {
    return this.apply(() => tfl.layers.reshape({ targetShape: shape, name }), x, shape);
  }

  /** Mean over the token axis of `[N, C]`. */
  meanTokens(x: GraphNode, name: string): GraphNode {
    return this.apply(() => tfl.layers.globalAveragePooling1d({ name }), x, x.shape.slice(-1));
  }

  /** Multi-head softmax attention of queries `[N, C]` over fused keys/values `[M, 2C]`. */
  attention(q: GraphNode, kv: GraphNode, name: string, numHeads: number): GraphNode {
    return this.apply(() => new MultiHeadAttention({ numHeads, name }), [q, kv], q.shape);
  }
}
