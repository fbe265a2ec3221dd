import type * as tfl from '@tensorflow/tfjs-layers';
import { DropPath } from './layers/drop-path.js';
import { SeededDropout } from './layers/seeded-dropout.js';
import type { BatchWindow } from './layers/seeded-mask.js';

/**
 * Sets the step every `SeededDropout` and `DropPath` (stochastic depth) layer of `model` draws its next mask from, e.g. the global training step when a
 * run resumes from a checkpoint, so the masks replay exactly — and, for a rank that trains on a slice of the step's
 * global batch, where that slice sits (`batchWindow`), so each sample's mask does not depend on the world size.
 * Returns how many layers were set.
 */
export function setDropoutStep(model: tfl.LayersModel, step: number, batchWindow?: BatchWindow): number {
  let count = 0;
  for (const layer of model.layers) {
    if (layer instanceof SeededDropout || layer instanceof DropPath) {
      layer.step = step;
      layer.batchWindow = batchWindow;
      count += 1;
    }
  }
  return count;
}
