import type { RunSpec as MethodRunSpec, ResolvedOptimizer, ResolvedPretraining } from '@supwalsh/method';
import { RunSpec, type OptimizerSpec, type PretrainingSpec } from '@supwalsh/proto';
import { ENUMS } from '@supwalsh/spec';
import { requireEnumValue, requireShortName } from './enums.js';
import { WireConversionError } from './errors.js';

/** The service's share of a run's settings (spec.proto fields the method does not use). */
export interface ServiceSettings {
  readonly workers: {
    readonly minWorkers: number;
    readonly maxWorkers: number;
    readonly maxParallelRuns: number;
    readonly selector: Readonly<Record<string, string>>;
  };
  readonly checkpoints: { readonly everySteps: number; readonly keepLast: number };
  readonly limits: {
    readonly experimentTimeoutSeconds: number;
    readonly runTimeoutSeconds: number;
    readonly maxRunRestarts: number;
  };
  readonly outputs: {
    readonly saveWeights: boolean;
    readonly saveInitialWeights: boolean;
    readonly report: boolean;
    readonly plots: boolean;
  };
  readonly priority: number;
  readonly labels: Readonly<Record<string, string>>;
}

/** spec.proto's defaults for the service's fields. */
export const DEFAULT_SERVICE_SETTINGS: ServiceSettings = {
  workers: { minWorkers: 1, maxWorkers: 0, maxParallelRuns: 0, selector: {} },
  checkpoints: { everySteps: 500, keepLast: 2 },
  limits: { experimentTimeoutSeconds: 0, runTimeoutSeconds: 0, maxRunRestarts: 3 },
  outputs: { saveWeights: true, saveInitialWeights: false, report: true, plots: true },
  priority: 0,
  labels: {},
};

const FN_TO = 'runSpecToProto';
const FN_FROM = 'runSpecFromProto';

export function optimizerToProto(o: ResolvedOptimizer): OptimizerSpec {
  const common = {
    kind: requireEnumValue(FN_TO, ENUMS.optimizerKind, o.kind),
    learningRate: o.learningRate,
    weightDecay: o.weightDecay,
  };
  return o.kind === 'sgd'
    ? { ...common, momentum: o.momentum, nesterov: o.nesterov, beta1: undefined, beta2: undefined, epsilon: undefined }
    : { ...common, momentum: undefined, nesterov: undefined, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon };
}

export function pretrainingToProto(p: ResolvedPretraining): PretrainingSpec {
  return {
    epochs: p.epochs,
    optimizer: optimizerToProto(p.optimizer),
    classGroupBatchSize: p.classGroupBatchSize,
    groupsPerStep: p.groupsPerStep,
    tsne: {
      ...p.tsne,
      learningRate: p.tsne.learningRate === 'auto' ? 0 : p.tsne.learningRate, // 0 is "auto" (spec.proto)
      method: requireEnumValue(FN_TO, ENUMS.tsneMethod, p.tsne.method),
      init: requireEnumValue(FN_TO, ENUMS.tsneInit, p.tsne.init),
    },
    walshOrdering: requireEnumValue(FN_TO, ENUMS.walshOrdering, p.walshOrdering),
    auxNet: {
      widths: [...p.auxNet.widths],
      activation: requireEnumValue(FN_TO, ENUMS.auxActivation, p.auxNet.activation),
      normalization: requireEnumValue(FN_TO, ENUMS.auxNormalization, p.auxNet.normalization),
    },
    snapshotSelection: requireEnumValue(FN_TO, ENUMS.snapshotSelection, p.snapshotSelection),
  };
}

/**
 * The proto `RunSpec` a coordinator sends in `StartShard`: the method's resolved run plus the service's settings.
 * `backend` is the experiment's choice (`auto` lets each worker use its fastest).
 */
export function runSpecToProto(
  run: MethodRunSpec,
  service: ServiceSettings = DEFAULT_SERVICE_SETTINGS,
  backend = 'auto'
): RunSpec {
  return RunSpec.fromPartial({
    preset: requireEnumValue(FN_TO, ENUMS.preset, run.preset),
    dataset: {
      kind: requireEnumValue(FN_TO, ENUMS.datasetKind, run.dataset.kind),
      root: run.dataset.root ?? '',
      trainSubset: run.dataset.trainSubset,
      testSubset: run.dataset.testSubset,
      pixelScale: requireEnumValue(FN_TO, ENUMS.pixelScale, run.dataset.pixelScale),
      imageSize: run.dataset.imageSize,
      resizeRoute: requireEnumValue(FN_TO, ENUMS.resizeRoute, run.dataset.resizeRoute),
    },
    model: { kind: requireEnumValue(FN_TO, ENUMS.modelKind, run.model), pretrainedDir: run.pretrainedDir ?? '' },
    arm: {
      name: run.arm.name,
      initializer: requireEnumValue(FN_TO, ENUMS.initializer, run.arm.initializer),
      baseInitializer:
        run.arm.baseInitializer === undefined ? 0 : requireEnumValue(FN_TO, ENUMS.initializer, run.arm.baseInitializer),
    },
    seed: run.seed,
    ...(run.pretraining ? { pretraining: pretrainingToProto(run.pretraining) } : {}),
    training: {
      epochs: run.training.epochs,
      optimizer: optimizerToProto(run.training.optimizer),
      batchSize: run.training.batchSize,
      dropLast: run.training.dropLast,
      shuffle: run.training.shuffle,
    },
    evaluation: {
      epochs: [...run.evaluation.epochs],
      initial: run.evaluation.initial,
      batchSize: run.evaluation.batchSize,
    },
    checkpoints: { ...service.checkpoints },
    limits: {
      ...service.limits,
      stopOnNonFinite: run.limits.stopOnNonFinite,
      maxStepsPerEpoch: run.limits.maxStepsPerEpoch,
    },
    outputs: { ...service.outputs, progressEverySteps: run.outputs.progressEverySteps },
    backend: requireEnumValue(FN_TO, ENUMS.backend, backend),
  });
}

function optimizerFromProto(o: OptimizerSpec | undefined, field: string): ResolvedOptimizer {
  if (!o) throw new WireConversionError(FN_FROM, field, 'is missing');
  return {
    kind: requireShortName(FN_FROM, ENUMS.optimizerKind, o.kind) as ResolvedOptimizer['kind'],
    learningRate: need(o.learningRate, `${field}.learningRate`),
    weightDecay: need(o.weightDecay, `${field}.weightDecay`),
    momentum: o.momentum ?? 0,
    nesterov: o.nesterov ?? false,
    beta1: o.beta1 ?? 0.9,
    beta2: o.beta2 ?? 0.999,
    epsilon: o.epsilon ?? 1e-8,
  };
}

/** 0 is spec.proto's "auto". */
function tsneLearningRate(value: number): number | 'auto' {
  return value === 0 ? 'auto' : value;
}

function need<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new WireConversionError(FN_FROM, field, 'is missing from a resolved RunSpec');
  return value;
}

/** The method's `RunSpec` from a resolved proto `RunSpec` (what a worker runs); `label` becomes its run id. */
export function runSpecFromProto(run: RunSpec, label: string): MethodRunSpec {
  const d = need(run.dataset, 'dataset');
  const a = need(run.arm, 'arm');
  const t = need(run.training, 'training');
  const ev = need(run.evaluation, 'evaluation');
  const p = run.pretraining;
  const initializer = requireShortName(
    FN_FROM,
    ENUMS.initializer,
    a.initializer
  ) as MethodRunSpec['arm']['initializer'];
  return {
    runId: label,
    preset: requireShortName(FN_FROM, ENUMS.preset, run.preset) as MethodRunSpec['preset'],
    dataset: {
      kind: requireShortName(FN_FROM, ENUMS.datasetKind, d.kind) as MethodRunSpec['dataset']['kind'],
      ...(d.root ? { root: d.root } : {}),
      ...(d.trainSubset === undefined ? {} : { trainSubset: d.trainSubset }),
      ...(d.testSubset === undefined ? {} : { testSubset: d.testSubset }),
      pixelScale: requireShortName(FN_FROM, ENUMS.pixelScale, d.pixelScale) as MethodRunSpec['dataset']['pixelScale'],
      imageSize: need(d.imageSize, 'dataset.imageSize'),
      resizeRoute: requireShortName(
        FN_FROM,
        ENUMS.resizeRoute,
        d.resizeRoute
      ) as MethodRunSpec['dataset']['resizeRoute'],
    },
    model: requireShortName(FN_FROM, ENUMS.modelKind, need(run.model, 'model').kind) as MethodRunSpec['model'],
    ...(run.model?.pretrainedDir ? { pretrainedDir: run.model.pretrainedDir } : {}),
    arm: {
      name: a.name,
      initializer,
      ...(initializer === 'sup-walsh'
        ? {
            baseInitializer: requireShortName(FN_FROM, ENUMS.initializer, a.baseInitializer) as NonNullable<
              MethodRunSpec['arm']['baseInitializer']
            >,
          }
        : {}),
    },
    seed: run.seed,
    ...(p && initializer === 'sup-walsh'
      ? {
          pretraining: {
            epochs: need(p.epochs, 'pretraining.epochs'),
            optimizer: optimizerFromProto(p.optimizer, 'pretraining.optimizer'),
            classGroupBatchSize: need(p.classGroupBatchSize, 'pretraining.classGroupBatchSize'),
            groupsPerStep: need(p.groupsPerStep, 'pretraining.groupsPerStep'),
            tsne: {
              perplexity: need(p.tsne?.perplexity, 'pretraining.tsne.perplexity'),
              iterations: need(p.tsne?.iterations, 'pretraining.tsne.iterations'),
              learningRate: tsneLearningRate(need(p.tsne?.learningRate, 'pretraining.tsne.learningRate')),
              earlyExaggeration: need(p.tsne?.earlyExaggeration, 'pretraining.tsne.earlyExaggeration'),
              exaggerationIterations: need(p.tsne?.exaggerationIterations, 'pretraining.tsne.exaggerationIterations'),
              method: requireShortName(FN_FROM, ENUMS.tsneMethod, need(p.tsne, 'pretraining.tsne').method) as
                'exact' | 'barnes-hut',
              theta: need(p.tsne?.theta, 'pretraining.tsne.theta'),
              init: requireShortName(FN_FROM, ENUMS.tsneInit, need(p.tsne, 'pretraining.tsne').init) as
                'pca' | 'random',
              iterationsWithoutProgress: need(
                p.tsne?.iterationsWithoutProgress,
                'pretraining.tsne.iterationsWithoutProgress'
              ),
              minGradNorm: need(p.tsne?.minGradNorm, 'pretraining.tsne.minGradNorm'),
            },
            walshOrdering: requireShortName(
              FN_FROM,
              ENUMS.walshOrdering,
              p.walshOrdering
            ) as ResolvedPretraining['walshOrdering'],
            auxNet: {
              widths: [...need(p.auxNet, 'pretraining.auxNet').widths],
              activation: requireShortName(
                FN_FROM,
                ENUMS.auxActivation,
                need(p.auxNet, 'pretraining.auxNet').activation
              ) as ResolvedPretraining['auxNet']['activation'],
              normalization: requireShortName(
                FN_FROM,
                ENUMS.auxNormalization,
                need(p.auxNet, 'pretraining.auxNet').normalization
              ) as ResolvedPretraining['auxNet']['normalization'],
            },
            snapshotSelection: requireShortName(
              FN_FROM,
              ENUMS.snapshotSelection,
              p.snapshotSelection
            ) as ResolvedPretraining['snapshotSelection'],
          },
        }
      : {}),
    training: {
      epochs: need(t.epochs, 'training.epochs'),
      optimizer: optimizerFromProto(t.optimizer, 'training.optimizer'),
      batchSize: need(t.batchSize, 'training.batchSize'),
      dropLast: need(t.dropLast, 'training.dropLast'),
      shuffle: need(t.shuffle, 'training.shuffle'),
    },
    evaluation: {
      epochs: [...ev.epochs],
      initial: need(ev.initial, 'evaluation.initial'),
      batchSize: need(ev.batchSize, 'evaluation.batchSize'),
    },
    limits: {
      stopOnNonFinite: run.limits?.stopOnNonFinite ?? true,
      ...(run.limits?.maxStepsPerEpoch === undefined ? {} : { maxStepsPerEpoch: run.limits.maxStepsPerEpoch }),
    },
    outputs: { progressEverySteps: run.outputs?.progressEverySteps ?? 10 },
  };
}
