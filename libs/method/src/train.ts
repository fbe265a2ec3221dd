import {
  createBatchSampler,
  imageBatch,
  labelBatch,
  shardRange,
  type ImageSet,
  type PixelScale,
} from '@supwalsh/datasets';
import { deriveSeed } from '@supwalsh/engine';
import { setDropoutStep } from '@supwalsh/models';
import { ATTR, getTracer, SPAN_NAMES, withSpan } from '@supwalsh/telemetry';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { NonFiniteLossError } from './errors.js';
import { stepInstruments } from './instrumentation.js';
import { createOptimizer } from './optimizer.js';

import { PhaseClock, secondsSince, type PhaseOptions } from './progress.js';
import { LOCAL_REDUCER, ShardedStep, sumCrossEntropy, type GradientReducer } from './reducer.js';
import type { EpochMetrics } from './results.js';
import { assignAll, readAll } from './run-state.js';
import type { ResolvedEvaluation, ResolvedTraining } from './spec.js';
import { addStepTime } from './step-profile.js';

/** The seed fixes the batch order (shared by every arm, so arms see the same batches). */
export interface TrainOptions extends PhaseOptions {
  model: tfl.LayersModel;
  /** Evaluated after the epochs `evaluation.epochs` lists; unset: no test metrics. */
  test?: ImageSet;
  spec: ResolvedTraining;
  evaluation: ResolvedEvaluation;
  /** After every epoch (and its evaluation). */
  onEpoch?: (metrics: EpochMetrics) => void;
  /** Called with the state every `checkpointEvery` steps and after each epoch. */
  onCheckpoint?: (state: TrainState) => Promise<void>;
  /** Continue from a state `onCheckpoint` received (on any world size). */
  resume?: TrainState;
}

/** Everything training needs to continue exactly where it stopped. */
export interface TrainState {
  /** Steps done; the next step's index. */
  readonly step: number;
  /** Every weight of the model (BatchNorm statistics included), in `model.weights` order. */
  readonly weights: Float32Array[];
  readonly optimizer: { readonly iterations: number; readonly slots: Float32Array[] };
  /** Epochs finished, with their metrics. */
  readonly epochs: readonly EpochMetrics[];
  readonly trainLossPerStep: readonly number[];
  /** The current epoch so far. */
  readonly partial: {
    readonly lossSum: number;
    readonly correct: number;
    readonly samples: number;
    readonly seconds: number;
  };
}

export interface TrainOutcome {
  readonly epochs: EpochMetrics[];
  readonly trainLossPerStep: number[];
}

/**
 * Ordinary training from whatever weights `model` holds (the original: SGD, learning rate 3e-5, weight decay 3e-6,
 * batch 32). Global batches come from the seed, never from the world size (invariant 1); each rank takes its slice.
 * Per epoch: the mean of the batches' losses and the accuracy over the epoch's samples, as the original's tables,
 * then test loss and accuracy when the epoch is evaluated.
 */
export async function train(options: TrainOptions): Promise<TrainOutcome> {
  const { model, spec, pixelScale } = options;
  const reducer = options.reducer ?? LOCAL_REDUCER;
  const variables = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const optimizer = createOptimizer(spec.optimizer, variables);
  const step = new ShardedStep(variables, reducer);
  const sampler = createBatchSampler({
    size: options.train.length,
    batchSize: spec.batchSize,
    seed: deriveSeed(options.seed, 'train-batches'),
    shuffle: spec.shuffle,
    dropLast: spec.dropLast,
  });
  const stepsPerEpoch = Math.min(sampler.batchesPerEpoch, options.maxStepsPerEpoch ?? Number.POSITIVE_INFINITY);
  const clock = new PhaseClock(stepsPerEpoch * spec.epochs);
  const progressEvery = options.progressEvery ?? 10;
  const [, h, w, c] = model.inputs[0]?.shape as [null, number, number, number];
  const resume = options.resume;
  const epochs: EpochMetrics[] = [...(resume?.epochs ?? [])];
  const trainLossPerStep: number[] = [...(resume?.trainLossPerStep ?? [])];
  const allWeights = model.weights.map((v) => v.read());
  if (resume) {
    assignAll(allWeights, resume.weights);
    if (resume.optimizer.iterations > 0) optimizer.importState(resume.optimizer);
  }
  const firstStep = resume?.step ?? 0;
  const firstEpoch = Math.floor(firstStep / stepsPerEpoch);
  const instruments = stepInstruments('training');
  try {
    for (let epoch = firstEpoch; epoch < spec.epochs; epoch++) {
      const partial = epoch === firstEpoch && firstStep % stepsPerEpoch !== 0 ? resume?.partial : undefined;
      const started = performance.now() - (partial?.seconds ?? 0) * 1000;
      let lossSum = partial?.lossSum ?? 0;
      let correct = partial?.correct ?? 0;
      let samples = partial?.samples ?? 0;
      for (let s = epoch === firstEpoch ? firstStep % stepsPerEpoch : 0; s < stepsPerEpoch; s++) {
        options.signal?.throwIfAborted();
        const batch = sampler.batch(epoch, s);
        const range = shardRange(batch.length, reducer.rank, reducer.worldSize);
        const mine = batch.subarray(range.start, range.end);
        const done = epoch * stepsPerEpoch + s + 1;
        // The step's span covers forward, backward, all-reduce and update (not progress or checkpoints).
        const reduced = await withSpan(
          instruments.tracer,
          SPAN_NAMES.trainStep,
          { [ATTR.epoch]: epoch + 1, [ATTR.step]: done, [ATTR.stepSamples]: batch.length },
          async (span) => {
            const stepStart = performance.now();
            setDropoutStep(model, done - 1, { offset: range.start, total: batch.length });
            const forward =
              mine.length === 0
                ? null
                : () => {
                    const x = tf.tensor4d(imageBatch(options.train, mine, pixelScale), [mine.length, h, w, c]);
                    const y = tf.tensor1d(labelBatch(options.train, mine), 'int32');
                    return sumCrossEntropy(model.apply(x, { training: true }) as tf.Tensor2D, y);
                  };
            const reduced = await step.run(forward, batch.length);
            // Without stopOnNonFinite the run trains on, as the original; trainLossPerStep shows the step.
            if (!Number.isFinite(reduced.loss) && (options.stopOnNonFinite ?? true)) {
              reduced.gradSums.forEach((g) => g.dispose());
              throw new NonFiniteLossError('training', trainLossPerStep.length, reduced.loss);
            }
            const updateStart = performance.now();
            optimizer.apply(reduced.gradSums, reduced.gradScale);
            reduced.gradSums.forEach((g) => g.dispose());
            addStepTime('optimizerMs', updateStart);
            span.setAttribute(ATTR.loss, reduced.loss);
            instruments.recordStep(secondsSince(stepStart), mine.length);
            return { loss: reduced.loss, correct: reduced.correct };
          }
        );
        trainLossPerStep.push(reduced.loss);
        lossSum += reduced.loss;
        correct += reduced.correct;
        samples += batch.length;
        const pace = clock.tick(batch.length, done);
        if (options.onProgress && (done % progressEvery === 0 || s === stepsPerEpoch - 1)) {
          options.onProgress({
            phase: 'training',
            epoch: epoch + 1,
            epochsTotal: spec.epochs,
            stepInEpoch: s + 1,
            stepsPerEpoch,
            step: done,
            stepsTotal: stepsPerEpoch * spec.epochs,
            loss: reduced.loss,
            epochLoss: lossSum / (s + 1),
            ...pace,
            learningRate: spec.optimizer.learningRate,
            worldSize: reducer.worldSize,
          });
        }
        const every = options.checkpointEvery ?? 0;
        const scheduled = options.periodicCheckpoints !== false && every > 0 && done % every === 0;
        // The last step of an epoch is checkpointed after the epoch's evaluation, below.
        if (options.onCheckpoint && s < stepsPerEpoch - 1 && (scheduled || options.checkpointNow?.())) {
          await options.onCheckpoint({
            step: done,
            weights: readAll(allWeights),
            optimizer: optimizer.exportState(),
            epochs: [...epochs],
            trainLossPerStep: [...trainLossPerStep],
            partial: { lossSum, correct, samples, seconds: secondsSince(started) },
          });
        }
      }
      const seconds = secondsSince(started);
      const evaluated = options.test !== undefined && options.evaluation.epochs.includes(epoch + 1);
      const evalStart = performance.now();
      const test = evaluated
        ? await evaluate(model, options.test as ImageSet, {
            batchSize: options.evaluation.batchSize,
            pixelScale,
            reducer,
          })
        : undefined;
      const metrics: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: lossSum / stepsPerEpoch,
        trainAccuracy: correct / samples,
        ...(test ? { testLoss: test.loss, testAccuracy: test.accuracy } : {}),
        steps: stepsPerEpoch,
        seconds,
        evalSeconds: evaluated ? secondsSince(evalStart) : 0,
      };
      epochs.push(metrics);
      options.onEpoch?.(metrics);
      if (options.onCheckpoint && (options.periodicCheckpoints !== false || options.checkpointNow?.())) {
        await options.onCheckpoint({
          step: (epoch + 1) * stepsPerEpoch,
          weights: readAll(allWeights),
          optimizer: optimizer.exportState(),
          epochs: [...epochs],
          trainLossPerStep: [...trainLossPerStep],
          partial: { lossSum: 0, correct: 0, samples: 0, seconds: 0 },
        });
      }
    }
  } finally {
    optimizer.dispose();
  }
  return { epochs, trainLossPerStep };
}

export interface EvaluateOptions {
  /** Samples per forward pass; affects speed and memory only. @default 1000 */
  batchSize?: number;
  pixelScale: PixelScale;
  /** Each rank evaluates its slice of the set; the sums are combined. @default LOCAL_REDUCER */
  reducer?: GradientReducer;
  signal?: AbortSignal;
}

/** Mean cross-entropy and accuracy of `model` over all of `set` (inference mode: no dropout, BatchNorm's running statistics). */
export function evaluate(
  model: tfl.LayersModel,
  set: ImageSet,
  options: EvaluateOptions
): Promise<{ loss: number; accuracy: number }> {
  return withSpan(getTracer(), SPAN_NAMES.evaluate, { [ATTR.stepSamples]: set.length }, async (span) => {
    const result = await evaluateSet(model, set, options);
    span.setAttribute(ATTR.loss, result.loss);
    return result;
  });
}

async function evaluateSet(
  model: tfl.LayersModel,
  set: ImageSet,
  options: EvaluateOptions
): Promise<{ loss: number; accuracy: number }> {
  const reducer = options.reducer ?? LOCAL_REDUCER;
  const batchSize = options.batchSize ?? 1000;
  const [, h, w, c] = model.inputs[0]?.shape as [null, number, number, number];
  const range = shardRange(set.length, reducer.rank, reducer.worldSize);
  let lossSum = 0;
  let correct = 0;
  for (let start = range.start; start < range.end; start += batchSize) {
    options.signal?.throwIfAborted();
    const end = Math.min(start + batchSize, range.end);
    const indices = Uint32Array.from({ length: end - start }, (_, i) => start + i);
    const out = tf.tidy(() => {
      const x = tf.tensor4d(imageBatch(set, indices, options.pixelScale), [indices.length, h, w, c]);
      const y = tf.tensor1d(labelBatch(set, indices), 'int32');
      const r = sumCrossEntropy(model.apply(x, { training: false }) as tf.Tensor2D, y);
      return tf.stack([r.loss, r.correct]);
    });
    const [l, k] = await out.data();
    out.dispose();
    // Summed in float64 per rank; float32 only crosses the ring.
    lossSum += l as number;
    correct += k as number;
  }
  if (reducer.worldSize > 1) {
    const sums = Float32Array.of(lossSum, correct);
    await reducer.sum([sums]);
    [lossSum, correct] = [sums[0] as number, sums[1] as number];
  }
  return { loss: lossSum / set.length, accuracy: correct / set.length };
}
