import { initEngine } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, countParameters, describeModel, minimumInputSize } from './build-model.js';
import { InputTooSmallError, ModelArgumentError } from './errors.js';
import { MODEL_NAMES, type ModelName } from './model-names.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

/** The table: trainable parameters at inputShape [64, 64, 1], numClasses 10. */
const TRAINABLE: Record<ModelName, number> = {
  base: 2_843_760,
  alexnet: 57_023_178,
  vgg19: 139_610_058,
  resnet50: 23_522_250,
  googlenet: 5_603_882,
  squeezenet: 731_146,
  'mit-b0': 3_318_826,
};

/** BatchNorm running mean and variance (2 per channel), not trained, as PyTorch counts them. */
const NON_TRAINABLE: Record<ModelName, number> = {
  base: 0,
  alexnet: 0,
  vgg19: 0,
  resnet50: 53_120,
  googlenet: 14_560,
  squeezenet: 0,
  'mit-b0': 0,
};

const MINIMUM_SIZE: Record<ModelName, number> = {
  base: 1,
  alexnet: 57,
  vgg19: 32,
  resnet50: 1,
  googlenet: 15,
  squeezenet: 21,
  'mit-b0': 29,
};

describe('parameter counts at 64 × 64 × 1, 10 classes', () => {
  it.each(MODEL_NAMES)('%s has exactly the table’s trainable parameters', (name) => {
    const model = buildModel(name, { init: 'zero' });
    expect(countParameters(model)).toEqual({ trainable: TRAINABLE[name], nonTrainable: NON_TRAINABLE[name] });
    expect(model.inputs[0]!.shape).toEqual([null, 64, 64, 1]);
    expect(model.outputs[0]!.shape).toEqual([null, 10]);
    expect(model.name).toBe(name);
    model.dispose();
  });

  it('describeModel counts the same without creating a tensor', () => {
    const before = tf.memory().numTensors;
    for (const name of MODEL_NAMES) {
      const d = describeModel(name);
      expect([name, d.trainableParams, d.nonTrainableParams]).toEqual([name, TRAINABLE[name], NON_TRAINABLE[name]]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('other input sizes and class counts', () => {
  it('change only the layers that depend on them', () => {
    const d = (name: ModelName) => describeModel(name, { inputShape: [32, 48, 3], numClasses: 100 }).trainableParams;
    expect(d('base')).toBe(TRAINABLE.base + (32 * 48 * 3 - 4096) * 640 + 90 * 51);
    // Adaptive pooling keeps the classifiers' inputs fixed: only the first conv and the last layer change.
    expect(describeModel('alexnet', { inputShape: [96, 80, 3], numClasses: 100 }).trainableParams).toBe(
      TRAINABLE.alexnet + 2 * 64 * 25 + 90 * 4097
    );
    expect(d('vgg19')).toBe(TRAINABLE.vgg19 + 2 * 64 * 9 + 90 * 4097);
    expect(d('resnet50')).toBe(TRAINABLE.resnet50 + 2 * 64 * 49 + 90 * 2049);
    expect(d('googlenet')).toBe(TRAINABLE.googlenet + 2 * 64 * 49 + 90 * 1025);
    expect(d('squeezenet')).toBe(TRAINABLE.squeezenet + 2 * 96 * 49 + 90 * 513);
    expect(d('mit-b0')).toBe(TRAINABLE['mit-b0'] + 2 * 32 * 49 + 90 * 257);
  });

  it.each(['base', 'resnet50', 'googlenet', 'squeezenet', 'mit-b0'] as const)(
    '%s maps a 33 × 47 × 3 batch to 7 logits',
    (name) => {
      const model = buildModel(name, { inputShape: [33, 47, 3], numClasses: 7, init: 'he' });
      const logits = model.predict(tf.randomNormal([2, 33, 47, 3], 0, 1, 'float32', 1)) as tf.Tensor;
      expect(logits.shape).toEqual([2, 7]);
      expect(logits.dataSync().every(Number.isFinite)).toBe(true);
      tf.dispose(logits);
      model.dispose();
    }
  );

  it.each(MODEL_NAMES)('%s accepts its minimum size and names the layer that fails below it', (name) => {
    const min = MINIMUM_SIZE[name];
    expect(minimumInputSize(name)).toBe(min);
    expect(describeModel(name, { inputShape: [min, min, 1] }).numClasses).toBe(10);
    if (min === 1) return;
    for (const shape of [
      [min - 1, min - 1, 1],
      [min - 1, 200, 3],
      [200, min - 1, 1],
    ]) {
      const error = (() => {
        try {
          buildModel(name, { inputShape: shape });
        } catch (e: unknown) {
          return e;
        }
        return null;
      })();
      expect(error).toBeInstanceOf(InputTooSmallError);
      const e = error as InputTooSmallError;
      expect(e.minimumSize).toBe(min);
      expect(e.message).toMatch(
        new RegExp(
          `^buildModel: options.inputShape \\[${shape.join(', ')}\\] is too small for ${name}: layer \\S+ would output a \\d+ × \\d+ map; ${name} needs height and width of at least ${min}$`
        )
      );
    }
  });

  it('gives AlexNet and VGG-19 torchvision’s smallest inputs their classifier shapes', () => {
    expect(describeModel('alexnet', { inputShape: [57, 57, 1] }).trainableParams).toBe(TRAINABLE.alexnet);
    expect(describeModel('vgg19', { inputShape: [32, 32, 1] }).trainableParams).toBe(TRAINABLE.vgg19);
  });
});

describe('argument checks', () => {
  it.each([
    [
      'resnet',
      {},
      'buildModel: name must be one of base, alexnet, vgg19, resnet50, googlenet, squeezenet, mit-b0, got "resnet"',
    ],
    [
      'base',
      { inputShape: [64, 64] },
      'buildModel: options.inputShape must be [height, width, channels] of positive integers, got [64,64]',
    ],
    ['base', { inputShape: [64, 0, 1] }, 'options.inputShape must be [height, width, channels]'],
    ['base', { numClasses: 0 }, 'buildModel: options.numClasses must be a positive integer, got 0'],
    ['base', { numClasses: 2.5 }, 'options.numClasses must be a positive integer'],
    [
      'base',
      { init: 'kaiming' },
      'buildModel: options.init must be one of pytorch-default, pytorch-reset, zero, random, he, xavier, orthogonal, lsuv, got kaiming',
    ],
    ['base', { seed: 0.5 }, 'buildModel: options.seed must be a safe integer or a string, got 0.5'],
  ])('rejects %s with %j', (name, options, message) => {
    const before = tf.memory().numTensors;
    expect(() => buildModel(name as ModelName, options as never)).toThrow(ModelArgumentError);
    expect(() => buildModel(name as ModelName, options as never)).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('serialization', () => {
  it.each(['googlenet', 'mit-b0'] as const)(
    '%s saves and loads in TF.js format with identical outputs',
    async (name) => {
      const model = buildModel(name, { inputShape: [32, 32, 1], init: 'he', seed: 4 });
      let saved: tf.io.ModelArtifacts | null = null;
      await model.save(
        tf.io.withSaveHandler(async (artifacts) => {
          saved = artifacts;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        })
      );
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
      const x = tf.randomNormal([2, 32, 32, 1], 0, 1, 'float32', 2);
      const [a, b] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      expect(countParameters(loaded)).toEqual(countParameters(model));
      tf.dispose([x, a, b]);
      model.dispose();
      loaded.dispose();
    }
  );
});
