import { SpanStatusCode } from '@opentelemetry/api';
import { imageBatch, type ImageSet } from '@supwalsh/datasets';
import { deriveSeed } from '@supwalsh/engine';
import { buildModel, countParameters, loadPretrainedWeights, type InitializerName } from '@supwalsh/models';
import { ATTR, getTracer, SPAN_NAMES, withSpan } from '@supwalsh/telemetry';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { MethodArgumentError } from './errors.js';
import type { MethodEvent } from './events.js';
import { pretrain } from './pretrain.js';
import { secondsSince } from './progress.js';
import type { GradientReducer } from './reducer.js';
import type { PretrainingResult, RunResult } from './results.js';
import { assignAll, readAll, type RunCheckpoint } from './run-state.js';
import type { RunSpec } from './spec.js';
import { evaluate, train } from './train.js';

/** Samples LSUV measures output variances on: the first of the training split. */
const LSUV_SAMPLES = 64;

export interface ExecuteRunOptions {
  train: ImageSet;
  test: ImageSet;
  /** @default LOCAL_REDUCER */
  reducer?: GradientReducer;
  signal?: AbortSignal;
  onEvent?: (event: MethodEvent) => void;
  /** Receives the classifier after its initialization (not on a resumed training phase) and at the end. */
  onModel?: (model: tfl.LayersModel, stage: 'initial' | 'final') => Promise<void> | void;
  /**
   * Checkpoints: `save` gets the run's state every `everySteps` steps (0: never mid-epoch), at every epoch end and
   * when training starts — on one rank (rank 0): taking a checkpoint involves no other rank. With `periodic: false`
   * (the other ranks) only when `requested()` says so after a step: every rank holds the same state, so any rank can
   * hand the run over.
   */
  checkpoint?: {
    readonly everySteps: number;
    save(checkpoint: RunCheckpoint): Promise<void>;
    /** @default true */
    readonly periodic?: boolean;
    readonly requested?: () => boolean;
  };
  /** Continue from a checkpoint (taken on any world size). */
  resumeFrom?: RunCheckpoint;
  /** The run's `pretrainedDir`, resolved (and confined to the data directory) by the caller. */
  pretrainedDir?: string;
}

/**
 * One (dataset, model, arm, seed) run: the classifier with the arm's initialization — for `sup-walsh`, the base
 * initialization then pretraining — then ordinary training and evaluation. Every arm of a seed starts from the same
 * base weights and sees the same batches, so arms differ only by their initialization. Never throws for a failed
 * run: the error is in the result (`status`, `error`); an abort gives `cancelled`. Traced as one `supwalsh.run` span
 * (status ERROR for a failed run), the parent of its steps, evaluations and checkpoints.
 */
export function executeRun(spec: RunSpec, options: ExecuteRunOptions): Promise<RunResult> {
  const attributes = {
    [ATTR.runLabel]: spec.runId,
    [ATTR.model]: spec.model,
    [ATTR.dataset]: spec.dataset.kind,
    [ATTR.arm]: spec.arm.name,
    [ATTR.rank]: options.reducer?.rank ?? 0,
    [ATTR.worldSize]: options.reducer?.worldSize ?? 1,
  };
  return withSpan(getTracer(), SPAN_NAMES.run, attributes, async (span) => {
    const result = await runOnce(spec, options);
    if (result.status === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: result.error ?? 'failed' });
    return result;
  });
}

async function runOnce(spec: RunSpec, options: ExecuteRunOptions): Promise<RunResult> {
  const started = performance.now();
  const emit = options.onEvent ?? (() => {});
  const { runId } = spec;
  const size = spec.dataset.imageSize;
  const initializer: InitializerName =
    spec.arm.initializer === 'sup-walsh' ? (spec.arm.baseInitializer ?? 'pytorch-default') : spec.arm.initializer;
  let model: tfl.LayersModel | undefined;
  let pretraining: PretrainingResult | undefined;
  let initial: RunResult['initial'];
  const epochs: RunResult['epochs'][number][] = [];
  let trainLossPerStep: number[] = [];
  let parameters = 0;
  const finish = (status: RunResult['status'], error?: string): RunResult => {
    const result: RunResult = {
      runId,
      dataset: spec.dataset.kind,
      model: spec.model,
      arm: spec.arm.name,
      initializer: spec.arm.initializer,
      seed: spec.seed,
      status,
      ...(error === undefined ? {} : { error }),
      parameters,
      ...(pretraining ? { pretraining } : {}),
      ...(initial ? { initial } : {}),
      epochs,
      trainLossPerStep,
      ...nonFiniteOf(trainLossPerStep),
      seconds: secondsSince(started),
    };
    emit({ type: 'run-state', runId, state: status, message: error ?? '' });
    emit({ type: 'run-finished', runId, result });
    return result;
  };

  emit({ type: 'run-state', runId, state: 'running', message: '' });
  try {
    emit({ type: 'phase', runId, phase: 'preparing', epochsTotal: 0, stepsTotal: 0 });
    const lsuvData =
      initializer === 'lsuv'
        ? tf.tensor4d(imageBatch(options.train, firstSamples(options.train.length), spec.dataset.pixelScale), [
            Math.min(LSUV_SAMPLES, options.train.length),
            size,
            size,
            1,
          ])
        : undefined;
    try {
      model = buildModel(spec.model, {
        inputShape: [size, size, 1],
        numClasses: options.train.numClasses,
        init: initializer,
        seed: deriveSeed(spec.seed, 'classifier'),
        ...(lsuvData ? { data: lsuvData } : {}),
      });
    } finally {
      lsuvData?.dispose();
    }
    if (spec.pretrainedDir !== undefined && options.resumeFrom === undefined) {
      // As the original's from_pretrained: the encoder from the checkpoint, the replaced layers (first patch
      // embedding, head) keep the arm's initialization — the same start for every arm of a seed.
      if (options.pretrainedDir === undefined) {
        throw new MethodArgumentError('executeRun', 'options.pretrainedDir', 'is required when the run has one');
      }
      const report = await loadPretrainedWeights(model, options.pretrainedDir);
      emit({
        type: 'log',
        runId,
        level: 'info',
        code: 'pretrained-weights',
        message: `started ${spec.model} from ${spec.pretrainedDir}: ${report.loaded.length} layers loaded, ${report.keptFresh.join(', ')} kept fresh`,
      });
    }
    parameters = countParameters(model).trainable;
    const reducer = options.reducer;
    if (reducer?.broadcast && reducer.worldSize > 1 && options.resumeFrom === undefined) {
      // Every rank starts from rank 0's weights, whatever the backend's rounding did to the initializers.
      const variables = model.weights.map((v) => v.read());
      const weights = readAll(variables);
      await reducer.broadcast(weights, 0);
      assignAll(variables, weights);
    }
    const common = {
      train: options.train,
      seed: spec.seed,
      pixelScale: spec.dataset.pixelScale,
      ...(options.reducer ? { reducer: options.reducer } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(spec.limits.maxStepsPerEpoch === undefined ? {} : { maxStepsPerEpoch: spec.limits.maxStepsPerEpoch }),
      stopOnNonFinite: spec.limits.stopOnNonFinite,
      progressEvery: spec.outputs.progressEverySteps,
    };
    const resume = options.resumeFrom;
    const sink = options.checkpoint?.save;
    const save =
      sink &&
      ((checkpoint: RunCheckpoint) =>
        withSpan(
          getTracer(),
          SPAN_NAMES.checkpointSave,
          {
            [ATTR.phase]: checkpoint.phase,
            [ATTR.step]: checkpoint.phase === 'pretraining' ? checkpoint.pretrain.step : checkpoint.train.step,
          },
          () => sink(checkpoint)
        ));
    const periodic = options.checkpoint?.periodic ?? true;
    const checkpointing = {
      checkpointEvery: options.checkpoint?.everySteps ?? 0,
      periodicCheckpoints: periodic,
      ...(options.checkpoint?.requested ? { checkpointNow: options.checkpoint.requested } : {}),
    };
    if (resume?.phase === 'training') {
      pretraining = resume.pretraining;
      initial = resume.initial;
    } else {
      if (spec.pretraining) {
        emit({ type: 'phase', runId, phase: 'pretraining', epochsTotal: spec.pretraining.epochs, stepsTotal: 0 });
        ({ result: pretraining } = await pretrain({
          ...common,
          classifier: model,
          spec: spec.pretraining,
          onProgress: (p) => emit({ type: 'step', runId, ...p }),
          ...checkpointing,
          ...(save ? { onCheckpoint: (state) => save({ phase: 'pretraining', pretrain: state }) } : {}),
          ...(resume?.phase === 'pretraining' ? { resume: resume.pretrain } : {}),
        }));
      }
      await options.onModel?.(model, 'initial');
    }
    // The first phase after pretraining carries its summary (the proto's PhaseChanged.pretraining).
    let summary = pretraining && {
      pretraining: {
        bestLoss: pretraining.selectedLoss,
        bestEpoch: Math.floor(pretraining.selectedStep / (pretraining.steps / pretraining.epochs)) + 1,
        selectedStep: pretraining.selectedStep,
        steps: pretraining.steps,
      },
    };
    if (spec.evaluation.initial && resume?.phase !== 'training') {
      emit({ type: 'phase', runId, phase: 'evaluating', epochsTotal: 0, stepsTotal: 0, ...summary });
      summary = undefined;
      const r = await evaluate(model, options.test, {
        batchSize: spec.evaluation.batchSize,
        pixelScale: spec.dataset.pixelScale,
        ...(options.reducer ? { reducer: options.reducer } : {}),
      });
      initial = { testLoss: r.loss, testAccuracy: r.accuracy };
    }
    if (save && periodic && resume?.phase !== 'training') {
      // Training starts: the initialization (for Sup-Walsh, the selected snapshot) is worth keeping.
      await save({
        phase: 'training',
        ...(pretraining ? { pretraining } : {}),
        ...(initial ? { initial } : {}),
        train: {
          step: 0,
          weights: readAll(model.weights.map((v) => v.read())),
          optimizer: { iterations: 0, slots: [] },
          epochs: [],
          trainLossPerStep: [],
          partial: { lossSum: 0, correct: 0, samples: 0, seconds: 0 },
        },
      });
    }
    emit({ type: 'phase', runId, phase: 'training', epochsTotal: spec.training.epochs, stepsTotal: 0, ...summary });
    if (resume?.phase === 'training') epochs.push(...resume.train.epochs);
    ({ trainLossPerStep } = await train({
      ...common,
      model,
      ...checkpointing,
      ...(save
        ? {
            onCheckpoint: (state) =>
              save({
                phase: 'training',
                ...(pretraining ? { pretraining } : {}),
                ...(initial ? { initial } : {}),
                train: state,
              }),
          }
        : {}),
      ...(resume?.phase === 'training' ? { resume: resume.train } : {}),
      test: options.test,
      spec: spec.training,
      evaluation: spec.evaluation,
      onProgress: (p) => emit({ type: 'step', runId, ...p }),
      onEpoch: (metrics) => {
        epochs.push(metrics);
        emit({ type: 'epoch', runId, phase: 'training', metrics });
      },
    }));
    await options.onModel?.(model, 'final');
    return finish('succeeded');
  } catch (error: unknown) {
    if (options.signal?.aborted) return finish('cancelled', describeError(options.signal.reason));
    return finish('failed', describeError(error));
  } finally {
    model?.dispose();
  }
}

function firstSamples(length: number): Uint32Array {
  return Uint32Array.from({ length: Math.min(LSUV_SAMPLES, length) }, (_, i) => i);
}

/** A person-readable message for any thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** The 0-based steps whose training loss was not finite, when there are any (reports list them). */
function nonFiniteOf(lossPerStep: readonly number[]): { trainNonFiniteSteps?: number[] } {
  const steps = lossPerStep.flatMap((loss, i) => (Number.isFinite(loss) ? [] : [i]));
  return steps.length === 0 ? {} : { trainNonFiniteSteps: steps };
}
