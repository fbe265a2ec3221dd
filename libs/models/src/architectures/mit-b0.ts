import type { GraphNode, ModelGraph } from '../model-graph.js';

/** MiT-b0 hyper-parameters (SegFormer, NVlabs `mix_transformer.py`). */
const STAGES = [
  { dim: 32, depth: 2, heads: 1, reduction: 8, kernel: 7, stride: 4, padding: 3 },
  { dim: 64, depth: 2, heads: 2, reduction: 4, kernel: 3, stride: 2, padding: 1 },
  { dim: 160, depth: 2, heads: 5, reduction: 2, kernel: 3, stride: 2, padding: 1 },
  { dim: 256, depth: 2, heads: 8, reduction: 1, kernel: 3, stride: 2, padding: 1 },
] as const;
const MLP_RATIO = 4;
/** Block and stage norms use eps 1e-6 (`norm_layer`); patch-embedding and attention norms nn.LayerNorm's 1e-5. */
const BLOCK_EPS = 1e-6;
const DEFAULT_EPS = 1e-5;

/** Efficient self-attention: q, fused kv over a spatially reduced sequence (conv kernel = stride = sr), proj. */
function attention(g: ModelGraph, x: GraphNode, name: string, hw: [number, number], heads: number, sr: number) {
  const dim = x.shape[1] ?? 0;
  const q = g.dense(x, `${name}.q`, dim);
  let source = x;
  if (sr > 1) {
    const map = g.reshape(x, `${name}.to_map`, [hw[0], hw[1], dim]);
    const reduced = g.conv2d(map, `${name}.sr`, { filters: dim, kernel: sr, stride: sr });
    const [h = 0, w = 0] = reduced.shape;
    source = g.layerNorm(g.reshape(reduced, `${name}.to_tokens`, [h * w, dim]), `${name}.norm`, DEFAULT_EPS);
  }
  const kv = g.dense(source, `${name}.kv`, 2 * dim);
  return g.dense(g.attention(q, kv, `${name}.attend`, heads), `${name}.proj`, dim);
}

/** Mix-FFN: fc1 (×4) → 3 × 3 depthwise conv on the token map → GELU → fc2. */
function mixFfn(g: ModelGraph, x: GraphNode, name: string, hw: [number, number]) {
  const dim = x.shape[1] ?? 0;
  const hidden = dim * MLP_RATIO;
  let y = g.reshape(g.dense(x, `${name}.fc1`, hidden), `${name}.to_map`, [hw[0], hw[1], hidden]);
  y = g.conv2d(y, `${name}.dwconv.dwconv`, { filters: hidden, kernel: 3, padding: 1 }, true);
  y = g.activation(g.reshape(y, `${name}.to_tokens`, [hw[0] * hw[1], hidden]), `${name}.act`, 'gelu');
  return g.dense(y, `${name}.fc2`, dim);
}

/**
 * SegFormer's MiT-b0 encoder as a classifier: four stages of overlapping patch embedding (conv + LayerNorm) and
 * pre-norm transformer blocks (efficient attention, Mix-FFN), LayerNorm after each stage; the last stage's tokens are
 * averaged and classified by Linear(256 → classes). Adapted: patch_embed1 is Conv2d(channels → 32, kernel 7,
 * stride 4, padding 3). Stochastic depth (drop_path) is not reproduced: it adds no parameters and is off at rate 0.
 */
export function buildMitB0(g: ModelGraph, x: GraphNode, numClasses: number): GraphNode {
  let map = x;
  let tokens = x;
  for (const [s, stage] of STAGES.entries()) {
    const n = s + 1;
    const embedded = g.conv2d(map, `patch_embed${n}.proj`, {
      filters: stage.dim,
      kernel: stage.kernel,
      stride: stage.stride,
      padding: stage.padding,
    });
    const hw: [number, number] = [embedded.shape[0] ?? 0, embedded.shape[1] ?? 0];
    tokens = g.reshape(embedded, `patch_embed${n}.flatten`, [hw[0] * hw[1], stage.dim]);
    tokens = g.layerNorm(tokens, `patch_embed${n}.norm`, DEFAULT_EPS);
    for (let b = 0; b < stage.depth; b++) {
      const name = `block${n}.${b}`;
      const attended = attention(
        g,
        g.layerNorm(tokens, `${name}.norm1`, BLOCK_EPS),
        `${name}.attn`,
        hw,
        stage.heads,
        stage.reduction
      );
      tokens = g.add([tokens, attended], `${name}.add1`);
      tokens = g.add(
        [tokens, mixFfn(g, g.layerNorm(tokens, `${name}.norm2`, BLOCK_EPS), `${name}.mlp`, hw)],
        `${name}.add2`
      );
    }
    tokens = g.layerNorm(tokens, `norm${n}`, BLOCK_EPS);
    if (n < STAGES.length) map = g.reshape(tokens, `stage${n}.to_map`, [hw[0], hw[1], stage.dim]);
  }
  return g.dense(g.meanTokens(tokens, 'pool'), 'head', numClasses);
}
