import type { GraphNode, ModelGraph } from '../model-graph.js';

const EXPANSION = 4;

/** torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3 × 3 conv). */
function bottleneck(g: ModelGraph, x: GraphNode, name: string, planes: number, stride: number): GraphNode {
  const inplanes = x.shape[2] ?? 0;
  let y = g.relu(
    g.batchNorm(g.conv2d(x, `${name}.conv1`, { filters: planes, kernel: 1, bias: false }), `${name}.bn1`),
    `${name}.relu1`
  );
  y = g.conv2d(y, `${name}.conv2`, { filters: planes, kernel: 3, stride, padding: 1, bias: false });
  y = g.relu(g.batchNorm(y, `${name}.bn2`), `${name}.relu2`);
  y = g.batchNorm(g.conv2d(y, `${name}.conv3`, { filters: planes * EXPANSION, kernel: 1, bias: false }), `${name}.bn3`);
  let identity = x;
  if (stride !== 1 || inplanes !== planes * EXPANSION) {
    identity = g.conv2d(x, `${name}.downsample.0`, { filters: planes * EXPANSION, kernel: 1, stride, bias: false });
    identity = g.batchNorm(identity, `${name}.downsample.1`);
  }
  return g.relu(g.add([y, identity], `${name}.add`), `${name}.relu3`);
}

/**
 * torchvision `resnet50`, adapted: conv1 is Conv2d(channels → 64, kernel 7, stride 2, padding 3, no bias) and fc is
 * Linear(2048 → classes). BatchNorm eps 1e-5, momentum 0.1 (TF.js 0.9).
 */
export function buildResNet50(g: ModelGraph, x: GraphNode, numClasses: number): GraphNode {
  let y = g.conv2d(x, 'conv1', { filters: 64, kernel: 7, stride: 2, padding: 3, bias: false });
  y = g.maxPool(g.relu(g.batchNorm(y, 'bn1'), 'relu'), 'maxpool', { kernel: 3, stride: 2, padding: 1 });
  for (const [stage, [planes, blocks]] of [
    [64, 3],
    [128, 4],
    [256, 6],
    [512, 3],
  ].entries()) {
    for (let b = 0; b < (blocks ?? 0); b++) {
      y = bottleneck(g, y, `layer${stage + 1}.${b}`, planes ?? 0, b === 0 && stage > 0 ? 2 : 1);
    }
  }
  y = g.flatten(g.adaptiveAvgPool(y, 'avgpool', [1, 1]), 'flatten');
  return g.dense(y, 'fc', numClasses);
}
