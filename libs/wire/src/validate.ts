import path from 'node:path';
import {
  expandRuns,
  MethodSpecError,
  resolveExperimentSpec,
  type ExperimentSpec as MethodSpec,
  type OptimizerSpec as MethodOptimizer,
  type ResolvedExperimentSpec,
} from '@supwalsh/method';
import { checkEncodable, ExperimentSpec, WireNumberError, type OptimizerSpec, type RunSpec } from '@supwalsh/proto';
import { PathEscapeError, resolveInside } from '@supwalsh/security';
import { ENUMS, requireKnownEnum, shortName, snake } from '@supwalsh/spec';
import { requireEnumValue } from './enums.js';
import { SpecValidationError } from './errors.js';
import {
  DEFAULT_SERVICE_SETTINGS,
  pretrainingToProto,
  optimizerToProto,
  runSpecToProto,
  type ServiceSettings,
} from './run-spec.js';

/** One run of a validated experiment, in expansion order. */
export interface PlannedRun {
  readonly index: number;
  /** `<dataset>/<model>/<arm>/seed-<seed>` (the method's run id). */
  readonly label: string;
  readonly datasetIndex: number;
  readonly modelIndex: number;
  readonly armIndex: number;
  readonly seed: number;
  /** Fully resolved, ready for `StartShard`. */
  readonly run: RunSpec;
}

/** A spec that passed validation, in every form the service needs. */
export interface ValidatedSpec {
  /** As submitted. */
  readonly spec: ExperimentSpec;
  /** Every default applied (Experiment.resolved_spec). */
  readonly resolved: ExperimentSpec;
  /** The method's view, for `runExperiment` / `executeRun`. */
  readonly method: ResolvedExperimentSpec;
  readonly service: ServiceSettings;
  /** Proto field paths that differ from the preset, sorted (Experiment.deviations). */
  readonly deviations: readonly string[];
  readonly runs: readonly PlannedRun[];
}

/** Size limits of a submitted spec (the coordinator's `--max-spec-bytes` and `--max-runs-per-experiment`). */
export interface SpecLimits {
  /** Largest encoded `ExperimentSpec` (protobuf bytes). @default 262144 (256 KiB) */
  maxSpecBytes: number;
  /** Most runs a spec may expand to (datasets × models × arms × seeds). @default 1024 */
  maxRuns: number;
}

/** The default {@link SpecLimits}: far above real specs (a few KiB; the paper's sweep is 42 runs). */
export const DEFAULT_SPEC_LIMITS: Readonly<SpecLimits> = Object.freeze({ maxSpecBytes: 256 * 1024, maxRuns: 1024 });

export interface ValidateSpecOptions {
  /** Dataset roots must stay inside it (also through symbolic links). @default process.cwd() */
  dataDir?: string;
  /** Size limits, checked first. @default DEFAULT_SPEC_LIMITS */
  limits?: Partial<SpecLimits>;
}

/**
 * Checks a spec against size limits before anything else looks at it: its encoded size, then the number of runs
 * it expands to (seeds default to one). Cheap: nothing is expanded.
 * @throws SpecValidationError naming `spec` (too large) or `seeds` (too many runs: the last factor of the product).
 */
export function checkSpecLimits(spec: ExperimentSpec, limits: Partial<SpecLimits> = {}): void {
  const { maxSpecBytes, maxRuns } = { ...DEFAULT_SPEC_LIMITS, ...limits };
  const bytes = ExperimentSpec.encode(spec).finish().byteLength;
  if (bytes > maxSpecBytes) {
    throw new SpecValidationError(
      'spec',
      `spec must be at most ${maxSpecBytes} bytes encoded (--max-spec-bytes of the coordinator), got ${bytes}`
    );
  }
  const seeds = Math.max(spec.seeds.length, 1);
  const runs = spec.datasets.length * spec.models.length * spec.arms.length * seeds;
  if (runs > maxRuns) {
    throw new SpecValidationError(
      'seeds',
      `seeds must keep the experiment within ${maxRuns} runs (--max-runs-per-experiment of the coordinator), got ${spec.datasets.length} datasets × ${spec.models.length} models × ${spec.arms.length} arms × ${seeds} seeds = ${runs} runs`
    );
  }
}

/**
 * Validates a proto `ExperimentSpec` completely — size limits first, the method's fields through
 * @supwalsh/method's `resolveExperimentSpec`, the service's (workers, checkpoints, limits, outputs, labels,
 * priority) here, dataset roots confined to the data directory (`..`, absolute paths and symbolic links leading
 * out are refused) — and resolves it. Nothing is stored or run.
 * @throws SpecValidationError naming the first bad field by its proto path (`training.optimizer.learning_rate`).
 */
export function validateSpec(spec: ExperimentSpec, options: ValidateSpecOptions = {}): ValidatedSpec {
  checkSpecNumbers(spec);
  checkSpecLimits(spec, options.limits);
  checkSpecEnums(spec);
  let method: ResolvedExperimentSpec;
  try {
    method = resolveExperimentSpec(toMethodSpec(spec));
  } catch (error: unknown) {
    if (error instanceof MethodSpecError) {
      const field = protoPath(error.field);
      throw new SpecValidationError(field, error.message.replace(error.field, field), { cause: error });
    }
    throw error;
  }
  const dataDir = path.resolve(options.dataDir ?? process.cwd());
  const confine = (relative: string, field: string): void => {
    try {
      resolveInside(dataDir, relative, field);
    } catch (error: unknown) {
      if (error instanceof PathEscapeError) throw new SpecValidationError(error.field, error.message, { cause: error });
      throw error;
    }
  };
  spec.datasets.forEach((d, i) => d.root && confine(d.root, `datasets[${i}].root`));
  spec.models.forEach((m, i) => m.pretrainedDir && confine(m.pretrainedDir, `models[${i}].pretrained_dir`));
  const service = serviceSettings(spec);
  const deviations = [...new Set(method.deviations.map((d) => protoPath(d.slice(0, d.indexOf(':')))))].sort();
  const runs = expandRuns(method).map((run, index) => ({
    index,
    label: run.runId,
    datasetIndex: method.datasets.indexOf(run.dataset),
    modelIndex: method.models.indexOf(run.model),
    armIndex: method.arms.indexOf(run.arm),
    seed: run.seed,
    run: runSpecToProto(run, service, method.backend),
  }));
  return { spec, resolved: resolvedToProto(method, service), method, service, deviations, runs };
}

/** `datasets[0].pixelScale` → `datasets[0].pixel_scale`. */
function protoPath(methodPath: string): string {
  return methodPath
    .split('.')
    .map((segment) => snake(segment))
    .join('.');
}

const defined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

function optimizer(o: OptimizerSpec | undefined): MethodOptimizer | undefined {
  if (!o) return undefined;
  return defined({
    kind: shortName(ENUMS.optimizerKind, o.kind) as MethodOptimizer['kind'],
    learningRate: o.learningRate,
    weightDecay: o.weightDecay,
    momentum: o.momentum,
    nesterov: o.nesterov,
    beta1: o.beta1,
    beta2: o.beta2,
    epsilon: o.epsilon,
  });
}

/**
 * Every integer field of `spec` fits its proto type (uint32: 0 to 4294967295; uint64: a safe integer) — a spec
 * built in JavaScript or read from JSON may hold 2.5, -3 or 1e20, which would otherwise fail only when serialized,
 * naming no field. Throws {@link SpecValidationError} naming the field (`training.epochs`).
 */
export function checkSpecNumbers(spec: ExperimentSpec): void {
  const nonFinite = findNonFinite(spec, '');
  if (nonFinite) {
    throw new SpecValidationError(nonFinite.path, `${nonFinite.path} must be a finite number, got ${nonFinite.value}`);
  }
  try {
    checkEncodable(ExperimentSpec, spec);
  } catch (error: unknown) {
    if (error instanceof WireNumberError) throw new SpecValidationError(error.path, error.message, { cause: error });
    throw error;
  }
}

/** The first NaN or ±Infinity in a spec (no spec field takes one), with its proto path. */
function findNonFinite(value: unknown, at: string): { path: string; value: number } | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { path: at, value };
  if (value === null || typeof value !== 'object') return undefined;
  const entries = Array.isArray(value)
    ? value.map((item, i) => [`${at}[${i}]`, item] as const)
    : Object.entries(value as Record<string, unknown>).map(
        ([k, v]) => [at ? `${at}.${snake(k)}` : snake(k), v] as const
      );
  for (const [p, v] of entries) {
    const found = findNonFinite(v, p);
    if (found) return found;
  }
  return undefined;
}

/** Every enum field of `spec` holds 0 (unset) or a known value: unknown values are refused, never defaulted. */
export function checkSpecEnums(spec: ExperimentSpec): void {
  requireKnownEnum('preset', ENUMS.preset, spec.preset);
  requireKnownEnum('backend', ENUMS.backend, spec.backend);
  spec.datasets.forEach((d, i) => {
    requireKnownEnum(`datasets[${i}].kind`, ENUMS.datasetKind, d.kind);
    requireKnownEnum(`datasets[${i}].pixel_scale`, ENUMS.pixelScale, d.pixelScale ?? 0);
  });
  spec.models.forEach((m, i) => requireKnownEnum(`models[${i}].kind`, ENUMS.modelKind, m.kind));
  spec.arms.forEach((a, i) => {
    requireKnownEnum(`arms[${i}].initializer`, ENUMS.initializer, a.initializer);
    requireKnownEnum(`arms[${i}].base_initializer`, ENUMS.initializer, a.baseInitializer ?? 0);
  });
  const p = spec.pretraining;
  if (p) {
    requireKnownEnum('pretraining.optimizer.kind', ENUMS.optimizerKind, p.optimizer?.kind ?? 0);
    requireKnownEnum('pretraining.tsne.method', ENUMS.tsneMethod, p.tsne?.method ?? 0);
    requireKnownEnum('pretraining.walsh_ordering', ENUMS.walshOrdering, p.walshOrdering ?? 0);
    requireKnownEnum('pretraining.aux_net.activation', ENUMS.auxActivation, p.auxNet?.activation ?? 0);
    requireKnownEnum('pretraining.aux_net.normalization', ENUMS.auxNormalization, p.auxNet?.normalization ?? 0);
    requireKnownEnum('pretraining.snapshot_selection', ENUMS.snapshotSelection, p.snapshotSelection ?? 0);
  }
  requireKnownEnum('training.optimizer.kind', ENUMS.optimizerKind, spec.training?.optimizer?.kind ?? 0);
}

/** The method's share of a proto spec, unset fields left out so the preset fills them. */
export function toMethodSpec(spec: ExperimentSpec): MethodSpec {
  const p = spec.pretraining;
  const t = spec.training;
  const ev = spec.evaluation;
  const out = defined({
    name: spec.name,
    description: spec.description || undefined,
    preset: shortName(ENUMS.preset, spec.preset) as MethodSpec['preset'],
    datasets: spec.datasets.map((d) =>
      defined({
        kind: shortName(ENUMS.datasetKind, d.kind),
        root: d.root || undefined,
        trainSubset: d.trainSubset,
        testSubset: d.testSubset,
        pixelScale: shortName(ENUMS.pixelScale, d.pixelScale),
        imageSize: d.imageSize,
        resizeRoute: shortName(ENUMS.resizeRoute, d.resizeRoute),
      })
    ),
    models: spec.models.map((m) =>
      defined({ kind: shortName(ENUMS.modelKind, m.kind), pretrainedDir: m.pretrainedDir || undefined })
    ),
    arms: spec.arms.map((a) =>
      defined({
        name: a.name || undefined,
        initializer: shortName(ENUMS.initializer, a.initializer),
        baseInitializer: shortName(ENUMS.initializer, a.baseInitializer),
      })
    ),
    pretraining: p
      ? defined({
          epochs: p.epochs,
          optimizer: optimizer(p.optimizer),
          classGroupBatchSize: p.classGroupBatchSize,
          groupsPerStep: p.groupsPerStep,
          tsne: p.tsne
            ? defined({
                perplexity: p.tsne.perplexity,
                iterations: p.tsne.iterations,
                // 0 is the proto's "auto" (spec.proto).
                learningRate: p.tsne.learningRate === 0 ? 'auto' : p.tsne.learningRate,
                earlyExaggeration: p.tsne.earlyExaggeration,
                exaggerationIterations: p.tsne.exaggerationIterations,
                method: shortName(ENUMS.tsneMethod, p.tsne.method),
                theta: p.tsne.theta,
                init: shortName(ENUMS.tsneInit, p.tsne.init),
                iterationsWithoutProgress: p.tsne.iterationsWithoutProgress,
                minGradNorm: p.tsne.minGradNorm,
              })
            : undefined,
          walshOrdering: shortName(ENUMS.walshOrdering, p.walshOrdering),
          auxNet: p.auxNet
            ? defined({
                widths: p.auxNet.widths.length > 0 ? p.auxNet.widths : undefined,
                activation: shortName(ENUMS.auxActivation, p.auxNet.activation),
                normalization: shortName(ENUMS.auxNormalization, p.auxNet.normalization),
              })
            : undefined,
          snapshotSelection: shortName(ENUMS.snapshotSelection, p.snapshotSelection),
        })
      : undefined,
    training: t
      ? defined({
          epochs: t.epochs,
          optimizer: optimizer(t.optimizer),
          batchSize: t.batchSize,
          dropLast: t.dropLast,
          shuffle: t.shuffle,
        })
      : undefined,
    evaluation: ev
      ? defined({ epochs: ev.epochs.length > 0 ? ev.epochs : undefined, initial: ev.initial, batchSize: ev.batchSize })
      : undefined,
    seeds: spec.seeds.length > 0 ? spec.seeds : undefined,
    backend: shortName(ENUMS.backend, spec.backend),
    limits: spec.limits
      ? defined({ stopOnNonFinite: spec.limits.stopOnNonFinite, maxStepsPerEpoch: spec.limits.maxStepsPerEpoch })
      : undefined,
    outputs: spec.outputs ? defined({ progressEverySteps: spec.outputs.progressEverySteps }) : undefined,
  });
  return out as unknown as MethodSpec;
}

const LABEL_KEY = /^[a-z0-9._-]{1,63}$/;

function integer(field: string, value: number | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SpecValidationError(field, `${field} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function stringMap(field: string, map: Record<string, string>, maxEntries: number): Record<string, string> {
  const entries = Object.entries(map);
  if (entries.length > maxEntries)
    throw new SpecValidationError(field, `${field} must have at most ${maxEntries} entries`);
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key)) {
      throw new SpecValidationError(
        field,
        `${field} keys must be 1–63 characters from [a-z0-9._-], got ${JSON.stringify(key)}`
      );
    }
    if (value.length > 256) throw new SpecValidationError(field, `${field}.${key} must be at most 256 characters`);
  }
  return { ...map };
}

/** Validates and resolves the service's fields of a spec (ranges from spec.proto). */
export function serviceSettings(spec: ExperimentSpec): ServiceSettings {
  const d = DEFAULT_SERVICE_SETTINGS;
  const w = spec.workers;
  const minWorkers = integer('workers.min_workers', w?.minWorkers, 1, 1024, d.workers.minWorkers);
  const maxWorkers = integer('workers.max_workers', w?.maxWorkers, 0, 1024, d.workers.maxWorkers);
  if (maxWorkers !== 0 && maxWorkers < minWorkers) {
    throw new SpecValidationError(
      'workers.max_workers',
      `workers.max_workers must be 0 or at least workers.min_workers (${minWorkers}), got ${maxWorkers}`
    );
  }
  const o = spec.outputs;
  return {
    workers: {
      minWorkers,
      maxWorkers,
      maxParallelRuns: integer('workers.max_parallel_runs', w?.maxParallelRuns, 0, 1024, 0),
      selector: stringMap('workers.selector', w?.selector ?? {}, 16),
    },
    checkpoints: {
      everySteps: integer(
        'checkpoints.every_steps',
        spec.checkpoints?.everySteps,
        0,
        10_000_000,
        d.checkpoints.everySteps
      ),
      keepLast: integer('checkpoints.keep_last', spec.checkpoints?.keepLast, 1, 100, d.checkpoints.keepLast),
    },
    limits: {
      experimentTimeoutSeconds: integer(
        'limits.experiment_timeout_seconds',
        spec.limits?.experimentTimeoutSeconds,
        0,
        31_536_000,
        0
      ),
      runTimeoutSeconds: integer('limits.run_timeout_seconds', spec.limits?.runTimeoutSeconds, 0, 31_536_000, 0),
      maxRunRestarts: integer('limits.max_run_restarts', spec.limits?.maxRunRestarts, 0, 100, d.limits.maxRunRestarts),
    },
    outputs: {
      saveWeights: o?.saveWeights ?? d.outputs.saveWeights,
      saveInitialWeights: o?.saveInitialWeights ?? d.outputs.saveInitialWeights,
      report: o?.report ?? d.outputs.report,
      plots: o?.plots ?? d.outputs.plots,
    },
    priority: integer('priority', spec.priority, -100, 100, 0),
    labels: stringMap('labels', spec.labels, 32),
  };
}

/** Experiment.resolved_spec: every field present, no *_UNSPECIFIED. */
function resolvedToProto(m: ResolvedExperimentSpec, s: ServiceSettings): ExperimentSpec {
  const fn = 'validateSpec';
  return ExperimentSpec.fromPartial({
    name: m.name,
    description: m.description,
    labels: { ...s.labels },
    preset: requireEnumValue(fn, ENUMS.preset, m.preset),
    datasets: m.datasets.map((d) => ({
      kind: requireEnumValue(fn, ENUMS.datasetKind, d.kind),
      root: d.root ?? '',
      trainSubset: d.trainSubset,
      testSubset: d.testSubset,
      pixelScale: requireEnumValue(fn, ENUMS.pixelScale, d.pixelScale),
      imageSize: d.imageSize,
      resizeRoute: requireEnumValue(fn, ENUMS.resizeRoute, d.resizeRoute),
    })),
    models: m.models.map((kind) => ({
      kind: requireEnumValue(fn, ENUMS.modelKind, kind),
      pretrainedDir: m.pretrainedDirs[kind] ?? '',
    })),
    arms: m.arms.map((a) => ({
      name: a.name,
      initializer: requireEnumValue(fn, ENUMS.initializer, a.initializer),
      baseInitializer: a.baseInitializer === undefined ? 0 : requireEnumValue(fn, ENUMS.initializer, a.baseInitializer),
    })),
    pretraining: pretrainingToProto(m.pretraining),
    training: {
      epochs: m.training.epochs,
      optimizer: optimizerToProto(m.training.optimizer),
      batchSize: m.training.batchSize,
      dropLast: m.training.dropLast,
      shuffle: m.training.shuffle,
    },
    evaluation: { epochs: [...m.evaluation.epochs], initial: m.evaluation.initial, batchSize: m.evaluation.batchSize },
    seeds: [...m.seeds],
    workers: { ...s.workers, selector: { ...s.workers.selector } },
    backend: requireEnumValue(fn, ENUMS.backend, m.backend),
    checkpoints: { ...s.checkpoints },
    limits: { ...s.limits, stopOnNonFinite: m.limits.stopOnNonFinite, maxStepsPerEpoch: m.limits.maxStepsPerEpoch },
    outputs: { ...s.outputs, progressEverySteps: m.outputs.progressEverySteps },
    priority: s.priority,
  });
}
