import type { GraphNode, ModelGraph } from '../model-graph.js';

/**
 * torchvision `alexnet`, adapted: features.0 is Conv2d(channels → 64, kernel 5, stride 4, padding 2) and
 * classifier.6 is Linear(4096 → classes). At 64 × 64 the last map is 1 × 1 and `avgpool` replicates it to 6 × 6.
 */
export function buildAlexNet(g: ModelGraph, x: GraphNode, numClasses: number): GraphNode {
  let y = g.relu(g.conv2d(x, 'features.0', { filters: 64, kernel: 5, stride: 4, padding: 2 }), 'features.1');
  y = g.maxPool(y, 'features.2', { kernel: 3, stride: 2 });
  y = g.relu(g.conv2d(y, 'features.3', { filters: 192, kernel: 5, padding: 2 }), 'features.4');
  y = g.maxPool(y, 'features.5', { kernel: 3, stride: 2 });
  y = g.relu(g.conv2d(y, 'features.6', { filters: 384, kernel: 3, padding: 1 }), 'features.7');
  y = g.relu(g.conv2d(y, 'features.8', { filters: 256, kernel: 3, padding: 1 }), 'features.9');
  y = g.relu(g.conv2d(y, 'features.10', { filters: 256, kernel: 3, padding: 1 }), 'features.11');
  y = g.maxPool(y, 'features.12', { kernel: 3, stride: 2 });
  y = g.flatten(g.adaptiveAvgPool(y, 'avgpool', [6, 6]), 'flatten');
  y = g.relu(g.dense(g.dropout(y, 'classifier.0', 0.5), 'classifier.1', 4096), 'classifier.2');
  y = g.relu(g.dense(g.dropout(y, 'classifier.3', 0.5), 'classifier.4', 4096), 'classifier.5');
  return g.dense(y, 'classifier.6', numClasses);
}
