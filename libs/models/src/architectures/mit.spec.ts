import { initEngine } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../build-model.js';
import { setDropoutStep } from '../dropout-step.js';
import { DropPath } from '../layers/drop-path.js';
import { buildTinyMit, TINY_MIT } from '../pretrained/pretrained.spec-helpers.js';
import { dropPathRates, MIT_B0_CONFIG } from './mit-b0.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

describe('MiT-b0 as Hugging Face’s SegformerForImageClassification', () => {
  it('has stochastic depth rising linearly from 0 to 0.1 over its 8 blocks and LayerNorm eps 1e-5 everywhere', () => {
    const model = buildModel('mit-b0', { init: 'zero' });
    const rates = model.layers.filter((l): l is DropPath => l instanceof DropPath).map((l) => [l.name, l.rate]);
    const blocks = ['1.0', '1.1', '2.0', '2.1', '3.0', '3.1', '4.0', '4.1'];
    // torch.linspace(0, 0.1, 8): block 0 gets 0 (nn.Identity, no layer), both branches of block i get 0.1·i/7.
    const expected = blocks.slice(1).flatMap((b, i) => [
      [`block${b}.drop_path1`, (0.1 * (i + 1)) / 7],
      [`block${b}.drop_path2`, (0.1 * (i + 1)) / 7],
    ]);
    expect(rates.map(([name]) => name)).toEqual(expected.map(([name]) => name));
    rates.forEach(([, rate], i) => expect(rate).toBeCloseTo(expected[i]![1] as number, 8));
    expect(dropPathRates(MIT_B0_CONFIG)).toHaveLength(8);
    const eps = model.layers
      .filter((l) => l.getClassName() === 'LayerNormalization')
      .map((l) => (l.getConfig() as { epsilon: number }).epsilon);
    expect(eps).toHaveLength(4 * 2 + 8 * 2 + 3 * 2); // patch embedding and stage norms, 2 per block, sr norms (stages 1–3)
    expect(new Set(eps)).toEqual(new Set([1e-5]));
    model.dispose();
  });

  it('draws the same stochastic-depth masks per sample whether one rank or two hold the global batch', () => {
    const model = buildTinyMit({ ...TINY_MIT, dropPathRate: 0.6 });
    const x = tf.randomUniform([6, 32, 32, 1], 0, 1, 'float32', 3);
    const run = (input: tf.Tensor, step: number, window?: { offset: number; total: number }) => {
      setDropoutStep(model, step, window);
      return tf.tidy(() => Array.from((model.apply(input, { training: true }) as tf.Tensor).dataSync()));
    };
    const whole = run(x, 7);
    const first = run(tf.slice(x, [0], [3]), 7, { offset: 0, total: 6 });
    const second = run(tf.slice(x, [3], [3]), 7, { offset: 3, total: 6 });
    const split = [...first, ...second];
    expect(Math.max(...whole.map((v, i) => Math.abs(v - split[i]!)))).toBeLessThan(1e-5);
    // The masks are live: training differs from inference, and another step draws other masks.
    const inference = Array.from((model.predict(x) as tf.Tensor).dataSync());
    expect(Math.max(...whole.map((v, i) => Math.abs(v - inference[i]!)))).toBeGreaterThan(1e-3);
    const other = run(x, 8);
    expect(Math.max(...whole.map((v, i) => Math.abs(v - other[i]!)))).toBeGreaterThan(1e-3);
    tf.dispose(x);
    model.dispose();
  });
});
