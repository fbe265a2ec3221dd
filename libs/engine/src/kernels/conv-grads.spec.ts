import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../init-engine.js';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwise-conv2d-native-backprop-filter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwise-conv2d-native-backprop-input.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  kind: 'conv2d' | 'depthwise';
  stride: number;
  kernel: number;
  pad: Pad;
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  /** Output channels (conv2d) or the channel multiplier (depthwise). */
  outChannels: number;
}

const STRIDES = [1, 2, 4];
const KERNELS = [1, 3, 5, 7, 11];
const CHANNELS = [1, 3, 16, 64];
const BATCHES = [1, 3, 8];
/** Multiply–adds the pure-JS cpu reference may spend on one case's forward pass (it runs three such passes). */
const CPU_BUDGET = 4e6;

function padsFor(index: number, kernel: number): Pad[] {
  // Explicit paddings: asymmetric, sometimes larger than the kernel would need, sometimes zero on one side.
  const explicit: Pad = [
    [0, 0],
    [index % 3, (kernel + index) % 4],
    [(kernel + 1) % 3, index % 2],
    [0, 0],
  ];
  return ['same', 'valid', explicit];
}

/**
 * Every stride × kernel size × padding mode once per kind, with channel counts and batch sizes cycling through
 * 1/3/16/64 and 1/3/8 (the larger ones where the cpu reference can afford them), on non-square inputs whose sizes
 * the stride does not always divide.
 */
function sweep(kind: ConvCase['kind']): ConvCase[] {
  const cases: ConvCase[] = [];
  let i = 0;
  for (const stride of STRIDES) {
    for (const kernel of KERNELS) {
      for (const pad of padsFor(i, kernel)) {
        const height = kernel + stride * 2 + (i % 3);
        const width = kernel + stride * 3 + ((i + 1) % 4);
        let batch = BATCHES[i % BATCHES.length] as number;
        let inChannels = CHANNELS[i % CHANNELS.length] as number;
        let outChannels = kind === 'conv2d' ? (CHANNELS[(i + 2) % CHANNELS.length] as number) : 1 + (i % 2);
        const cost = () =>
          batch * Math.ceil(height / stride) * Math.ceil(width / stride) * kernel * kernel * inChannels * outChannels;
        while (cost() > CPU_BUDGET && (inChannels > 3 || outChannels > 3)) {
          if (inChannels >= outChannels) inChannels = inChannels === 64 ? 16 : 3;
          else outChannels = outChannels === 64 ? 16 : 3;
        }
        while (cost() > CPU_BUDGET && batch > 1) batch = batch === 8 ? 3 : 1;
        cases.push({ kind, stride, kernel, pad, batch, height, width, inChannels, outChannels });
        i++;
      }
    }
  }
  return cases;
}

function values(n: number, phase: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + phase) + 0.25 * Math.cos(i * 0.117));
}

/** Gradients of `Σ conv(x, f) · dy` with respect to x and f on the current backend, read back as arrays. */
function gradients(c: ConvCase): { dx: Float32Array; df: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(c.batch * c.height * c.width * c.inChannels, 1), [
      c.batch,
      c.height,
      c.width,
      c.inChannels,
    ]);
    const f = tf.tensor4d(values(c.kernel * c.kernel * c.inChannels * c.outChannels, 2), [
      c.kernel,
      c.kernel,
      c.inChannels,
      c.outChannels,
    ]);
    const op = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D =>
      c.kind === 'conv2d' ? tf.conv2d(a, b, c.stride, c.pad) : tf.depthwiseConv2d(a, b, c.stride, c.pad);
    const shape = op(x, f).shape;
    const dy = tf.tensor4d(
      values(
        shape.reduce((a, b) => a * b, 1),
        3
      ),
      shape
    );
    const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(op(a as tf.Tensor4D, b as tf.Tensor4D), dy))
    )([x, f]);
    return { dx: (dx as tf.Tensor).dataSync() as Float32Array, df: (df as tf.Tensor).dataSync() as Float32Array };
  });
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i]! - expected[i]!) ** 2;
    den += expected[i]! ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

function label(c: ConvCase): string {
  const pad = typeof c.pad === 'string' ? c.pad : `explicit ${JSON.stringify(c.pad.slice(1, 3))}`;
  return `stride ${c.stride}, ${c.kernel}×${c.kernel}, ${pad}, batch ${c.batch}, ${c.height}×${c.width}×${c.inChannels} → ${c.outChannels}`;
}

async function compareWithCpu(c: ConvCase): Promise<void> {
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const wasm = gradients(c);
  expect(tf.memory().numTensors).toBe(before);
  await tf.setBackend('cpu');
  const cpu = gradients(c);
  expect(relativeError(wasm.dx, cpu.dx)).toBeLessThanOrEqual(1e-4);
  expect(relativeError(wasm.df, cpu.df)).toBeLessThanOrEqual(1e-4);
}

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

describe('wasm convolution gradient kernels', () => {
  it('are the engine’s kernels, registered for wasm', () => {
    for (const config of [
      conv2dBackpropFilterConfig,
      conv2dBackpropInputConfig,
      depthwiseConv2dNativeBackpropFilterConfig,
      depthwiseConv2dNativeBackpropInputConfig,
    ]) {
      expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc).toBe(config.kernelFunc);
    }
  });

  it('cover every stride, kernel size and padding mode with channels 1…64 and batches 1…8', () => {
    for (const kind of ['conv2d', 'depthwise'] as const) {
      const cases = sweep(kind);
      expect(cases).toHaveLength(STRIDES.length * KERNELS.length * 3);
      expect(new Set(cases.map((c) => c.batch))).toEqual(new Set(BATCHES));
      const channels = new Set(cases.flatMap((c) => [c.inChannels, ...(kind === 'conv2d' ? [c.outChannels] : [])]));
      expect(channels).toEqual(new Set(CHANNELS));
    }
  });

  it.each(sweep('conv2d').map((c) => [label(c), c] as const))(
    'conv2d gradients match the cpu backend: %s',
    async (_, c) => compareWithCpu(c)
  );

  it.each(sweep('depthwise').map((c) => [label(c), c] as const))(
    'depthwise gradients match the cpu backend: %s',
    async (_, c) => compareWithCpu(c)
  );
});
