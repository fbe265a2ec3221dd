import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { validateModule } from '../wasm-module.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { nativeWasmKernel } from './register-all.js';
import { encodeWindowArgmaxModule } from './window-argmax-module.js';

type Pool = 'max' | 'avg';
interface PoolCase {
  pool: Pool;
  size: number;
  stride: number;
  pad: 'same' | 'valid' | number;
  /** Integer-valued inputs, so windows hold ties (as after a ReLU). */
  ties: boolean;
}

const cases: PoolCase[] = [];
for (const pool of ['max', 'avg'] as const) {
  for (const size of [1, 2, 3, 5]) {
    for (const stride of [1, 2, 3]) {
      for (const pad of ['same', 'valid', 1] as const) {
        if (typeof pad === 'number' && pad >= size) continue; // windows wholly in the padding: undefined forward
        cases.push({ pool, size, stride, pad, ties: (size + stride) % 2 === 0 });
      }
    }
  }
}

function poolGrad(c: PoolCase): number[] {
  return tf.tidy(() => {
    const shape: [number, number, number, number] = [2, 7 + c.stride, 9, 3];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor4d(
      Float32Array.from({ length: n }, (_, i) => (c.ties ? Math.round(2 * Math.sin(i * 1.37)) : Math.sin(i * 1.37))),
      shape
    );
    const rounding = typeof c.pad === 'number' ? 'floor' : undefined;
    const op = (a: tf.Tensor4D) =>
      c.pool === 'max'
        ? tf.maxPool(a, c.size, c.stride, c.pad, rounding)
        : tf.avgPool(a, c.size, c.stride, c.pad, rounding);
    const y = op(x);
    const dy = tf.tensor4d(
      Float32Array.from({ length: y.size }, (_, i) => 1 + (i % 7)),
      y.shape
    );
    return Array.from(
      tf
        .grad((a: tf.Tensor) => tf.sum(tf.mul(op(a as tf.Tensor4D), dy)))(x)
        .dataSync()
    );
  });
}

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

/**
 * Gradient of a ceil-mode max pool. tfjs-core's pool gradients drop `dimRoundingMode`, so the cpu backend's is wrong
 * here; the reference is the same pool written as explicit lowest-value padding + a 'valid' pool, on cpu.
 */
function ceilModeGrads(size: number, stride: number, pad: number): { wasm: number[]; reference: number[] } {
  const shape: [number, number, number, number] = [2, 10, 9, 3];
  const x = () =>
    tf.tensor4d(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.round(3 * Math.sin(i * 0.91))),
      shape
    );
  const info = tf.backend_util.computePool2DInfo(shape, size, stride, 1, pad, 'ceil');
  const bottom = (info.outHeight - 1) * stride + size - shape[1] - pad;
  const right = (info.outWidth - 1) * stride + size - shape[2] - pad;
  const dy = () =>
    tf.tensor4d(
      Float32Array.from({ length: 2 * info.outHeight * info.outWidth * 3 }, (_, i) => 1 + (i % 5)),
      [2, info.outHeight, info.outWidth, 3]
    );
  const wasm = tf.tidy(() =>
    Array.from(
      tf
        .grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, size, stride, pad, 'ceil'), dy())))(x())
        .dataSync()
    )
  );
  return {
    wasm,
    reference: tf.tidy(() => {
      const explicit = (a: tf.Tensor) =>
        tf.maxPool(
          tf.pad(
            a as tf.Tensor4D,
            [
              [0, 0],
              [pad, bottom],
              [pad, right],
              [0, 0],
            ],
            -1e30
          ),
          size,
          stride,
          'valid'
        );
      return Array.from(
        tf
          .grad((a: tf.Tensor) => tf.sum(tf.mul(explicit(a), dy())))(x())
          .dataSync()
      );
    }),
  };
}

describe('pooling gradients on wasm', () => {
  it.each([
    { size: 3, stride: 2, pad: 0 },
    { size: 2, stride: 2, pad: 1 },
    { size: 3, stride: 3, pad: 1 },
  ])(
    'ceil-mode max pool $size×$size stride $stride pad $pad routes every window’s gradient',
    async ({ size, stride, pad }) => {
      await tf.setBackend('wasm');
      const { wasm } = ceilModeGrads(size, stride, pad);
      await tf.setBackend('cpu');
      const { reference } = ceilModeGrads(size, stride, pad);
      await tf.setBackend('wasm');
      expect(wasm).toEqual(reference);
    }
  );

  it('use the engine’s MaxPoolGrad, because the backend’s own drops windows that touch the padding', () => {
    expect(tf.getKernel('MaxPoolGrad', 'wasm')).toBe(maxPoolGradConfig);
    const native = nativeWasmKernel('MaxPoolGrad');
    expect(native).toBeDefined();
    const run = (kernelFunc: tf.KernelFunc) =>
      tf.tidy(() => {
        const x = tf.tensor4d(
          Float32Array.from({ length: 25 }, (_, i) => Math.sin(i * 1.37)),
          [1, 5, 5, 1]
        );
        const dy = tf.tensor4d(
          Float32Array.from({ length: 25 }, (_, i) => i + 1),
          [1, 5, 5, 1]
        );
        const attrs = { filterSize: 3, strides: 1, pad: 'same' };
        const out = kernelFunc({ inputs: { dy, input: x, output: x }, backend: tf.backend(), attrs } as never);
        const t = out instanceof tf.Tensor ? out : tf.engine().makeTensorFromTensorInfo(out as tf.TensorInfo);
        return Array.from(t.dataSync());
      });
    const ours = run(maxPoolGradConfig.kernelFunc);
    const theirs = run(native!.kernelFunc);
    // Input (1, 4) is the maximum of the window centred on (0, 4), which overlaps the right padding.
    expect(ours[9]).toBe(5);
    expect(theirs[9]).toBe(0);
  });

  it.each(
    cases.map(
      (c) => [`${c.pool} ${c.size}×${c.size} stride ${c.stride} pad ${c.pad}${c.ties ? ' ties' : ''}`, c] as const
    )
  )('%s matches the cpu backend', async (_, c) => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const wasm = poolGrad(c);
    expect(tf.memory().numTensors).toBe(before);
    await tf.setBackend('cpu');
    const cpu = poolGrad(c);
    await tf.setBackend('wasm');
    if (c.pool === 'max')
      expect(wasm).toEqual(cpu); // the same float64 sums in the same order: bit-identical
    else wasm.forEach((v, i) => expect(Math.abs(v - cpu[i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(cpu[i]!))));
  });

  it('max pool: bit-identical to cpu on a wide layer with −∞ and NaN windows, NaN and ±∞ in dy, zeros of both signs', async () => {
    const grads = () =>
      tf.tidy(() => {
        const shape: [number, number, number, number] = [3, 13, 11, 19];
        const n = shape.reduce((a, b) => a * b, 1);
        const values = Float32Array.from({ length: n }, (_, i) =>
          i < 19 * 11 * 4
            ? Number.NEGATIVE_INFINITY
            : i % 97 === 0
              ? Number.NaN
              : Math.round(3 * Math.sin(i * 0.7)) * 0.5
        );
        const x = tf.tensor4d(values, shape);
        const op = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 3, 2, 'same');
        const dyShape = op(x).shape;
        const dy = tf.tensor4d(
          Float32Array.from({ length: dyShape.reduce((a, b) => a * b, 1) }, (_, i) =>
            i % 13 === 0
              ? -0
              : i === 1000
                ? Number.NaN
                : i === 1500
                  ? Number.POSITIVE_INFINITY
                  : i === 2000
                    ? Number.NEGATIVE_INFINITY
                    : Math.cos(i) * 1e-3
          ),
          dyShape
        );
        return Array.from(
          tf
            .grad((a: tf.Tensor) => tf.sum(tf.mul(op(a), dy)))(x)
            .dataSync()
        );
      });
    await tf.setBackend('cpu');
    const cpu = grads();
    await tf.setBackend('wasm');
    const wasm = grads();
    expect(wasm.map((v) => Object.is(v, -0))).toEqual(cpu.map((v) => Object.is(v, -0)));
    expect(wasm).toEqual(cpu);
  });
});

describe('the window-argmax module', () => {
  it('validates with a shared and an unshared heap', () => {
    expect(validateModule(encodeWindowArgmaxModule(false))).toBe(true);
    expect(validateModule(encodeWindowArgmaxModule(true))).toBe(true);
  });
});
