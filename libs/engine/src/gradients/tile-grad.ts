import {
  getGradient,
  registerGradient,
  reshape,
  sum,
  Tile,
  type GradConfig,
  type Tensor,
  type TileAttrs,
} from '@tensorflow/tfjs-core';
import { tileAsBroadcast } from '../kernels/tile.js';

type EngineGradConfig = GradConfig & { engine?: true };

/**
 * The gradient of `tile(x, reps)`: `dy` viewed as `[r0, d0, r1, d1, …]` (neighbouring axes merged, as the forward
 * tile does) and summed over the repeat axes — one reshape and one `Sum` on any backend. The gradient tfjs-layers
 * registers adds one `slice` of `dy` per repetition: tfjs-layers' own `LayerNormalization` tiles its mean, variance,
 * gamma and beta to the input's shape, so every layer norm of MiT-b0 cost `batch × tokens + channels` slices and
 * additions per step (≈ 24 000 kernels per step at batch 4, ≈ 40 % of the step). Shapes that need more than six axes
 * after merging use `fallback` (the gradient registered before).
 */
export function createTileGradConfig(fallback: GradConfig | undefined): EngineGradConfig {
  return {
    kernelName: Tile,
    inputsToSave: ['x'],
    engine: true,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as Tensor[];
      const { reps } = attrs as unknown as TileAttrs;
      const g = Array.isArray(dy) ? (dy[0] as Tensor) : dy;
      const plan = x === undefined ? null : tileAsBroadcast(x.shape, reps);
      if (x === undefined || plan === null) {
        if (!fallback)
          throw new Error(`Tile gradient: ${x?.rank ?? '?'}-D tile needs more than 6 axes and no fallback`);
        return fallback.gradFunc(dy, saved, attrs);
      }
      const axes = plan.onesShape.flatMap((n, i) => (n > 1 ? [i] : []));
      const full = plan.xShape.map((n, i) => Math.max(n, plan.onesShape[i] as number));
      return { x: () => reshape(axes.length === 0 ? reshape(g, x.shape) : sum(reshape(g, full), axes), x.shape) };
    },
  };
}

/**
 * Registers the engine's gradients (backend-independent; `initEngine` calls it on every backend): `Tile`'s.
 * Idempotent. Returns the kernel names whose gradients it set.
 */
export function registerEngineGradients(): string[] {
  const current = getGradient(Tile) as EngineGradConfig | undefined;
  if (!current?.engine) registerGradient(createTileGradConfig(current));
  return [Tile];
}
