import { Identity, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { wrapNativeKernel } from './wrap-native-kernel.js';

/** What this kernel needs from the wasm backend object (tfjs-backend-wasm's `BackendWasm`). */
interface RefCountingBackend {
  incRef(dataId: TensorInfo['dataId']): void;
}

/**
 * Wraps the wasm backend's own `Identity`, which COPIES its input (`tf.clone`, and the engine clones every tensor a
 * gradient saves for the backward pass): a training step of VGG-19 copied its 25088 × 4096 weight twice (2 × 411 MB
 * of the wasm heap's 4 GB, ≈ 70 ms each), ResNet-50 made 1 549 copies per step. TF.js tensors are immutable (a
 * variable's `assign` moves it to new data; no wasm kernel writes into its inputs), so — as the cpu backend does — the
 * output shares the input's data with one more reference. String tensors go to the native kernel.
 * Returns `null` when the backend has no `Identity` to wrap.
 */
export function createIdentityConfig(): KernelConfig | null {
  return wrapNativeKernel(
    Identity,
    (native) =>
      ((args) => {
        const x = args.inputs['x'];
        if (x === undefined || x.dtype === 'string') return native.kernelFunc(args);
        (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      }) as KernelFunc
  );
}
