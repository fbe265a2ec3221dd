import {
  BatchMatMul,
  engine,
  tidy,
  transpose,
  type BatchMatMulAttrs,
  type KernelConfig,
  type KernelFunc,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { asTensor } from './kernel-tensors.js';
import { wrapNativeKernel } from './wrap-native-kernel.js';

/** `x` with its last two axes swapped (a real copy through the backend's fast `Transpose`). */
function swapInner(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  const last = perm.length - 1;
  [perm[last - 1], perm[last]] = [last, last - 1];
  return transpose(x, perm);
}

/**
 * Which way `op(a) · op(b)` copies fewer elements on the wasm backend: transposing the flagged operands
 * (`direct`), or computing `op(b)ᵀ · op(a)ᵀ` — where the flagged operands need no copy, the others and the product
 * do — and transposing the (often small) product back (`swapped`). The dense layer's input gradient `dy · Wᵀ` swaps
 * (transposing a 9216 × 4096 weight costs 0.45 s; `W · dyᵀ` copies only `dy` and the product); its weight gradient
 * `xᵀ · dy` does not.
 */
export function productCost(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean
): { direct: number; swapped: number; swap: boolean } {
  const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
  const rows = aShape[transposeA ? aShape.length - 1 : aShape.length - 2] ?? 1;
  const cols = bShape[transposeB ? bShape.length - 2 : bShape.length - 1] ?? 1;
  const batch = Math.max(size(aShape.slice(0, -2)), size(bShape.slice(0, -2)));
  const direct = (transposeA ? size(aShape) : 0) + (transposeB ? size(bShape) : 0);
  const swapped = (transposeA ? 0 : size(aShape)) + (transposeB ? 0 : size(bShape)) + batch * rows * cols;
  return { direct, swapped, swap: swapped < direct };
}

/**
 * Wraps the wasm backend's own `BatchMatMul`, which is fast (XNNPACK) only without transposes: with `transposeA` it
 * runs a scalar triple loop — the weight gradient of every dense layer (`xᵀ · dy`) and of every 1×1 convolution took
 * ≈ 0.1 GFLOP/s, 30–50× slower than the same product on transposed copies (AlexNet's 9216 × 4096 weight gradient at
 * batch 32: 5.2 s instead of 0.18 s) — and `transposeB` is ≈ 10× slower than transposing first. The wrapper
 * transposes the flagged operands with the backend's `Transpose` (a copy, cheap next to the product) and runs the
 * native kernel without transposes, or computes the transposed product where that copies less (`productCost`).
 * Returns `null` when the backend has no `BatchMatMul` to wrap.
 */
export function createBatchMatMulConfig(): KernelConfig | null {
  return wrapNativeKernel(
    BatchMatMul,
    (native) =>
      ((args) => {
        const attrs = args.attrs as unknown as BatchMatMulAttrs;
        const { transposeA, transposeB } = attrs;
        if (!transposeA && !transposeB) return native.kernelFunc(args);
        const plain = { ...attrs, transposeA: false, transposeB: false } as unknown as typeof args.attrs;
        return tidy(() => {
          const a = asTensor(args.inputs['a'], BatchMatMul, 'a');
          const b = asTensor(args.inputs['b'], BatchMatMul, 'b');
          const run = (left: Tensor, right: Tensor) =>
            engine().makeTensorFromTensorInfo(
              native.kernelFunc({ ...args, inputs: { a: left, b: right }, attrs: plain }) as TensorInfo
            );
          if (productCost(a.shape, b.shape, transposeA, transposeB).swap) {
            // (op(a) · op(b))ᵀ = op(b)ᵀ · op(a)ᵀ, and op(x)ᵀ is x itself when x was flagged.
            return swapInner(run(transposeB ? b : swapInner(b), transposeA ? a : swapInner(a)));
          }
          return run(transposeA ? swapInner(a) : a, transposeB ? swapInner(b) : b);
        });
      }) as KernelFunc
  );
}
