import { createClassGroupSampler, imageBatch, shardRange, type ClassGroup } from '@supwalsh/datasets';
import { deriveSeed } from '@supwalsh/engine';
import { setDropoutStep } from '@supwalsh/models';
import { ATTR, SPAN_NAMES, withSpan, withSpanSync } from '@supwalsh/telemetry';
import { createTsne, type TsneRunner } from '@supwalsh/tsne';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { createAuxiliaryNetwork } from './aux-net.js';
import { NonFiniteLossError } from './errors.js';
import { stepInstruments } from './instrumentation.js';
import { createOptimizer } from './optimizer.js';
import { PhaseClock, secondsSince, type PhaseOptions } from './progress.js';
import { LOCAL_REDUCER, ShardedStep, sumCrossEntropy } from './reducer.js';
import type { EmbeddedGroup, PretrainingResult } from './results.js';
import { assignAll, readAll } from './run-state.js';
import type { ResolvedPretraining } from './spec.js';
import { addStepTime } from './step-profile.js';

/** Pretraining's dropout masks come from steps far past any training step, so the two phases never share masks. */
const PRETRAINING_DROPOUT_STEPS = 2 ** 40;

/** The seed fixes the class groups, the t-SNE starts and the auxiliary network's weights. */
export interface PretrainOptions extends PhaseOptions {
  /** The classifier to pretrain; on return it holds the selected snapshot. */
  classifier: tfl.LayersModel;
  spec: ResolvedPretraining;
  /** Embeddings of the first groups kept for plots. @default 3 */
  keepEmbeddings?: number;
  /** Called with the state every `checkpointEvery` steps and after each epoch's last step. */
  onCheckpoint?: (state: PretrainState) => Promise<void>;
  /** Continue from a state `onCheckpoint` received (on any world size). */
  resume?: PretrainState;
}

/** Everything pretraining needs to continue exactly where it stopped. */
export interface PretrainState {
  /** Steps done; the next step's index. */
  readonly step: number;
  readonly auxWeights: Float32Array[];
  readonly classifierWeights: Float32Array[];
  readonly optimizer: { readonly iterations: number; readonly slots: Float32Array[] };
  /** The selected snapshot so far (classifier weights), absent before the first step. */
  readonly snapshot?: Float32Array[];
  readonly selectedStep: number;
  readonly selectedLoss: number;
  /** Steps whose loss was not finite (absent in checkpoints written before it existed). */
  readonly nonFiniteSteps?: readonly number[];
  readonly lossPerStep: readonly number[];
  readonly epochLossSum: number;
  readonly incompleteGroups: number;
  readonly tsneSeconds: number;
  readonly seconds: number;
  readonly embeddings: readonly EmbeddedGroup[];
}

/** Pretraining's outcome; the classifier already holds the selected weights. */
export interface PretrainOutcome {
  readonly result: PretrainingResult;
}

/**
 * Sup-Walsh pretraining (ARCHITECTURE.md, steps 1–4): for every class group, t-SNE of its images, the auxiliary
 * network maps the 2-D points through the class's Walsh code to images, and the classifier learns to name the
 * class; Adam on both networks. A step takes `groupsPerStep` consecutive groups, split across the ranks; the
 * weights that produced the lowest loss (taken before that step's update, as the original), or the last weights,
 * are left in the classifier.
 */
export async function pretrain(options: PretrainOptions): Promise<PretrainOutcome> {
  const { classifier, train, spec, seed, pixelScale } = options;
  const reducer = options.reducer ?? LOCAL_REDUCER;
  const started = performance.now();
  const [, h, w, c] = classifier.inputs[0]?.shape as [null, number, number, number];
  const numClasses = train.numClasses;
  const aux = createAuxiliaryNetwork({
    widths: spec.auxNet.widths,
    activation: spec.auxNet.activation,
    normalization: spec.auxNet.normalization,
    imageShape: [h, w, c],
    numClasses,
    walshOrdering: spec.walshOrdering,
    seed: deriveSeed(seed, 'aux-net'),
  });
  const variables = [...aux.model.trainableWeights, ...classifier.trainableWeights].map((v) => v.read() as tf.Variable);
  const optimizer = createOptimizer(spec.optimizer, variables);
  const step = new ShardedStep(variables, reducer);
  const sampler = createClassGroupSampler({
    labels: train.labels,
    numClasses,
    batchSize: spec.classGroupBatchSize,
    seed: deriveSeed(seed, 'class-groups'),
  });
  // One runner per group size (nearly always K; smaller only for groups missing a class), reusing its buffers.
  const runners = new Map<number, TsneRunner>();
  const runnerFor = (k: number): TsneRunner => {
    let runner = runners.get(k);
    if (!runner) {
      runner = createTsne({
        rows: k,
        cols: train.height * train.width * train.channels,
        dims: 2,
        perplexity: Math.min(spec.tsne.perplexity, k - 1),
        earlyExaggeration: spec.tsne.earlyExaggeration,
        learningRate: spec.tsne.learningRate,
        maxIter: spec.tsne.iterations,
        explorationIter: spec.tsne.exaggerationIterations,
        method: spec.tsne.method,
        theta: spec.tsne.theta,
        init: spec.tsne.init,
        iterWithoutProgress: spec.tsne.iterationsWithoutProgress,
        minGradNorm: spec.tsne.minGradNorm,
      });
      runners.set(k, runner);
    }
    return runner;
  };
  const stepsPerEpoch = Math.min(
    Math.ceil(sampler.groupsPerEpoch / spec.groupsPerStep),
    options.maxStepsPerEpoch ?? Number.POSITIVE_INFINITY
  );
  const stepsTotal = stepsPerEpoch * spec.epochs;
  const clock = new PhaseClock(stepsTotal);
  const progressEvery = options.progressEvery ?? 10;
  const keep = options.keepEmbeddings ?? 3;
  const weights = classifier.weights.map((v) => v.read());
  const resume = options.resume;
  const lossPerStep: number[] = [...(resume?.lossPerStep ?? [])];
  const embeddings: EmbeddedGroup[] = [...(resume?.embeddings ?? [])];
  let snapshot: tf.Tensor[] | undefined = resume?.snapshot?.map((w, i) => tf.tensor(w, weights[i]?.shape));
  let selectedStep = resume?.selectedStep ?? -1;
  let selectedLoss = resume?.selectedLoss ?? Number.POSITIVE_INFINITY;
  const nonFiniteSteps: number[] = [...(resume?.nonFiniteSteps ?? [])];
  let incompleteGroups = resume?.incompleteGroups ?? 0;
  let tsneSeconds = resume?.tsneSeconds ?? 0;
  const priorSeconds = resume?.seconds ?? 0;
  if (resume) {
    assignAll(
      aux.model.weights.map((v) => v.read()),
      resume.auxWeights
    );
    assignAll(weights, resume.classifierWeights);
    optimizer.importState(resume.optimizer);
  }
  const firstStep = resume?.step ?? 0;
  let epochLossSum = resume?.epochLossSum ?? 0;
  const instruments = stepInstruments('pretraining');

  const embed = (group: ClassGroup): Float32Array => {
    const k = group.indices.length;
    if (k < 2) return new Float32Array(2 * k); // one point has nothing to be near: the origin
    const t = performance.now();
    const images = imageBatch(train, group.indices, pixelScale);
    const { embedding } = withSpanSync(instruments.tracer, SPAN_NAMES.tsne, { [ATTR.tsneRows]: k }, () =>
      runnerFor(k).run(images, { seed: deriveSeed(seed, 'tsne', group.epoch, group.index) })
    );
    tsneSeconds += secondsSince(t);
    return Float32Array.from(embedding);
  };

  try {
    for (let epoch = Math.floor(firstStep / stepsPerEpoch); epoch < spec.epochs; epoch++) {
      for (
        let s = epoch === Math.floor(firstStep / stepsPerEpoch) ? firstStep % stepsPerEpoch : 0;
        s < stepsPerEpoch;
        s++
      ) {
        options.signal?.throwIfAborted();
        const done = epoch * stepsPerEpoch + s + 1;
        // The step's span covers its t-SNE, forward, backward, all-reduce and update (not progress or checkpoints).
        const reduced = await withSpan(
          instruments.tracer,
          SPAN_NAMES.pretrainStep,
          { [ATTR.epoch]: epoch + 1, [ATTR.step]: done },
          async (span) => {
            const stepStart = performance.now();
            const first = s * spec.groupsPerStep;
            const all = Array.from({ length: Math.min(spec.groupsPerStep, sampler.groupsPerEpoch - first) }, (_, i) =>
              sampler.group(epoch, first + i)
            );
            const globalCount = all.reduce((n, g) => n + g.indices.length, 0);
            incompleteGroups += all.filter((g) => g.missing.length > 0).length;
            const range = shardRange(all.length, reducer.rank, reducer.worldSize);
            const mine = all.slice(range.start, range.end);
            const points = mine.map(embed);
            for (let i = 0; i < mine.length && embeddings.length < keep; i++) {
              const g = mine[i] as ClassGroup;
              const p = points[i] as Float32Array;
              embeddings.push({
                epoch: g.epoch,
                index: g.index,
                classes: Array.from(g.classes),
                points: Array.from(
                  { length: g.classes.length },
                  (_, j) => [p[2 * j] as number, p[2 * j + 1] as number] as const
                ),
                codes: Array.from(g.classes).map((cls) => Array.from(aux.codes[cls] as Int8Array)),
              });
            }
            const mineCount = mine.reduce((n, g) => n + g.indices.length, 0);
            const offset = all.slice(0, range.start).reduce((n, g) => n + g.indices.length, 0);
            const forward =
              mineCount === 0
                ? null
                : () => {
                    const classes = concat(
                      mine.map((g) => g.classes),
                      Uint8Array
                    );
                    const pointTensor = tf.tensor2d(concat(points, Float32Array), [mineCount, 2]);
                    const codes = aux.codeTensor(classes);
                    const labels = tf.tensor1d(Int32Array.from(classes), 'int32');
                    const images = aux.model.apply([pointTensor, codes], { training: true }) as tf.Tensor;
                    const logits = classifier.apply(images, { training: true }) as tf.Tensor2D;
                    return sumCrossEntropy(logits, labels);
                  };
            setDropoutStep(classifier, PRETRAINING_DROPOUT_STEPS + lossPerStep.length, { offset, total: globalCount });
            const reduced = await step.run(forward, globalCount);
            if (!Number.isFinite(reduced.loss)) {
              if (options.stopOnNonFinite ?? true) {
                reduced.gradSums.forEach((g) => g.dispose());
                throw new NonFiniteLossError('pretraining', lossPerStep.length, reduced.loss);
              }
              nonFiniteSteps.push(lossPerStep.length); // the original trains on; the report lists these steps
            }
            // The original saves the classifier when a step's loss is the lowest so far, before that step's
            // update: the snapshot holds the weights that produced the lowest loss (ts_walsh_training.py).
            if (spec.snapshotSelection === 'lowest-loss' && reduced.loss < selectedLoss) {
              snapshot?.forEach((t) => t.dispose());
              // Clones share the variables' current buffers; the update writes new ones, so this is cheap.
              snapshot = weights.map((v) => tf.clone(v));
              selectedStep = lossPerStep.length;
              selectedLoss = reduced.loss;
            }
            const updateStart = performance.now();
            optimizer.apply(reduced.gradSums, reduced.gradScale);
            reduced.gradSums.forEach((g) => g.dispose());
            addStepTime('optimizerMs', updateStart);
            span.setAttributes({ [ATTR.stepSamples]: globalCount, [ATTR.loss]: reduced.loss });
            instruments.recordStep(secondsSince(stepStart), mineCount);
            return { loss: reduced.loss, globalCount };
          }
        );
        const { globalCount } = reduced;
        lossPerStep.push(reduced.loss);
        epochLossSum += reduced.loss;
        if (spec.snapshotSelection === 'last') {
          selectedStep = lossPerStep.length - 1; // the weights after the last update stay in the classifier
          selectedLoss = reduced.loss;
        }
        const pace = clock.tick(globalCount, done);
        if (options.onProgress && (done % progressEvery === 0 || s === stepsPerEpoch - 1)) {
          options.onProgress({
            phase: 'pretraining',
            epoch: epoch + 1,
            epochsTotal: spec.epochs,
            stepInEpoch: s + 1,
            stepsPerEpoch,
            step: done,
            stepsTotal,
            loss: reduced.loss,
            epochLoss: epochLossSum / (s + 1),
            ...pace,
            learningRate: spec.optimizer.learningRate,
            worldSize: reducer.worldSize,
          });
        }
        const epochEnd = s === stepsPerEpoch - 1;
        if (epochEnd) epochLossSum = 0;
        const every = options.checkpointEvery ?? 0;
        const scheduled = options.periodicCheckpoints !== false && (epochEnd || (every > 0 && done % every === 0));
        if (options.onCheckpoint && (scheduled || options.checkpointNow?.())) {
          await options.onCheckpoint({
            step: done,
            auxWeights: readAll(aux.model.weights.map((v) => v.read())),
            classifierWeights: readAll(weights),
            optimizer: optimizer.exportState(),
            ...(snapshot ? { snapshot: readAll(snapshot) } : {}),
            selectedStep,
            selectedLoss,
            nonFiniteSteps: [...nonFiniteSteps],
            lossPerStep: [...lossPerStep],
            epochLossSum,
            incompleteGroups,
            tsneSeconds,
            seconds: priorSeconds + secondsSince(started),
            embeddings: [...embeddings],
          });
        }
      }
    }
    if (snapshot) {
      const chosen = snapshot;
      tf.tidy(() => weights.forEach((v, i) => (v as tf.Variable).assign(chosen[i] as tf.Tensor)));
    }
  } finally {
    snapshot?.forEach((t) => t.dispose());
    optimizer.dispose();
    aux.model.dispose();
  }
  return {
    result: {
      epochs: spec.epochs,
      steps: lossPerStep.length,
      lossPerStep,
      selectedStep,
      selectedLoss,
      nonFiniteSteps,
      incompleteGroups,
      seconds: priorSeconds + secondsSince(started),
      tsneSeconds,
      embeddings,
    },
  };
}

/** `parts` end to end in one new array of the same kind (class codes, 2-D points). */
function concat<T extends Uint8Array | Float32Array>(parts: readonly T[], Kind: new (length: number) => T): T {
  const out = new Kind(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
