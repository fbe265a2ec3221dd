import type { GraphNode, ModelGraph } from '../model-graph.js';

/** The original's baseline MLP: flatten → 640 → 320 → 50 → classes, ReLU, dropout (p = 0.5) before the last layer. */
export function buildBase(g: ModelGraph, x: GraphNode, numClasses: number): GraphNode {
  let y = g.flatten(x, 'flatten');
  for (const [i, units] of [640, 320, 50].entries()) {
    y = g.relu(g.dense(y, `fc${i + 1}`, units), `relu${i + 1}`);
  }
  return g.dense(g.dropout(y, 'dropout', 0.5), 'fc4', numClasses);
}
