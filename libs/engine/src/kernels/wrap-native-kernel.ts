import { getKernel, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';

type WrappedKernelConfig = KernelConfig & { wrapped?: boolean };

/**
 * A wasm config for `kernelName` whose kernel function is built around the backend's own kernel (`native`), keeping
 * its set-up and disposal. Returns the registered config unchanged when it is already a wrapper (so registering twice
 * never wraps a wrapper), and null when the backend has no such kernel.
 */
export function wrapNativeKernel(
  kernelName: string,
  createKernelFunc: (native: KernelConfig) => KernelFunc
): KernelConfig | null {
  const native: WrappedKernelConfig | undefined = getKernel(kernelName, 'wasm');
  if (native === undefined) return null;
  if (native.wrapped) return native;
  const config: WrappedKernelConfig = {
    kernelName,
    backendName: 'wasm',
    kernelFunc: createKernelFunc(native),
    wrapped: true,
  };
  if (native.setupFunc !== undefined) config.setupFunc = native.setupFunc;
  if (native.disposeFunc !== undefined) config.disposeFunc = native.disposeFunc;
  return config;
}
