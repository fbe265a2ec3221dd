import type { GraphNode, ModelGraph, ConvSpec } from '../model-graph.js';

/** torchvision's BasicConv2d: conv without bias, BatchNorm(eps 0.001), ReLU. */
function basicConv(g: ModelGraph, x: GraphNode, name: string, spec: Omit<ConvSpec, 'bias'>): GraphNode {
  const y = g.conv2d(x, `${name}.conv`, { ...spec, bias: false });
  return g.relu(g.batchNorm(y, `${name}.bn`, 0.001), `${name}.relu`);
}

/** torchvision's Inception block; the "5x5" branch uses a 3 × 3 kernel, as torchvision does. */
function inception(
  g: ModelGraph,
  x: GraphNode,
  name: string,
  [ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, poolProj]: readonly number[]
): GraphNode {
  const branch1 = basicConv(g, x, `${name}.branch1`, { filters: ch1x1 ?? 0, kernel: 1 });
  let branch2 = basicConv(g, x, `${name}.branch2.0`, { filters: ch3x3red ?? 0, kernel: 1 });
  branch2 = basicConv(g, branch2, `${name}.branch2.1`, { filters: ch3x3 ?? 0, kernel: 3, padding: 1 });
  let branch3 = basicConv(g, x, `${name}.branch3.0`, { filters: ch5x5red ?? 0, kernel: 1 });
  branch3 = basicConv(g, branch3, `${name}.branch3.1`, { filters: ch5x5 ?? 0, kernel: 3, padding: 1 });
  let branch4 = g.maxPool(x, `${name}.branch4.0`, { kernel: 3, stride: 1, padding: 1, ceilMode: true });
  branch4 = basicConv(g, branch4, `${name}.branch4.1`, { filters: poolProj ?? 0, kernel: 1 });
  return g.concat([branch1, branch2, branch3, branch4], `${name}.cat`);
}

/**
 * torchvision `googlenet` (aux_logits False, transform_input False), adapted: conv1's conv is Conv2d(channels → 64,
 * kernel 7, stride 2, padding 3, no bias) and fc is Linear(1024 → classes). Max-pools use ceil_mode; dropout 0.2.
 */
export function buildGoogLeNet(g: ModelGraph, x: GraphNode, numClasses: number): GraphNode {
  const pool = { kernel: 3, stride: 2, ceilMode: true };
  let y = basicConv(g, x, 'conv1', { filters: 64, kernel: 7, stride: 2, padding: 3 });
  y = g.maxPool(y, 'maxpool1', pool);
  y = basicConv(g, y, 'conv2', { filters: 64, kernel: 1 });
  y = basicConv(g, y, 'conv3', { filters: 192, kernel: 3, padding: 1 });
  y = g.maxPool(y, 'maxpool2', pool);
  y = inception(g, y, 'inception3a', [64, 96, 128, 16, 32, 32]);
  y = inception(g, y, 'inception3b', [128, 128, 192, 32, 96, 64]);
  y = g.maxPool(y, 'maxpool3', pool);
  y = inception(g, y, 'inception4a', [192, 96, 208, 16, 48, 64]);
  y = inception(g, y, 'inception4b', [160, 112, 224, 24, 64, 64]);
  y = inception(g, y, 'inception4c', [128, 128, 256, 24, 64, 64]);
  y = inception(g, y, 'inception4d', [112, 144, 288, 32, 64, 64]);
  y = inception(g, y, 'inception4e', [256, 160, 320, 32, 128, 128]);
  y = g.maxPool(y, 'maxpool4', { kernel: 2, stride: 2, ceilMode: true });
  y = inception(g, y, 'inception5a', [256, 160, 320, 32, 128, 128]);
  y = inception(g, y, 'inception5b', [384, 192, 384, 48, 128, 128]);
  y = g.flatten(g.adaptiveAvgPool(y, 'avgpool', [1, 1]), 'flatten');
  return g.dense(g.dropout(y, 'dropout', 0.2), 'fc', numClasses);
}
