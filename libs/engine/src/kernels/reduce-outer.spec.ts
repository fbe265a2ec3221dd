import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { validateModule } from '../wasm-module.js';
import { encodeColumnSumModule } from './column-sum-module.js';
import { outerReduction } from './reduce-outer.js';
import { nativeWasmKernel } from './register-all.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

const CASES: { shape: number[]; axis: number[] }[] = [
  { shape: [32, 8, 8, 64], axis: [0, 1, 2] }, // batch norm's statistics and β/γ gradients
  { shape: [4, 5, 6, 7], axis: [0, 1, 2] }, // a float tail after one vector
  { shape: [3, 5, 2], axis: [0, 1] }, // inner 2: floats only
  { shape: [16, 10], axis: [0] }, // a dense bias gradient
  { shape: [4, 6, 6, 9], axis: [1, 2] }, // global average pooling: middle axes, per batch item
  { shape: [2, 3, 4, 5, 6], axis: [1, 2, 3] },
  { shape: [2, 3, 4, 5], axis: [-3, -4] }, // negative, unsorted
  { shape: [1000, 5], axis: [0] }, // long columns
];

/** `x` with values of mixed sign and magnitude (sums that round), the same on both calls. */
function input(shape: number[]): tf.Tensor {
  const size = shape.reduce((p, d) => p * d, 1);
  return tf.tensor(
    Array.from({ length: size }, (_, i) => Math.sin(i * 1.7) * 10 ** ((i % 7) - 3)),
    shape
  );
}

/** The reduction in float64 over every element, as the independent reference. */
function reference(x: Float32Array, shape: number[], axis: number[], mean: boolean): number[] {
  const rank = shape.length;
  const axes = axis.map((a) => (a < 0 ? a + rank : a));
  const outShape = shape.filter((_, i) => !axes.includes(i));
  const out = new Float64Array(outShape.reduce((p, d) => p * d, 1));
  const index = new Array<number>(rank).fill(0);
  let count = 0;
  for (let flat = 0; flat < x.length; flat++) {
    let o = 0;
    for (let d = 0; d < rank; d++) if (!axes.includes(d)) o = o * (shape[d] as number) + (index[d] as number);
    out[o] = (out[o] as number) + (x[flat] as number);
    for (let d = rank - 1; d >= 0; d--) {
      index[d] = (index[d] as number) + 1;
      if ((index[d] as number) < (shape[d] as number)) break;
      index[d] = 0;
    }
  }
  for (const a of axes) count = (count || 1) * (shape[a] as number);
  return Array.from(out, (v) => (mean ? v / count : v));
}

function runNative(kernel: 'Sum' | 'Mean', x: tf.Tensor, axis: number[], keepDims: boolean): tf.Tensor {
  const config = nativeWasmKernel(kernel);
  if (config === undefined) throw new Error(`no native ${kernel}`);
  const info = config.kernelFunc({
    inputs: { x },
    attrs: { axis, keepDims } as unknown as tf.NamedAttrMap,
    backend: tf.backend(),
  }) as tf.TensorInfo;
  return tf.engine().makeTensorFromTensorInfo(info);
}

describe('Sum and Mean over outer axes on wasm', () => {
  it("give the backend's own kernel's bits (axes in order) and the float64 sums, leaking nothing", () => {
    for (const { shape, axis } of CASES) {
      for (const kernel of ['Sum', 'Mean'] as const) {
        for (const keepDims of [false, true]) {
          const label = JSON.stringify({ kernel, shape, axis, keepDims });
          const before = tf.memory().numTensors;
          const x = input(shape);
          const ours = kernel === 'Sum' ? tf.sum(x, axis, keepDims) : tf.mean(x, axis, keepDims);
          const native = runNative(kernel, x, axis, keepDims);
          expect(ours.shape, label).toEqual(native.shape);
          // The backend sums in the order the axes are given (it transposes them so); we sum in memory order.
          const sorted = axis.every((a, i) => i === 0 || a > (axis[i - 1] as number));
          if (sorted) expect(Array.from(ours.dataSync()), label).toEqual(Array.from(native.dataSync()));
          const want = reference(x.dataSync() as Float32Array, shape, axis, kernel === 'Mean');
          const got = ours.dataSync();
          const scale = Math.max(...want.map(Math.abs));
          want.forEach((w, i) => expect(Math.abs((got[i] as number) - w), label).toBeLessThanOrEqual(1e-5 * scale));
          tf.dispose([x, ours, native]);
          expect(tf.memory().numTensors, label).toBe(before);
        }
      }
    }
  });

  it('leaves innermost reductions, int32 and empty tensors to the backend, with the same results', () => {
    const x = tf.tensor([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    expect(Array.from(tf.sum(x, 0).dataSync())).toEqual([5, 7, 9]);
    expect(Array.from(tf.sum(tf.cast(x, 'float32'), 1).dataSync())).toEqual([6, 15]);
    expect(tf.sum(tf.zeros([0, 3]), 0).shape).toEqual([3]);
  });

  it('plans a column sum only where the backend would transpose', () => {
    expect(outerReduction([32, 8, 8, 64], [0, 1, 2])).toMatchObject({ outer: 1, rows: 2048, inner: 64 });
    expect(outerReduction([4, 6, 6, 9], [2, 1])).toMatchObject({ outer: 4, rows: 36, inner: 9, outShape: [4, 9] });
    expect(outerReduction([4, 6, 6, 9], [3])).toBeNull(); // innermost: no transpose there
    expect(outerReduction([4, 6, 6, 9], [0, 2])).toBeNull(); // not one block
    expect(outerReduction([4, 6, 1], [0, 1])).toBeNull(); // inner 1: already innermost
  });

  it('encodes a module that validates with a shared and an unshared heap', () => {
    expect(validateModule(encodeColumnSumModule(false))).toBe(true);
    expect(validateModule(encodeColumnSumModule(true))).toBe(true);
  });
});
