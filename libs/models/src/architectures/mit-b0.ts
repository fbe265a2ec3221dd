import type { GraphNode, ModelGraph } from '../model-graph.js';

/** One stage of a Mix Transformer: its overlapping patch embedding and its blocks. */
export interface MitStage {
  /** Hidden size (Hugging Face `hidden_sizes[i]`). */
  readonly dim: number;
  /** Blocks (`depths[i]`). */
  readonly depth: number;
  /** Attention heads (`num_attention_heads[i]`); `dim` must be divisible by it. */
  readonly heads: number;
  /** Spatial reduction of keys/values (`sr_ratios[i]`): a conv with kernel = stride = sr when sr > 1. */
  readonly reduction: number;
  /** Patch-embedding conv kernel (`patch_sizes[i]`), padding kernel // 2, and stride (`strides[i]`). */
  readonly kernel: number;
  readonly stride: number;
  /** Mix-FFN hidden size ÷ dim (`mlp_ratios[i]`). */
  readonly mlpRatio: number;
}

/** A Mix Transformer configuration: the stages and the stochastic-depth rate of the deepest block. */
export interface MitConfig {
  readonly stages: readonly MitStage[];
  /** Hugging Face `drop_path_rate`: block i of all N blocks drops its branches with rate `rate·i / (N − 1)`. */
  readonly dropPathRate: number;
}

/** MiT-b0 as `nvidia/mit-b0`'s config.json (SegFormer, NVlabs `mix_transformer.py`). */
export const MIT_B0_CONFIG: MitConfig = {
  stages: [
    { dim: 32, depth: 2, heads: 1, reduction: 8, kernel: 7, stride: 4, mlpRatio: 4 },
    { dim: 64, depth: 2, heads: 2, reduction: 4, kernel: 3, stride: 2, mlpRatio: 4 },
    { dim: 160, depth: 2, heads: 5, reduction: 2, kernel: 3, stride: 2, mlpRatio: 4 },
    { dim: 256, depth: 2, heads: 8, reduction: 1, kernel: 3, stride: 2, mlpRatio: 4 },
  ],
  dropPathRate: 0.1,
};

/** Every LayerNorm of Hugging Face's Segformer is `nn.LayerNorm(dim)`, eps 1e-5 (config `layer_norm_eps` is unused). */
const EPS = 1e-5;

/**
 * The stochastic-depth rate of each block, in order over all stages: `torch.linspace(0, rate, N)` in float32, as
 * Hugging Face's `SegformerEncoder` (the first block gets 0, the last `rate`).
 */
export function dropPathRates(config: MitConfig): number[] {
  const total = config.stages.reduce((sum, s) => sum + s.depth, 0);
  return Array.from({ length: total }, (_, i) =>
    total === 1 ? 0 : Math.fround((config.dropPathRate * i) / (total - 1))
  );
}

/** Efficient self-attention: q, fused kv over a spatially reduced sequence (conv kernel = stride = sr), proj. */
function attention(g: ModelGraph, x: GraphNode, name: string, hw: [number, number], heads: number, sr: number) {
  const dim = x.shape[1] ?? 0;
  const q = g.dense(x, `${name}.q`, dim);
  let source = x;
  if (sr > 1) {
    const map = g.reshape(x, `${name}.to_map`, [hw[0], hw[1], dim]);
    const reduced = g.conv2d(map, `${name}.sr`, { filters: dim, kernel: sr, stride: sr });
    const [h = 0, w = 0] = reduced.shape;
    source = g.layerNorm(g.reshape(reduced, `${name}.to_tokens`, [h * w, dim]), `${name}.norm`, EPS);
  }
  const kv = g.dense(source, `${name}.kv`, 2 * dim);
  return g.dense(g.attention(q, kv, `${name}.attend`, heads), `${name}.proj`, dim);
}

/** Mix-FFN: fc1 (× ratio) → 3 × 3 depthwise conv on the token map → GELU → fc2. */
function mixFfn(g: ModelGraph, x: GraphNode, name: string, hw: [number, number], ratio: number) {
  const dim = x.shape[1] ?? 0;
  const hidden = dim * ratio;
  let y = g.reshape(g.dense(x, `${name}.fc1`, hidden), `${name}.to_map`, [hw[0], hw[1], hidden]);
  y = g.conv2d(y, `${name}.dwconv.dwconv`, { filters: hidden, kernel: 3, padding: 1 }, true);
  y = g.activation(g.reshape(y, `${name}.to_tokens`, [hw[0] * hw[1], hidden]), `${name}.act`, 'gelu');
  return g.dense(y, `${name}.fc2`, dim);
}

/** A residual branch through stochastic depth, when its rate is above 0 (Hugging Face uses `nn.Identity` at 0). */
function dropPath(g: ModelGraph, x: GraphNode, name: string, rate: number): GraphNode {
  return rate > 0 ? g.dropPath(x, name, rate) : x;
}

/**
 * A Mix Transformer (SegFormer encoder) as a classifier, as Hugging Face's `SegformerForImageClassification`: per
 * stage an overlapping patch embedding (conv + LayerNorm) and pre-norm blocks (efficient attention, Mix-FFN, each
 * residual branch through stochastic depth), LayerNorm after each stage; the last stage's tokens are averaged and
 * classified by Linear(dim → classes). All LayerNorms use eps 1e-5.
 */
export function buildMit(g: ModelGraph, x: GraphNode, numClasses: number, config: MitConfig): GraphNode {
  const rates = dropPathRates(config);
  let map = x;
  let tokens = x;
  let blockIndex = 0;
  for (const [s, stage] of config.stages.entries()) {
    const n = s + 1;
    const embedded = g.conv2d(map, `patch_embed${n}.proj`, {
      filters: stage.dim,
      kernel: stage.kernel,
      stride: stage.stride,
      padding: Math.floor(stage.kernel / 2),
    });
    const hw: [number, number] = [embedded.shape[0] ?? 0, embedded.shape[1] ?? 0];
    tokens = g.reshape(embedded, `patch_embed${n}.flatten`, [hw[0] * hw[1], stage.dim]);
    tokens = g.layerNorm(tokens, `patch_embed${n}.norm`, EPS);
    for (let b = 0; b < stage.depth; b++) {
      const name = `block${n}.${b}`;
      const rate = rates[blockIndex++] ?? 0;
      let branch = attention(
        g,
        g.layerNorm(tokens, `${name}.norm1`, EPS),
        `${name}.attn`,
        hw,
        stage.heads,
        stage.reduction
      );
      tokens = g.add([tokens, dropPath(g, branch, `${name}.drop_path1`, rate)], `${name}.add1`);
      branch = mixFfn(g, g.layerNorm(tokens, `${name}.norm2`, EPS), `${name}.mlp`, hw, stage.mlpRatio);
      tokens = g.add([tokens, dropPath(g, branch, `${name}.drop_path2`, rate)], `${name}.add2`);
    }
    tokens = g.layerNorm(tokens, `norm${n}`, EPS);
    if (n < config.stages.length) map = g.reshape(tokens, `stage${n}.to_map`, [hw[0], hw[1], stage.dim]);
  }
  return g.dense(g.meanTokens(tokens, 'pool'), 'head', numClasses);
}

/**
 * MiT-b0 as the original's "nvidia" model (`SegformerForImageClassification` of `nvidia/mit-b0`), adapted:
 * patch_embed1 is Conv2d(channels → 32, kernel 7, stride 4, padding 3) and head Linear(256 → classes). The original
 * starts from ImageNet weights: see `loadPretrainedWeights`.
 */
export function buildMitB0(g: ModelGraph, x: GraphNode, numClasses: number): GraphNode {
  return buildMit(g, x, numClasses, MIT_B0_CONFIG);
}
