import type { GraphNode, ModelGraph } from '../model-graph.js';

/** torchvision's Fire module: 1 × 1 squeeze, then 1 × 1 and 3 × 3 expands concatenated, each with ReLU. */
function fire(g: ModelGraph, x: GraphNode, name: string, squeeze: number, expand1x1: number, expand3x3: number) {
  const s = g.relu(g.conv2d(x, `${name}.squeeze`, { filters: squeeze, kernel: 1 }), `${name}.squeeze_activation`);
  const e1 = g.relu(
    g.conv2d(s, `${name}.expand1x1`, { filters: expand1x1, kernel: 1 }),
    `${name}.expand1x1_activation`
  );
  const e3 = g.conv2d(s, `${name}.expand3x3`, { filters: expand3x3, kernel: 3, padding: 1 });
  return g.concat([e1, g.relu(e3, `${name}.expand3x3_activation`)], `${name}.cat`);
}

/**
 * torchvision `squeezenet1_0`, adapted: features.0 is Conv2d(channels → 96, kernel 7, stride 2) and classifier.1
 * (final_conv) is Conv2d(512 → classes, kernel 1), followed by ReLU and adaptive average pooling to 1 × 1.
 */
export function buildSqueezeNet(g: ModelGraph, x: GraphNode, numClasses: number): GraphNode {
  const pool = { kernel: 3, stride: 2, ceilMode: true };
  let y = g.relu(g.conv2d(x, 'features.0', { filters: 96, kernel: 7, stride: 2 }), 'features.1');
  y = g.maxPool(y, 'features.2', pool);
  y = fire(g, y, 'features.3', 16, 64, 64);
  y = fire(g, y, 'features.4', 16, 64, 64);
  y = fire(g, y, 'features.5', 32, 128, 128);
  y = g.maxPool(y, 'features.6', pool);
  y = fire(g, y, 'features.7', 32, 128, 128);
  y = fire(g, y, 'features.8', 48, 192, 192);
  y = fire(g, y, 'features.9', 48, 192, 192);
  y = fire(g, y, 'features.10', 64, 256, 256);
  y = g.maxPool(y, 'features.11', pool);
  y = fire(g, y, 'features.12', 64, 256, 256);
  y = g.conv2d(g.dropout(y, 'classifier.0', 0.5), 'classifier.1', { filters: numClasses, kernel: 1 });
  y = g.adaptiveAvgPool(g.relu(y, 'classifier.2'), 'classifier.3', [1, 1]);
  return g.flatten(y, 'flatten');
}
