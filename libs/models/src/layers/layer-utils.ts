import type { Tensor } from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** The constructor argument every TF.js layer takes (`name`, `trainable`, `inputShape`, …). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

/** Keyword arguments TF.js passes to `Layer.call` (`training`, `mask`). */
export type Kwargs = Record<string, unknown>;

/** The package name custom layers are registered under: their JSON `class_name` reads `supwalsh>Name`. */
export const LAYER_PACKAGE = 'supwalsh';

export function onlyTensor(inputs: Tensor | Tensor[], layer: string): Tensor {
  const x = Array.isArray(inputs) ? inputs[0] : inputs;
  if (!x || (Array.isArray(inputs) && inputs.length !== 1)) {
    throw new Error(`${layer}: expected exactly one input tensor`);
  }
  return x;
}

export function onlyShape(shape: tfl.Shape | tfl.Shape[], layer: string): tfl.Shape {
  if (Array.isArray(shape[0])) {
    const shapes = shape as tfl.Shape[];
    if (shapes.length !== 1 || !shapes[0]) throw new Error(`${layer}: expected exactly one input shape`);
    return shapes[0];
  }
  return shape as tfl.Shape;
}
