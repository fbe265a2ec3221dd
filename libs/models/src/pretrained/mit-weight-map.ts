import type * as tfl from '@tensorflow/tfjs-layers';
import { DropPath } from '../layers/drop-path.js';
import { MultiHeadAttention } from '../layers/multi-head-attention.js';

/**
 * How one of our weights is laid out relative to the Hugging Face tensor(s) it comes from:
 * - `dense`: `nn.Linear.weight [out, in]` → Dense kernel `[in, out]` (transposed);
 * - `conv`: `nn.Conv2d.weight [out, in, kh, kw]` → Conv2D kernel `[kh, kw, in, out]`;
 * - `depthwise`: `nn.Conv2d(groups = c).weight [c, 1, kh, kw]` → DepthwiseConv2D kernel `[kh, kw, c, 1]`;
 * - `vector`: biases and LayerNorm weight/bias, as stored;
 * - `dense-concat` / `vector-concat`: the fused kv, from `key` then `value` concatenated along the output axis.
 */
export type WeightLayout = 'dense' | 'conv' | 'depthwise' | 'vector' | 'dense-concat' | 'vector-concat';

export interface WeightSource {
  /** Our layer (a torchvision-style module path, e.g. `block2.1.attn.kv`). */
  readonly layer: string;
  /** The TF.js weight's name within its layer (`kernel`, `bias`, `gamma`, `beta`, `depthwise_kernel`). */
  readonly weight: string;
  /** Our weight's shape. */
  readonly shape: readonly number[];
  /** The Hugging Face tensor names, without the `segformer.` prefix (two for the fused kv: key, then value). */
  readonly from: readonly string[];
  readonly layout: WeightLayout;
}

/** The Hugging Face config.json fields that describe a Mix Transformer's weights and training. */
export interface MitHyperParameters {
  num_encoder_blocks: number;
  hidden_sizes: number[];
  depths: number[];
  num_attention_heads: number[];
  sr_ratios: number[];
  patch_sizes: number[];
  strides: number[];
  mlp_ratios: number[];
  drop_path_rate: number;
}

/** Hugging Face `SegformerConfig`'s defaults (MiT-b0), used where config.json omits a field, as `from_pretrained`. */
export const SEGFORMER_CONFIG_DEFAULTS = {
  num_encoder_blocks: 4,
  hidden_sizes: [32, 64, 160, 256],
  depths: [2, 2, 2, 2],
  num_attention_heads: [1, 2, 5, 8],
  sr_ratios: [8, 4, 2, 1],
  patch_sizes: [7, 3, 3, 3],
  strides: [4, 2, 2, 2],
  mlp_ratios: [4, 4, 4, 4],
  drop_path_rate: 0.1,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0,
  attention_probs_dropout_prob: 0,
} as const;

/** Our layer name → the Hugging Face module it comes from (stage n is HF index n − 1). */
const RULES: readonly [RegExp, (m: RegExpMatchArray) => string, 'linear' | 'conv' | 'depthwise' | 'norm' | 'kv'][] = [
  [/^patch_embed(\d+)\.proj$/, (m) => `encoder.patch_embeddings.${+m[1]! - 1}.proj`, 'conv'],
  [/^patch_embed(\d+)\.norm$/, (m) => `encoder.patch_embeddings.${+m[1]! - 1}.layer_norm`, 'norm'],
  [/^block(\d+)\.(\d+)\.norm1$/, (m) => `encoder.block.${+m[1]! - 1}.${m[2]}.layer_norm_1`, 'norm'],
  [/^block(\d+)\.(\d+)\.attn\.q$/, (m) => `encoder.block.${+m[1]! - 1}.${m[2]}.attention.self.query`, 'linear'],
  [/^block(\d+)\.(\d+)\.attn\.kv$/, (m) => `encoder.block.${+m[1]! - 1}.${m[2]}.attention.self.`, 'kv'],
  [/^block(\d+)\.(\d+)\.attn\.sr$/, (m) => `encoder.block.${+m[1]! - 1}.${m[2]}.attention.self.sr`, 'conv'],
  [/^block(\d+)\.(\d+)\.attn\.norm$/, (m) => `encoder.block.${+m[1]! - 1}.${m[2]}.attention.self.layer_norm`, 'norm'],
  [/^block(\d+)\.(\d+)\.attn\.proj$/, (m) => `encoder.block.${+m[1]! - 1}.${m[2]}.attention.output.dense`, 'linear'],
  [/^block(\d+)\.(\d+)\.norm2$/, (m) => `encoder.block.${+m[1]! - 1}.${m[2]}.layer_norm_2`, 'norm'],
  [/^block(\d+)\.(\d+)\.mlp\.fc1$/, (m) => `encoder.block.${+m[1]! - 1}.${m[2]}.mlp.dense1`, 'linear'],
  [
    /^block(\d+)\.(\d+)\.mlp\.dwconv\.dwconv$/,
    (m) => `encoder.block.${+m[1]! - 1}.${m[2]}.mlp.dwconv.dwconv`,
    'depthwise',
  ],
  [/^block(\d+)\.(\d+)\.mlp\.fc2$/, (m) => `encoder.block.${+m[1]! - 1}.${m[2]}.mlp.dense2`, 'linear'],
  [/^norm(\d+)$/, (m) => `encoder.layer_norm.${+m[1]! - 1}`, 'norm'],
  [/^head$/, () => `classifier`, 'linear'],
];

/** A TF.js weight's own name (`kernel`, `gamma`, …): its `originalName` is scoped, `layer/kernel`. */
export function weightName(w: tfl.LayerVariable): string {
  return w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
}

const HF_PARAM: Record<string, string> = {
  kernel: 'weight',
  depthwise_kernel: 'weight',
  bias: 'bias',
  gamma: 'weight',
  beta: 'bias',
};

/**
 * Every weight of a Mix Transformer built by `buildModel('mit-b0')` (or `buildMit`) with the Hugging Face tensor(s)
 * it maps from. Throws a message per layer that has weights but no Hugging Face counterpart (not a MiT model).
 */
export function mitWeightSources(model: tfl.LayersModel): { sources: WeightSource[]; unmapped: string[] } {
  const sources: WeightSource[] = [];
  const unmapped: string[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const rule = RULES.map(([re, path, kind]) => ({ m: layer.name.match(re), path, kind })).find((r) => r.m);
    if (!rule?.m) {
      unmapped.push(layer.name);
      continue;
    }
    const base = rule.path(rule.m);
    for (const w of layer.weights) {
      const weight = weightName(w);
      const param = HF_PARAM[weight];
      const shape = w.shape as number[];
      if (!param) {
        unmapped.push(w.originalName);
        continue;
      }
      let layout: WeightLayout;
      let from: string[] = [`${base}.${param}`];
      if (rule.kind === 'kv') {
        layout = param === 'weight' ? 'dense-concat' : 'vector-concat';
        from = [`${base}key.${param}`, `${base}value.${param}`];
      } else if (param === 'bias' || rule.kind === 'norm') {
        layout = 'vector';
      } else {
        layout = rule.kind === 'linear' ? 'dense' : rule.kind;
      }
      sources.push({ layer: layer.name, weight, shape, from, layout });
    }
  }
  return { sources, unmapped };
}

/** The shape(s) the Hugging Face tensor(s) of `source` must have. */
export function hfShapes(source: WeightSource): number[][] {
  const s = source.shape;
  switch (source.layout) {
    case 'dense':
      return [[s[1]!, s[0]!]];
    case 'conv':
      return [[s[3]!, s[2]!, s[0]!, s[1]!]];
    case 'depthwise':
      return [[s[2]!, s[3]!, s[0]!, s[1]!]];
    case 'vector':
      return [[...s]];
    case 'dense-concat':
      return [
        [s[1]! / 2, s[0]!],
        [s[1]! / 2, s[0]!],
      ];
    case 'vector-concat':
      return [[s[0]! / 2], [s[0]! / 2]];
  }
}

/** Row-major transpose of `data` of shape `shape` by `perm` (as `torch.permute`). */
function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * shape[i + 1]!;
  const strides = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += index[d]! * strides[d]!;
    out[o] = data[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d]! < outShape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/** Our weight's values (row-major in our layout) from the Hugging Face tensors' values (in `hfShapes` order). */
export function toOurLayout(source: WeightSource, values: readonly Float32Array[]): Float32Array {
  const [shape = [], second = []] = hfShapes(source);
  const [a = new Float32Array(0), b = new Float32Array(0)] = values;
  switch (source.layout) {
    case 'dense':
      return permute(a, shape, [1, 0]);
    case 'conv': // [out, in, kh, kw] → [kh, kw, in, out]
      return permute(a, shape, [2, 3, 1, 0]);
    case 'depthwise': // [c, 1, kh, kw] → [kh, kw, c, 1]
      return permute(a, shape, [2, 3, 0, 1]);
    case 'vector':
      return a;
    case 'dense-concat': {
      // key [c, in] and value [c, in] → kernel [in, 2c]: each input row holds key's column, then value's.
      const keys = permute(a, shape, [1, 0]);
      const values = permute(b, second, [1, 0]);
      const [c = 0, inputs = 0] = shape;
      const out = new Float32Array(2 * c * inputs);
      for (let i = 0; i < inputs; i++) {
        out.set(keys.subarray(i * c, (i + 1) * c), 2 * c * i);
        out.set(values.subarray(i * c, (i + 1) * c), 2 * c * i + c);
      }
      return out;
    }
    case 'vector-concat': {
      const out = new Float32Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      return out;
    }
  }
}

function layerByName(model: tfl.LayersModel, name: string): tfl.layers.Layer | undefined {
  return model.layers.find((l) => l.name === name);
}

function configOf(layer: tfl.layers.Layer | undefined): Record<string, unknown> {
  return layer ? (layer.getConfig() as Record<string, unknown>) : {};
}

/** The hyper-parameters `model`'s layers embody, in config.json's terms (null when it has no `patch_embed1.proj`). */
export function mitHyperParameters(model: tfl.LayersModel): MitHyperParameters | null {
  const hp: MitHyperParameters = {
    num_encoder_blocks: 0,
    hidden_sizes: [],
    depths: [],
    num_attention_heads: [],
    sr_ratios: [],
    patch_sizes: [],
    strides: [],
    mlp_ratios: [],
    drop_path_rate: 0,
  };
  for (let n = 1; layerByName(model, `patch_embed${n}.proj`); n++) {
    const proj = configOf(layerByName(model, `patch_embed${n}.proj`));
    const dim = proj['filters'] as number;
    let depth = 0;
    while (layerByName(model, `block${n}.${depth}.norm1`)) depth++;
    const attend = layerByName(model, `block${n}.0.attn.attend`);
    const sr = configOf(layerByName(model, `block${n}.0.attn.sr`));
    const fc1 = configOf(layerByName(model, `block${n}.0.mlp.fc1`));
    hp.num_encoder_blocks = n;
    hp.hidden_sizes.push(dim);
    hp.depths.push(depth);
    hp.num_attention_heads.push(attend instanceof MultiHeadAttention ? attend.numHeads : 0);
    hp.sr_ratios.push(sr['kernelSize'] ? (sr['kernelSize'] as number[])[0]! : 1);
    hp.patch_sizes.push((proj['kernelSize'] as number[])[0]!);
    hp.strides.push((proj['strides'] as number[])[0]!);
    hp.mlp_ratios.push((fc1['units'] as number) / dim);
  }
  if (hp.num_encoder_blocks === 0) return null;
  // The deepest block's rate is drop_path_rate (linspace from 0 to it).
  hp.drop_path_rate = model.layers.reduce((max, l) => (l instanceof DropPath ? Math.max(max, l.rate) : max), 0);
  return hp;
}
