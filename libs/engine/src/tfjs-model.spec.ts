import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from './init-engine.js';
import { loadTfjsModel, saveTfjsModel, tfjsFileHandler } from './tfjs-model.js';

let dir: string;

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-engine-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function build(): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 1] });
  const a = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input);
  const b = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(input);
  let h = tfl.layers.concatenate().apply([a, b] as tfl.SymbolicTensor[]) as tfl.SymbolicTensor;
  h = tfl.layers.batchNormalization().apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const output = tfl.layers.dense({ units: 3, activation: 'softmax' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output });
}

describe('saveTfjsModel / loadTfjsModel', () => {
  it('writes model.json + weights.bin that tf.loadLayersModel reads back to identical predictions', async () => {
    const model = build();
    model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
    const x = tf.randomUniform([5, 8, 8, 1], 0, 1, 'float32', 3);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1], 'int32'), 3, 1, 0, 'float32');
    await model.fit(x, y, { epochs: 1, verbose: 0 }); // moves the batch-norm statistics off their initial values
    const files = await saveTfjsModel(model, path.join(dir, 'm1'), { includeOptimizer: true });
    const json = JSON.parse(await readFile(files.modelJson, 'utf8')) as tf.io.ModelJSON;
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest).toEqual([{ paths: ['weights.bin'], weights: expect.any(Array) }]);
    expect(json.trainingConfig?.loss).toBe('categorical_crossentropy');

    const loaded = await tfl.loadLayersModel(tfjsFileHandler(path.join(dir, 'm1')));
    const again = await loadTfjsModel(path.join(dir, 'm1'));
    const expected = (model.predict(x) as tf.Tensor).dataSync();
    expect((loaded.predict(x) as tf.Tensor).dataSync()).toEqual(expected);
    expect((again.predict(x) as tf.Tensor).dataSync()).toEqual(expected);
    expect(loaded.weights.map((w) => w.shape)).toEqual(model.weights.map((w) => w.shape));
    // Compiled from the stored training config, so it can keep training.
    await loaded.fit(x, y, { epochs: 1, verbose: 0 });
    tf.dispose([x, y]);
    [model, loaded, again].forEach((m) => m.dispose());
  });

  it('refuses weight paths that leave the model directory', async () => {
    const model = build();
    await saveTfjsModel(model, path.join(dir, 'm2'));
    const file = path.join(dir, 'm2', 'model.json');
    const json = JSON.parse(await readFile(file, 'utf8')) as tf.io.ModelJSON;
    json.weightsManifest[0]!.paths = ['../m1/weights.bin'];
    await writeFile(file, JSON.stringify(json));
    await expect(loadTfjsModel(path.join(dir, 'm2'))).rejects.toThrow(/leaves/);
    model.dispose();
  });
});
