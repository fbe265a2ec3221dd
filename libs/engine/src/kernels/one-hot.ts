import {
  add,
  cast,
  engine,
  mul,
  OneHot,
  sub,
  tidy,
  type KernelConfig,
  type KernelFunc,
  type OneHotAttrs,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { wrapNativeKernel } from './wrap-native-kernel.js';

/**
 * Wraps the wasm backend's own `OneHot`, which always writes int32 bits whatever `dtype` says — on wasm,
 * `tf.oneHot(labels, k, 1, 0, 'float32')` returned denormals (1.4e-45) instead of ones. The wrapper runs the native
 * kernel with on = 1, off = 0 in int32 (its fast path), then casts and scales to the requested values and dtype
 * (`on·h + off·(1 − h)`, so both values come out exactly).
 * Returns `null` when the backend has no `OneHot` to wrap.
 */
export function createOneHotConfig(): KernelConfig | null {
  return wrapNativeKernel(
    OneHot,
    (native) =>
      ((args) => {
        const { depth, onValue, offValue, dtype } = args.attrs as unknown as OneHotAttrs;
        const intAttrs = { depth, onValue: 1, offValue: 0, dtype: 'int32' };
        const out = native.kernelFunc({ ...args, attrs: intAttrs }) as TensorInfo;
        if (dtype === 'int32' && onValue === 1 && offValue === 0) return out;
        const hits = engine().makeTensorFromTensorInfo(out) as Tensor;
        const scaled = tidy(() =>
          onValue === 1 && offValue === 0
            ? cast(hits, dtype)
            : cast(add(mul(cast(hits, 'float32'), onValue), mul(sub(1, cast(hits, 'float32')), offValue)), dtype)
        );
        hits.dispose();
        return scaled;
      }) as KernelFunc
  );
}
