import { describe, expect, it } from 'vitest';
import { resolveExperimentSpec, type ExperimentSpec } from './spec.js';

/**
 * The original's settings, read line by line from its code (github.com/mntalha/Efficient-Weight-Initializer at
 * commit cbafe10; README.md:43–44 pins torch 2.1.0 and scikit-learn 1.3.0). Each row: what `preset: 'seed'` must
 * resolve to, and where the original says so. PyTorch / scikit-learn defaults are those of the pinned versions.
 */
const ORIGINAL: readonly (readonly [field: string, value: unknown, source: string])[] = [
  // Sup-Walsh pretraining (ts_walsh_training.py, ts_walsh.py)
  ['pretraining.epochs', 2, 'ts_walsh_training.py:60 `--epochs` default=2'],
  ['pretraining.classGroupBatchSize', 200, 'ts_walsh_training.py:77 call_dataloader(…, batch_size = 200)'],
  ['pretraining.groupsPerStep', 1, 'ts_walsh_training.py:92–94 one get_tse(loader) group per step'],
  ['pretraining.optimizer.kind', 'adam', 'ts_walsh_training.py:82 optim.Adam(network.parameters(), …)'],
  ['pretraining.optimizer.learningRate', 3e-5, 'ts_walsh_training.py:24 learning_rate = 3e-5'],
  ['pretraining.optimizer.weightDecay', 0, 'ts_walsh_training.py:82 (torch.optim.Adam default)'],
  ['pretraining.optimizer.beta1', 0.9, 'ts_walsh_training.py:82 (torch.optim.Adam default betas)'],
  ['pretraining.optimizer.beta2', 0.999, 'ts_walsh_training.py:82 (torch.optim.Adam default betas)'],
  ['pretraining.optimizer.epsilon', 1e-8, 'ts_walsh_training.py:82 (torch.optim.Adam default eps)'],
  ['pretraining.snapshotSelection', 'lowest-loss', 'ts_walsh_training.py:102–106 saved when loss is lowest'],
  ['pretraining.walshOrdering', 'seed', 'ts_walsh.py:16–27 the hard-coded Walsh rows per class'],
  ['pretraining.auxNet.widths', [4, 8, 16], 'ts_walsh.py:93,97,101 Linear(2,4), Linear(4,8), Linear(8,16)'],
  ['pretraining.auxNet.activation', 'none', 'ts_walsh.py:113–119 no activation between the layers'],
  ['pretraining.auxNet.normalization', 'none', 'ts_walsh.py:91–107 BatchNorm1d defined, unused in forward'],
  ['pretraining.tsne.perplexity', 5, 'ts_walsh.py:66 TSNE(n_components = 2, perplexity = 5)'],
  ['pretraining.tsne.method', 'barnes-hut', "ts_walsh.py:66 (scikit-learn 1.3.0 default method='barnes_hut')"],
  ['pretraining.tsne.theta', 0.5, 'ts_walsh.py:66 (scikit-learn 1.3.0 default angle=0.5)'],
  ['pretraining.tsne.learningRate', 'auto', "ts_walsh.py:66 (scikit-learn 1.3.0 default learning_rate='auto')"],
  ['pretraining.tsne.init', 'pca', "ts_walsh.py:66 (scikit-learn 1.3.0 default init='pca')"],
  ['pretraining.tsne.iterations', 1000, 'ts_walsh.py:66 (scikit-learn 1.3.0 default n_iter=1000)'],
  ['pretraining.tsne.earlyExaggeration', 12, 'ts_walsh.py:66 (scikit-learn 1.3.0 default early_exaggeration=12)'],
  ['pretraining.tsne.exaggerationIterations', 250, 'ts_walsh.py:66 (scikit-learn 1.3.0 _EXPLORATION_N_ITER = 250)'],
  ['pretraining.tsne.iterationsWithoutProgress', 300, 'ts_walsh.py:66 (scikit-learn 1.3.0 n_iter_without_progress)'],
  ['pretraining.tsne.minGradNorm', 1e-7, 'ts_walsh.py:66 (scikit-learn 1.3.0 default min_grad_norm=1e-7)'],
  // Ordinary training (main.py, model_train.py, Dataset.py)
  ['training.epochs', 10, 'main.py:10 epoch_number = 10'],
  ['training.batchSize', 32, 'main.py:9 batch_size = 32 (and main.py:101 --batch_size default=32)'],
  ['training.optimizer.kind', 'sgd', 'main.py:142 optim.SGD('],
  ['training.optimizer.learningRate', 3e-5, 'main.py:11 learning_rate = 3e-5'],
  ['training.optimizer.weightDecay', 3e-6, 'main.py:12 weight_decay = 3e-6'],
  ['training.optimizer.momentum', 0, 'main.py:142–146 (torch.optim.SGD default momentum=0)'],
  ['training.optimizer.nesterov', false, 'main.py:142–146 (torch.optim.SGD default nesterov=False)'],
  ['training.shuffle', true, 'Dataset.py:76 DataLoader(…, shuffle = True)'],
  ['training.dropLast', false, 'Dataset.py:76 (DataLoader default drop_last=False)'],
  ['evaluation.epochs', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'model_train.py:149 `if epoch % 1 == 0`: every epoch'],
  ['limits.stopOnNonFinite', false, 'model_train.py:114–117 and ts_walsh_training.py:99–106: no check, trains on'],
  // Data (Dataset.py, utils.py, model_train.py)
  ['datasets[0].imageSize', 64, 'utils.py:9 img_size = 64*64; Dataset.py:45,51 Resize([64, 64])'],
  ['datasets[0].pixelScale', 'raw255', 'Dataset.py:48–53 no ToTensor for (F)MNIST; model_train.py:98 .to(float32)'],
  ['datasets[0].resizeRoute', 'tensor', 'Dataset.py:49–52 PIL steps commented out; :65 Resize on a uint8 tensor'],
  ['datasets[1].imageSize', 64, 'utils.py:9 img_size = 64*64; Dataset.py:45 Resize([64, 64])'],
  ['datasets[1].pixelScale', 'raw255', 'as datasets[0]: MNIST takes the same transform (Dataset.py:65)'],
  ['datasets[1].resizeRoute', 'tensor', 'as datasets[0] (Dataset.py:65)'],
  ['datasets[2].imageSize', 64, 'utils.py:9; Dataset.py:45 Resize([64, 64])'],
  ['datasets[2].pixelScale', 'unit', 'Dataset.py:46 ToTensor() after Grayscale: [0, 1]'],
  ['datasets[2].resizeRoute', 'pil', 'Dataset.py:43–45 ToPILImage(), Grayscale(1), Resize'],
];

const SPEC: ExperimentSpec = {
  name: 'original',
  preset: 'seed',
  datasets: [{ kind: 'fashion-mnist' }, { kind: 'mnist' }, { kind: 'cifar10' }],
  models: [{ kind: 'base' }],
  arms: [{ initializer: 'pytorch-default' }, { initializer: 'sup-walsh' }],
};

/** `a.b[1].c` of a resolved spec. */
function at(value: unknown, path: string): unknown {
  return path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value);
}

describe("preset 'seed'", () => {
  const resolved = resolveExperimentSpec(SPEC);

  it.each(ORIGINAL)('resolves %s to the original value %j (%s)', (field, value) => {
    expect(at(resolved, field)).toEqual(value);
  });

  it('has no deviation from itself and lists what cannot match the original', () => {
    expect(resolved.deviations).toEqual([]);
    expect(resolved.knownDeviations.join('\n')).toMatch(/paired comparison/);
    expect(resolved.knownDeviations.join('\n')).toMatch(/seeded generators/);
  });

  it('lists MiT-b0 from scratch as a known deviation unless pretrained weights are given', () => {
    const scratch = resolveExperimentSpec({ ...SPEC, models: [{ kind: 'mit-b0' }] });
    expect(scratch.knownDeviations).toContain(
      'MiT-b0 from scratch (the original: ImageNet-pretrained nvidia/mit-b0; set models[].pretrainedDir)'
    );
    const pretrained = resolveExperimentSpec({ ...SPEC, models: [{ kind: 'mit-b0', pretrainedDir: 'hf/mit-b0' }] });
    expect(pretrained.knownDeviations.join('\n')).not.toMatch(/MiT-b0 from scratch/);
    expect(pretrained.pretrainedDirs).toEqual({ 'mit-b0': 'hf/mit-b0' });
    expect(pretrained.deviations).toEqual([]);
  });

  it('lists per-worker BatchNorm statistics for the models with BatchNorm', () => {
    const r = resolveExperimentSpec({ ...SPEC, models: [{ kind: 'resnet50' }, { kind: 'googlenet' }] });
    expect(r.knownDeviations.join('\n')).toMatch(/resnet50, googlenet: BatchNorm batch statistics/);
  });

  it("keeps the default preset's differences from the original in its known deviations", () => {
    const r = resolveExperimentSpec({ ...SPEC, preset: 'default' });
    expect(r.limits.stopOnNonFinite).toBe(true);
    expect(r.knownDeviations.join('\n')).toMatch(/fashion-mnist: pixels in \[0, 1\]/);
    expect(r.knownDeviations.join('\n')).toMatch(/non-finite loss stops the run/);
  });

  it('refuses pretrained weights for a model without a name mapping, and paths that leave the data directory', () => {
    expect(() => resolveExperimentSpec({ ...SPEC, models: [{ kind: 'base', pretrainedDir: 'w' }] })).toThrow(
      /^models\[0\]\.pretrainedDir must be unset for base \(supported: mit-b0\)/
    );
    expect(() => resolveExperimentSpec({ ...SPEC, models: [{ kind: 'mit-b0', pretrainedDir: '../outside' }] })).toThrow(
      /^models\[0\]\.pretrainedDir must be relative to the data directory/
    );
    expect(() => resolveExperimentSpec({ ...SPEC, datasets: [{ kind: 'mnist', root: 'mn\u0000ist' }] })).toThrow(
      /^datasets\[0\]\.root must not contain control characters/
    );
  });

  it("accepts t-SNE's learning rate as a number or 'auto' and lists a number as a deviation", () => {
    const r = resolveExperimentSpec({ ...SPEC, pretraining: { tsne: { learningRate: 200, method: 'exact' } } });
    expect(r.pretraining.tsne.learningRate).toBe(200);
    expect(r.deviations).toEqual([
      'pretraining.tsne.learningRate: 200 (preset: "auto")',
      'pretraining.tsne.method: "exact" (preset: "barnes-hut")',
    ]);
    expect(() => resolveExperimentSpec({ ...SPEC, pretraining: { tsne: { learningRate: -1 } } })).toThrow(
      /^pretraining\.tsne\.learningRate must be a number in \(0, 10000\] or 'auto'/
    );
  });
});
