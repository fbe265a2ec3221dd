import { engine, Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import { KernelConfigError } from '../errors.js';

/**
 * The inputs a kernel receives are the op's tensors when the kernel runs through `ENGINE.runKernel` (the only way
 * the engine's kernels are reached). Another kernel may hand over a bare `TensorInfo`; that is wrapped in a tensor
 * sharing its data (with its own reference, so disposing the wrapper — the enclosing `tidy` does — frees nothing
 * the caller still holds).
 */
export function asTensor<T extends Tensor>(info: TensorInfo | undefined, kernel: string, name: string): T {
  if (info === undefined) throw new KernelConfigError(kernel, `input '${name}' is missing`);
  if (info instanceof Tensor) return info as T;
  return shareTensor(info) as T;
}

/** A new tensor over `info`'s data that holds its own reference (dispose it; the data lives on for the others). */
export function shareTensor(info: TensorInfo): Tensor {
  const tensor = engine().makeTensorFromTensorInfo(info);
  engine().backend.incRef(info.dataId);
  return tensor;
}

/** Throws unless `dataFormat` is channels-last (the only layout the wasm forward convolutions accept). */
export function assertChannelsLast(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new KernelConfigError(kernel, `dataFormat '${dataFormat}' is not supported; use 'NHWC'`);
  }
}

/** Throws unless every dilation is 1 (TF.js's own conv gradients require the same). */
export function assertNoDilation(kernel: string, dilations: number | readonly number[] | undefined): void {
  const values = dilations === undefined ? [1] : typeof dilations === 'number' ? [dilations] : dilations;
  if (values.some((d) => d !== 1)) {
    throw new KernelConfigError(kernel, `dilations ${JSON.stringify(dilations)} are not supported; use 1`);
  }
}
