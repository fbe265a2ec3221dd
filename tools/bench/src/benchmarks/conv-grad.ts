import { initEngine, nativeWasmKernel } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import { defineBenchmark } from '../benchmark.js';
import { time } from '../timing.js';

/** One kernel call to time: its inputs and attributes, and the forward op it is the gradient of. */
interface GradCase {
  kernel: string;
  layer: string;
  /** Builds the kernel's inputs at batch `n` on the current backend. */
  inputs(n: number): tf.NamedTensorMap;
  attrs(n: number): Record<string, unknown>;
  /** The forward op on the same layer, for the ratio. */
  forward(inputs: tf.NamedTensorMap): tf.Tensor;
}

const BATCH = 32;
const HEIGHT = 64;
const IN = 16;
const OUT = 32;

function normal(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

function outSize(size: number, stride: number): number {
  return Math.ceil(size / stride);
}

function convCases(stride: number): GradCase[] {
  const layer = `conv ${BATCH}×${HEIGHT}×${HEIGHT}×${IN} → ${OUT}, 3×3, stride ${stride}, same`;
  const o = outSize(HEIGHT, stride);
  const xShape = (n: number) => [n, HEIGHT, HEIGHT, IN];
  return [
    {
      kernel: 'Conv2DBackpropFilter',
      layer,
      inputs: (n) => ({ x: normal(xShape(n), 1), dy: normal([n, o, o, OUT], 2), filter: normal([3, 3, IN, OUT], 3) }),
      attrs: () => ({ strides: stride, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, IN, OUT] }),
      forward: ({ x, filter }) => tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, stride, 'same'),
    },
    {
      kernel: 'Conv2DBackpropInput',
      layer,
      inputs: (n) => ({ dy: normal([n, o, o, OUT], 2), filter: normal([3, 3, IN, OUT], 3), x: normal(xShape(n), 1) }),
      attrs: (n) => ({ strides: stride, pad: 'same', dataFormat: 'NHWC', inputShape: xShape(n) }),
      forward: ({ x, filter }) => tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, stride, 'same'),
    },
  ];
}

function depthwiseCases(height: number, channels: number, stride: number): GradCase[] {
  const layer = `depthwise ${BATCH}×${height}×${height}×${channels}, 3×3, stride ${stride}, same`;
  const o = outSize(height, stride);
  const xShape = (n: number) => [n, height, height, channels];
  return [
    {
      kernel: 'DepthwiseConv2dNativeBackpropFilter',
      layer,
      inputs: (n) => ({
        x: normal(xShape(n), 1),
        dy: normal([n, o, o, channels], 2),
        filter: normal([3, 3, channels, 1], 3),
      }),
      attrs: () => ({ strides: stride, pad: 'same', dilations: 1, filterShape: [3, 3, channels, 1] }),
      forward: ({ x, filter }) => tf.depthwiseConv2d(x as tf.Tensor4D, filter as tf.Tensor4D, stride, 'same'),
    },
    {
      kernel: 'DepthwiseConv2dNativeBackpropInput',
      layer,
      inputs: (n) => ({
        dy: normal([n, o, o, channels], 2),
        filter: normal([3, 3, channels, 1], 3),
        x: normal(xShape(n), 1),
      }),
      attrs: (n) => ({ strides: stride, pad: 'same', dilations: 1, inputShape: xShape(n) }),
      forward: ({ x, filter }) => tf.depthwiseConv2d(x as tf.Tensor4D, filter as tf.Tensor4D, stride, 'same'),
    },
  ];
}

const maxPoolCase: GradCase = {
  kernel: 'MaxPoolGrad',
  layer: `max pool ${BATCH}×${HEIGHT}×${HEIGHT}×${IN}, 3×3, stride 2, same`,
  inputs: (n) => {
    const input = normal([n, HEIGHT, HEIGHT, IN], 1);
    const output = tf.maxPool(input as tf.Tensor4D, 3, 2, 'same');
    return { input, output, dy: normal(output.shape, 2) };
  },
  attrs: () => ({ filterSize: 3, strides: 2, pad: 'same' }),
  forward: ({ input }) => tf.maxPool(input as tf.Tensor4D, 3, 2, 'same'),
};

const CASES: readonly GradCase[] = [
  ...convCases(1),
  ...convCases(2),
  ...depthwiseCases(HEIGHT, IN, 1),
  ...depthwiseCases(32, 128, 1),
  ...depthwiseCases(32, 128, 2),
  maxPoolCase,
];

/** Runs a kernel through the engine (the registered implementation) and disposes its output. */
function runKernel(c: GradCase, inputs: tf.NamedTensorMap, attrs: Record<string, unknown>): void {
  const kernelInputs = { ...inputs };
  if (c.kernel.endsWith('BackpropInput')) delete kernelInputs['x'];
  if (c.kernel.endsWith('BackpropFilter')) delete kernelInputs['filter'];
  tf.dispose(tf.engine().runKernel(c.kernel, kernelInputs, attrs as tf.NamedAttrMap) as tf.Tensor);
}

/** The wasm backend's own kernel the engine replaced, called directly (its output freed by data id). */
function runNative(c: GradCase, inputs: tf.NamedTensorMap, attrs: Record<string, unknown>): (() => void) | null {
  const native = nativeWasmKernel(c.kernel);
  if (native === undefined) return null;
  return () => {
    const out = native.kernelFunc({ inputs, backend: tf.backend(), attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
    tf.backend().disposeData(out.dataId);
  };
}

export default defineBenchmark({
  name: 'conv-grad',
  description:
    'wasm training kernels of @supwalsh/engine vs the forward op, the replaced wasm kernel and the cpu backend (NOTES layer: batch 32, 64×64×16 → 32, 3×3); --quick skips cpu, --cpu-batch N (default 2) sets the cpu batch that is scaled to 32',
  async run({ args, log, setBackend }) {
    const quick = args.includes('--quick');
    const cpuBatchArg = args[args.indexOf('--cpu-batch') + 1];
    const cpuBatch = args.includes('--cpu-batch') ? Number(cpuBatchArg) : 2;
    const info = await initEngine({ backend: 'wasm' });
    setBackend(`wasm ${info.version} (${info.simd ? 'SIMD' : 'no SIMD'}, ${info.threads} thread)`);
    const rows = [];
    for (const c of CASES) {
      await tf.setBackend('wasm');
      const inputs = c.inputs(BATCH);
      const attrs = c.attrs(BATCH);
      const options = { warmup: 2, minSeconds: 1, minRuns: 5 };
      const engine = await time(() => runKernel(c, inputs, attrs), options);
      const forward = await time(() => tf.dispose(c.forward(inputs)), options);
      const native = runNative(c, inputs, attrs);
      const replaced = native ? await time(native, options) : null;
      tf.dispose(inputs);
      let cpuMs: number | null = null;
      if (!quick) {
        await tf.setBackend('cpu');
        const small = c.inputs(cpuBatch);
        const cpu = await time(() => runKernel(c, small, c.attrs(cpuBatch)), { warmup: 0, minSeconds: 0, minRuns: 1 });
        cpuMs = (cpu.median * 1000 * BATCH) / cpuBatch;
        tf.dispose(small);
      }
      const row = {
        kernel: c.kernel,
        layer: c.layer,
        wasmMs: engine.median * 1000,
        forwardMs: forward.median * 1000,
        vsForward: engine.median / forward.median,
        replacedWasmMs: replaced ? replaced.median * 1000 : null,
        cpuMs,
        cpuBatch: quick ? null : cpuBatch,
        speedupVsCpu: cpuMs === null ? null : cpuMs / (engine.median * 1000),
      };
      log(
        `${c.kernel} (${c.layer}): ${row.wasmMs.toFixed(1)} ms = ${row.vsForward.toFixed(2)}× forward` +
          (replaced ? `, replaced kernel ${row.replacedWasmMs!.toFixed(1)} ms` : '') +
          (cpuMs === null ? '' : `, cpu ≈ ${cpuMs.toFixed(0)} ms (batch ${cpuBatch} × ${BATCH / cpuBatch})`)
      );
      rows.push(row);
    }
    await tf.setBackend('wasm');
    return rows;
  },
});
