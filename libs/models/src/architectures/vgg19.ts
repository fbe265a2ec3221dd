import type { GraphNode, ModelGraph } from '../model-graph.js';

/** torchvision's configuration "E" (VGG-19, no BatchNorm): channels per 3 × 3 conv, 'M' a 2 × 2 max-pool. */
const CONFIG_E = [
  64,
  64,
  'M',
  128,
  128,
  'M',
  256,
  256,
  256,
  256,
  'M',
  512,
  512,
  512,
  512,
  'M',
  512,
  512,
  512,
  512,
  'M',
];

/**
 * torchvision `vgg19`, adapted: features.0 is Conv2d(channels → 64, kernel 3, padding 1) and classifier.6 is
 * Linear(4096 → classes). At 64 × 64 the last map is 2 × 2 and `avgpool` spreads it over 7 × 7 (overlapping bins).
 */
export function buildVgg19(g: ModelGraph, x: GraphNode, numClasses: number): GraphNode {
  let y = x;
  let index = 0;
  for (const v of CONFIG_E) {
    if (v === 'M') {
      y = g.maxPool(y, `features.${index}`, { kernel: 2, stride: 2 });
      index += 1;
    } else {
      y = g.conv2d(y, `features.${index}`, { filters: v as number, kernel: 3, padding: 1 });
      y = g.relu(y, `features.${index + 1}`);
      index += 2;
    }
  }
  y = g.flatten(g.adaptiveAvgPool(y, 'avgpool', [7, 7]), 'flatten');
  y = g.dropout(g.relu(g.dense(y, 'classifier.0', 4096), 'classifier.1'), 'classifier.2', 0.5);
  y = g.dropout(g.relu(g.dense(y, 'classifier.3', 4096), 'classifier.4'), 'classifier.5', 0.5);
  return g.dense(y, 'classifier.6', numClasses);
}
