import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const engineDir = path.resolve(import.meta.dirname, '..');

// A few SGD steps of a small CNN (convolutions with stride 1 and 2, batch norm, max pooling, dense) and of an MLP
// with the zoo's Base shape (flatten → 640 → 320 → 50 → 10), from seeded weights and data; prints a SHA-256 of
// every weight's bytes after training and the losses' bits. One process per thread count: the wasm module is fixed
// per process.
const TRAIN = `
import { createHash } from 'node:crypto';
import { initEngine, deriveSeed } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
const threads = Number(process.env.THREADS);
const info = await initEngine({ backend: 'wasm', threads });
let layer = 0;
const init = () => tfl.initializers.heNormal({ seed: deriveSeed(7, 'init', layer++) });
const cnn = tfl.sequential({ layers: [
  tfl.layers.conv2d({ inputShape: [32, 32, 1], filters: 16, kernelSize: 3, padding: 'same', kernelInitializer: init() }),
  tfl.layers.batchNormalization(),
  tfl.layers.reLU(),
  tfl.layers.maxPooling2d({ poolSize: 2 }),
  tfl.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }),
  tfl.layers.conv2d({ filters: 32, kernelSize: 1, activation: 'relu', kernelInitializer: init() }),
  tfl.layers.flatten(),
  tfl.layers.dense({ units: 10, kernelInitializer: init() }),
] });
const base = tfl.sequential({ layers: [
  tfl.layers.flatten({ inputShape: [32, 32, 1] }),
  tfl.layers.dense({ units: 640, activation: 'relu', kernelInitializer: init() }),
  tfl.layers.dense({ units: 320, activation: 'relu', kernelInitializer: init() }),
  tfl.layers.dense({ units: 50, activation: 'relu', kernelInitializer: init() }),
  tfl.layers.dense({ units: 10, kernelInitializer: init() }),
] });
const out = { threads: info.threads };
for (const [name, model] of [['cnn', cnn], ['base', base]]) {
  const opt = tf.train.sgd(0.05);
  const losses = [];
  for (let step = 0; step < 3; step++) {
    const x = tf.randomNormal([16, 32, 32, 1], 0, 1, 'float32', deriveSeed(7, 'x', step));
    const y = tf.oneHot(tf.randomUniform([16], 0, 10, 'int32', deriveSeed(7, 'y', step)), 10);
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true);
    losses.push(Buffer.from(loss.dataSync().buffer).toString('hex'));
    tf.dispose([x, y, loss]);
  }
  const hash = createHash('sha256');
  for (const w of model.weights) hash.update(Buffer.from(w.read().dataSync().buffer));
  out[name] = { losses, weights: hash.digest('hex') };
}
console.log(JSON.stringify(out));
`;

async function train(threads: number): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', TRAIN], {
    cwd: engineDir,
    env: { ...process.env, THREADS: String(threads) },
    timeout: 180_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('the wasm backend on 1, 2 and 4 threads', () => {
  it('trains a small CNN and a Base-shaped MLP to bit-identical weights and losses', async () => {
    const [one, two, four] = [await train(1), await train(2), await train(4)];
    expect([one.threads, two.threads, four.threads]).toEqual([1, 2, 4]);
    const { threads: _1, ...reference } = one;
    expect((reference.cnn as { losses: string[] }).losses).toHaveLength(3);
    expect(new Set((reference.cnn as { losses: string[] }).losses).size).toBe(3);
    for (const other of [two, four]) {
      const { threads: _n, ...rest } = other;
      expect(rest).toEqual(reference);
    }
  }, 600_000);
});
