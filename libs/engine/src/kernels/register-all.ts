import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { adamUpdateConfig, sgdUpdateConfig } from '../optim/optimizer-updates.js';
import { createBatchMatMulConfig } from './batch-mat-mul.js';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwise-conv2d-native-backprop-filter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwise-conv2d-native-backprop-input.js';
import { createIdentityConfig } from './identity.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { createOneHotConfig } from './one-hot.js';
import { createMeanConfig, createSumConfig } from './reduce-outer.js';
import { sliceConfig } from './slice.js';
import { splitVConfig } from './split-v.js';
import { createTileConfig } from './tile.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

/**
 * The kernels `@supwalsh/engine` adds to the wasm backend so that the model zoo trains on it:
 * - missing from the backend: `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter`,
 *   `DepthwiseConv2dNativeBackpropInput`, `UnsortedSegmentSum` (the gradient of `gather`);
 * - replacing the backend's own: `Conv2DBackpropInput` (a scalar loop ≈ 10× slower than the forward convolution)
 *   `MaxPoolGrad` (wrong gradients at padded borders, for 1×1/2×2 windows and on ties), `Slice` and `SplitV`
 *   (they copied the whole input out of the wasm heap on every call, which made every concatenation gradient and
 *   every `tf.split` into k parts cost k copies of the input);
 * - the engine's own fused optimizer updates `SupwalshAdamUpdate` and `SupwalshSgdUpdate` (`adamUpdate`,
 *   `sgdUpdate`: one SIMD pass instead of up to 15 element-wise kernels per variable).
 * The backend's `OneHot`, `BatchMatMul`, `Tile`, `Identity`, `Sum` and `Mean` are wrapped separately (see
 * `registerWasmTrainingKernels`).
 */
export const WASM_TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  maxPoolGradConfig,
  unsortedSegmentSumConfig,
  sliceConfig,
  splitVConfig,
  adamUpdateConfig,
  sgdUpdateConfig,
];

/**
 * Registers the wasm training kernels, and wraps four of the backend's own: `OneHot` so it honours `dtype` (it wrote
 * int32 bits into float32 one-hot tensors), `BatchMatMul` so transposed operands take the XNNPACK path (with
 * `transposeA` it was a scalar loop — every dense and 1×1-conv weight gradient), `Tile` as a broadcast product (it was
 * a per-element loop), `Identity` without a copy (the engine clones every tensor a gradient saves), and `Sum` / `Mean`
 * over leading or middle axes as in-heap column sums (the backend transposed the whole tensor first). Idempotent:
 * kernels already registered by this function are left alone; the backend's own versions are replaced without the
 * registry's duplicate-kernel warning. Call it after `@tensorflow/tfjs-backend-wasm` is imported (`initEngine` does
 * both). Returns the kernel names.
 */
export function registerWasmTrainingKernels(): string[] {
  const wrapped = [
    createOneHotConfig(),
    createBatchMatMulConfig(),
    createTileConfig(),
    createIdentityConfig(),
    createSumConfig(),
    createMeanConfig(),
  ].filter((c): c is KernelConfig => c !== null);
  const configs = [...WASM_TRAINING_KERNELS, ...wrapped];
  for (const config of configs) {
    const existing = getKernel(config.kernelName, config.backendName);
    if (existing === config) continue;
    if (existing !== undefined) {
      replaced.set(config.kernelName, existing);
      unregisterKernel(config.kernelName, config.backendName);
    }
    registerKernel(config);
  }
  return configs.map((config) => config.kernelName);
}

const replaced = new Map<string, KernelConfig>();

/**
 * The wasm backend's own kernel that `registerWasmTrainingKernels` replaced (`Conv2DBackpropInput`, `MaxPoolGrad`,
 * `Slice`, `SplitV`, `OneHot`, `BatchMatMul`, `Tile`, `Identity`, `Sum`, `Mean`), for benchmarks and regression tests. Its `kernelFunc` works only when the backend was initialised
 * before the replacement — `initEngine` starts the backend first for this reason.
 */
export function nativeWasmKernel(kernelName: string): KernelConfig | undefined {
  return replaced.get(kernelName);
}
