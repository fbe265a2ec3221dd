import {
  mul,
  ones,
  reshape,
  Tile,
  tidy,
  util,
  type KernelConfig,
  type KernelFunc,
  type TileAttrs,
} from '@tensorflow/tfjs-core';
import { asTensor } from './kernel-tensors.js';
import { wrapNativeKernel } from './wrap-native-kernel.js';

/** The most axes the wasm backend's broadcasting binary ops (XNNPACK) take. */
const MAX_BROADCAST_RANK = 6;

/**
 * The shapes for `tile(x, reps)` as one broadcast product `x′ · ones′`: the axes of `[r0, d0, r1, d1, …]` with the
 * repeats in `ones′` and the data in `x′`, size-1 axes dropped and neighbours of the same kind merged. `null` when
 * more axes than the backend broadcasts remain.
 */
export function tileAsBroadcast(
  shape: readonly number[],
  reps: readonly number[]
): { xShape: number[]; onesShape: number[] } | null {
  const merged: { size: number; isRep: boolean }[] = [];
  shape.forEach((d, i) => {
    for (const [size, isRep] of [
      [reps[i] ?? 1, true],
      [d, false],
    ] as const) {
      if (size === 1) continue;
      const last = merged[merged.length - 1];
      if (last !== undefined && last.isRep === isRep) last.size *= size;
      else merged.push({ size, isRep });
    }
  });
  if (merged.length > MAX_BROADCAST_RANK) return null;
  return {
    xShape: merged.map((e) => (e.isRep ? 1 : e.size)),
    onesShape: merged.map((e) => (e.isRep ? e.size : 1)),
  };
}

/**
 * Wraps the wasm backend's own `Tile`, a generic per-element loop (≈ 65 ns per output element: the batch-norm
 * gradient's tiles of `[1, 1, 1, C]` statistics to the activation's shape cost ResNet-50 ≈ 0.5 s of a step). Float32
 * and int32 tiles become one broadcast multiplication by ones on the backend's vectorised binary op (exact: `x · 1 =
 * x`, signs of zero and NaN kept), ≈ 20× faster; other dtypes and shapes that need more than six broadcast axes go to
 * the native kernel. Returns `null` when the backend has no `Tile` to wrap.
 */
export function createTileConfig(): KernelConfig | null {
  return wrapNativeKernel(
    Tile,
    (native) =>
      ((args) => {
        const x = args.inputs['x'];
        const { reps } = args.attrs as unknown as TileAttrs;
        const plan = x === undefined ? null : tileAsBroadcast(x.shape, reps);
        if (x === undefined || plan === null || (x.dtype !== 'float32' && x.dtype !== 'int32')) {
          return native.kernelFunc(args);
        }
        const outShape = x.shape.map((d, i) => d * (reps[i] ?? 1));
        if (util.sizeFromShape(outShape) === 0) return native.kernelFunc(args);
        return tidy(() =>
          reshape(mul(reshape(asTensor(x, Tile, 'x'), plan.xShape), ones(plan.onesShape, x.dtype)), outShape)
        );
      }) as KernelFunc
  );
}
