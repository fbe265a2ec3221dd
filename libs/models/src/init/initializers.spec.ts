import { createRng, initEngine } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, buildModelWithReport } from '../build-model.js';
import { ModelArgumentError } from '../errors.js';
import { initializeModel } from './initialize-model.js';
import { orthogonalMatrix } from './orthogonal.js';
import { parameterLayers } from './parameter-layers.js';
import { layerPlan, type InitializerName } from './policies.js';
import { expectFillsInterval, expectZeroMeanVariance, sampleMoments } from './statistics.spec-helpers.js';

// wasm: the orthogonal initializer's matrix products and LSUV's forward passes are ~30× slower on cpu.
beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

function weight(model: tfl.LayersModel, layer: string, index = 0): Float32Array {
  return model.getLayer(layer).getWeights()[index]!.dataSync() as Float32Array;
}

/** max |AᵀA − I| of a column-major view: the columns of `a` (`rows × cols`, row-major) are orthonormal. */
function columnOrthonormalityError(a: ArrayLike<number>, rows: number, cols: number): number {
  let worst = 0;
  for (let i = 0; i < cols; i++)
    for (let j = i; j < cols; j++) {
      let dot = 0;
      for (let r = 0; r < rows; r++) dot += a[r * cols + i]! * a[r * cols + j]!;
      worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
    }
  return worst;
}

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c]!;
  return t;
}

// Base's fc1 has 4096 × 640 weights: enough draws for tight moment checks.
describe('initializers on Base (fc1: 4096 → 640)', () => {
  const fanIn = 4096;
  const fanOut = 640;
  const build = (init: InitializerName, seed = 0) => buildModel('base', { init, seed });

  it('pytorch-default is reset_parameters: weights and biases fill U(±1/√fan_in)', () => {
    const model = build('pytorch-default');
    const bound = 1 / Math.sqrt(fanIn);
    const w = weight(model, 'fc1');
    expectFillsInterval(w, bound);
    expectZeroMeanVariance(w, bound ** 2 / 3, 'uniform');
    const b = weight(model, 'fc1', 1);
    expectFillsInterval(b, bound);
    expect(sampleMoments(b).max - sampleMoments(b).min).toBeGreaterThan(1.9 * bound);
    expectFillsInterval(weight(model, 'fc4'), 1 / Math.sqrt(50));
    model.dispose();
  });

  it('he is N(0, 2/fan_in) with zero biases', () => {
    const model = build('he');
    expectZeroMeanVariance(weight(model, 'fc1'), 2 / fanIn, 'normal');
    expectZeroMeanVariance(weight(model, 'fc2'), 2 / 640, 'normal');
    expect(weight(model, 'fc1', 1).every((v) => v === 0)).toBe(true);
    model.dispose();
  });

  it('xavier is U(±√(6/(fan_in + fan_out))) with zero biases', () => {
    const model = build('xavier');
    const bound = Math.sqrt(6 / (fanIn + fanOut));
    const w = weight(model, 'fc1');
    expectFillsInterval(w, bound);
    expectZeroMeanVariance(w, bound ** 2 / 3, 'uniform');
    expect(weight(model, 'fc1', 1).every((v) => v === 0)).toBe(true);
    model.dispose();
  });

  it('random is N(0, 0.01²) with zero biases', () => {
    const model = build('random');
    expectZeroMeanVariance(weight(model, 'fc1'), 1e-4, 'normal');
    expectZeroMeanVariance(weight(model, 'fc3'), 1e-4, 'normal');
    expect(weight(model, 'fc4', 1).every((v) => v === 0)).toBe(true);
    model.dispose();
  });

  it('zero is zero everywhere, so only the output bias ever gets a gradient', () => {
    const model = build('zero');
    for (const w of model.getWeights()) expect(w.dataSync().every((v) => v === 0)).toBe(true);
    const x = tf.randomNormal([4, 64, 64, 1], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
    const { grads } = tf.variableGrads(() =>
      tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor)
    );
    for (const [name, g] of Object.entries(grads)) {
      const nonZero = g.dataSync().some((v) => v !== 0);
      expect([name, nonZero]).toEqual([name, name.startsWith('fc4/bias')]);
    }
    tf.dispose([x, y, grads]);
    model.dispose();
  });

  it('orthogonal gives orthonormal rows of the PyTorch [out, fan_in] weight (W·Wᵀ = I)', () => {
    const model = build('orthogonal');
    // TF kernels are [fan_in, out] = Wᵀ: W·Wᵀ = I means the kernel's columns are orthonormal.
    expect(columnOrthonormalityError(weight(model, 'fc1'), fanIn, fanOut)).toBeLessThan(1e-4);
    expect(columnOrthonormalityError(weight(model, 'fc2'), 640, 320)).toBeLessThan(1e-4);
    expect(columnOrthonormalityError(weight(model, 'fc4'), 50, 10)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('lsuv leaves every layer with output variance 1 ± tolerance on the given batch', () => {
    const data = tf.randomNormal([32, 64, 64, 1], 0.5, 2, 'float32', 3);
    const { model, init } = buildModelWithReport('base', { init: 'lsuv', data, lsuv: { tolerance: 0.05 } });
    expect(init.layers.map((l) => l.name)).toEqual(['fc1', 'fc2', 'fc3', 'fc4']);
    for (const layer of init.layers) {
      expect(Math.abs(layer.lsuv!.variance - 1)).toBeLessThan(0.05);
    }
    // Independently: the variance of each Dense output measured after all layers were scaled.
    for (const name of ['fc1', 'fc3', 'fc4']) {
      const probe = tf.tidy(() => {
        let h = tf.reshape(data, [32, -1]);
        for (const layer of ['fc1', 'fc2', 'fc3', 'fc4']) {
          const [k, b] = model.getLayer(layer).getWeights();
          h = tf.add(tf.matMul(h, k!), b!);
          if (layer === name) return tf.moments(h).variance.dataSync()[0]!;
          h = tf.relu(h);
        }
        return Number.NaN;
      });
      expect(Math.abs(probe - 1)).toBeLessThan(0.05);
    }
    // The scaling kept the orthogonal directions: fc2's columns are still mutually orthogonal.
    const w = weight(model, 'fc2');
    const norms = Array.from({ length: 320 }, (_, j) => {
      let s = 0;
      for (let r = 0; r < 640; r++) s += w[r * 320 + j]! ** 2;
      return Math.sqrt(s);
    });
    const normalized = Float32Array.from(w, (v, i) => v / norms[i % 320]!);
    expect(columnOrthonormalityError(normalized, 640, 320)).toBeLessThan(1e-4);
    data.dispose();
    model.dispose();
  });

  it('lsuv without a data batch is rejected', () => {
    expect(() => buildModel('base', { init: 'lsuv' })).toThrow(ModelArgumentError);
    expect(() => buildModel('base', { init: 'lsuv' })).toThrow('options.data is required for lsuv');
  });

  it('equal seeds give identical weights and different seeds different ones', () => {
    const weights = (seed: number) => {
      const model = build('he', seed);
      const all = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return all.flat();
    };
    const a = weights(5);
    const b = weights(5);
    const c = weights(6);
    expect(b.every((v, i) => v === a[i])).toBe(true);
    expect(c.filter((v, i) => v === a[i] && v !== 0).length).toBeLessThan(10);
  });
});

describe('lsuv on convolutions (SqueezeNet)', () => {
  it('brings every conv output to variance 1 ± 0.1 on the batch, checked through a probe of the built model', () => {
    const data = tf.randomUniform([8, 64, 64, 1], 0, 1, 'float32', 4);
    const { model, init } = buildModelWithReport('squeezenet', { init: 'lsuv', data });
    expect(init.layers).toHaveLength(26);
    for (const layer of init.layers)
      expect([layer.name, Math.abs(layer.lsuv!.variance - 1) < 0.1]).toEqual([layer.name, true]);
    for (const name of ['features.0', 'features.7.expand3x3', 'classifier.1']) {
      const probe = tfl.model({ inputs: model.inputs, outputs: model.getLayer(name).output as tfl.SymbolicTensor });
      const variance = tf.tidy(() => tf.moments(probe.predict(data) as tf.Tensor).variance.dataSync()[0]!);
      expect(Math.abs(variance - 1)).toBeLessThan(0.1);
    }
    data.dispose();
    model.dispose();
  });
});

describe('orthogonalMatrix', () => {
  it.each([
    [300, 1000],
    [1000, 300],
    [256, 256],
    [130, 130],
  ])('is orthonormal along the shorter side for %i × %i, with Haar-like entries of variance 1/max', (rows, cols) => {
    const q = orthogonalMatrix(rows, cols, createRng(rows * 7 + cols));
    const error =
      rows <= cols
        ? columnOrthonormalityError(transpose(q, rows, cols), cols, rows)
        : columnOrthonormalityError(q, rows, cols);
    expect(error).toBeLessThan(1e-4);
    expectZeroMeanVariance(q, 1 / Math.max(rows, cols), 'normal', 6);
  });
});

describe('orthogonal on convolutions', () => {
  it('uses the PyTorch weight [out, in·k·k] for convs and [channels, k·k] for depthwise convs', () => {
    for (const name of ['squeezenet', 'mit-b0'] as const) {
      const model = buildModel(name, { init: 'orthogonal' });
      for (const p of parameterLayers(model)) {
        if (p.kind === 'dense') continue;
        const kernel = p.layer.getWeights()[0]!;
        // Back to PyTorch's layout as a [rows, fanIn] matrix.
        const torch = tf.tidy(() =>
          tf.reshape(tf.transpose(kernel, p.kind === 'conv' ? [3, 2, 0, 1] : [2, 3, 0, 1]), [p.rows, p.fanIn])
        );
        const m = torch.dataSync();
        const error =
          p.rows <= p.fanIn
            ? columnOrthonormalityError(transpose(m, p.rows, p.fanIn), p.fanIn, p.rows)
            : columnOrthonormalityError(m, p.rows, p.fanIn);
        expect([p.name, error < 1e-4]).toEqual([p.name, true]);
        torch.dispose();
      }
      model.dispose();
    }
  });
});

describe('pytorch-default reproduces each constructor (adapted layers reset)', () => {
  it('ResNet-50: convs N(0, 2/fan_out), adapted conv1 and fc U(±1/√fan_in), BatchNorm 1 and 0', () => {
    const { model, init } = buildModelWithReport('resnet50');
    expectZeroMeanVariance(weight(model, 'layer3.0.conv2'), 2 / (256 * 9), 'normal');
    expectZeroMeanVariance(weight(model, 'layer4.2.conv1'), 2 / 512, 'normal');
    expectFillsInterval(weight(model, 'conv1'), 1 / Math.sqrt(49));
    expectFillsInterval(weight(model, 'fc'), 1 / Math.sqrt(2048));
    expect(weight(model, 'bn1').every((v) => v === 1)).toBe(true);
    expect(weight(model, 'layer1.0.bn3', 1).every((v) => v === 0)).toBe(true);
    expect(init.layers.find((l) => l.name === 'fc')!.bias).toBe('U(±0.0221)');
    model.dispose();
  });

  it('GoogLeNet: convs truncated N(0, 0.01²), adapted conv1 and fc reset', () => {
    const model = buildModel('googlenet');
    expectZeroMeanVariance(weight(model, 'inception4e.branch2.1.conv'), 1e-4, 'normal');
    expectFillsInterval(weight(model, 'conv1.conv'), 1 / 7);
    expectFillsInterval(weight(model, 'fc'), 1 / 32);
    model.dispose();
  });

  it('SqueezeNet: convs kaiming_uniform(a = 0) = U(±√(6/fan_in)), biases 0, adapted layers reset', () => {
    const model = buildModel('squeezenet');
    const w = weight(model, 'features.12.expand3x3');
    expectFillsInterval(w, Math.sqrt(6 / (64 * 9)));
    expectZeroMeanVariance(w, 2 / (64 * 9), 'uniform');
    expect(weight(model, 'features.12.expand3x3', 1).every((v) => v === 0)).toBe(true);
    expectFillsInterval(weight(model, 'classifier.1'), 1 / Math.sqrt(512));
    model.dispose();
  });

  it('MiT-b0: Linear truncated N(0, 0.02²), convs N(0, 2/fan_out) with groups divided out', () => {
    const model = buildModel('mit-b0');
    expectZeroMeanVariance(weight(model, 'block4.1.mlp.fc1'), 4e-4, 'normal');
    expectZeroMeanVariance(weight(model, 'block1.0.attn.sr'), 2 / (64 * 32), 'normal');
    expectZeroMeanVariance(weight(model, 'block4.0.mlp.dwconv.dwconv'), 2 / 9, 'normal');
    expectFillsInterval(weight(model, 'patch_embed1.proj'), 1 / 7);
    expect(weight(model, 'block2.1.norm1').every((v) => v === 1)).toBe(true);
    model.dispose();
  });

  it('VGG-19 and AlexNet plans follow torchvision (checked without building the 139 M weights)', () => {
    const model = buildModel('base');
    const fc = parameterLayers(model)[0]!;
    // Re-label Base's fc1 as VGG layers: the plan depends only on the name, kind and fans.
    expect(layerPlan('pytorch-default', 'vgg19', { ...fc, name: 'classifier.0' }).weight).toEqual({
      kind: 'normal',
      std: 0.01,
    });
    expect(layerPlan('pytorch-default', 'vgg19', { ...fc, name: 'classifier.6' }).weight.kind).toBe('uniform');
    expect(layerPlan('pytorch-default', 'alexnet', { ...fc, name: 'classifier.1' }).weight.kind).toBe('uniform');
    model.dispose();
  });
});

it('initializeModel re-initializes a built model in place and rejects unknown schemes', () => {
  const model = buildModel('base', { init: 'zero' });
  initializeModel(model, 'he', { seed: 3 });
  expectZeroMeanVariance(weight(model, 'fc1'), 2 / 4096, 'normal');
  expect(() => initializeModel(model, 'kaiming' as InitializerName)).toThrow(
    'initializeModel: init must be one of pytorch-default, pytorch-reset, zero, random, he, xavier, orthogonal, lsuv'
  );
  model.dispose();
});
