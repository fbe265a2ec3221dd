/**
 * @supwalsh/method — the Sup-Walsh method itself: class groups embedded with t-SNE, the Walsh-coded auxiliary
 * network, pretraining with the lowest-loss snapshot, ordinary training and evaluation with PyTorch's optimizer
 * semantics, and whole experiments (arms × models × datasets × seeds) with progress events and a result record.
 * Every step takes a `GradientReducer`, so the same code runs in one process or as one rank of a ring.
 * @module
 */
export { createAuxiliaryNetwork, type AuxiliaryNetwork, type AuxiliaryNetworkOptions } from './aux-net.js';
export { MethodArgumentError, MethodSpecError, NonFiniteLossError } from './errors.js';
export { EventQueue } from './event-queue.js';
export type { MethodEvent } from './events.js';
export { runExperiment, type ExperimentRun, type RunExperimentOptions } from './experiment.js';
export { createOptimizer, type Optimizer } from './optimizer.js';
export { pretrain, type PretrainOptions, type PretrainOutcome, type PretrainState } from './pretrain.js';
export type { PhaseName, StepProgress } from './progress.js';
export { readStepProfile, resetStepProfile, type StepProfile } from './step-profile.js';
export {
  LOCAL_REDUCER,
  ShardedStep,
  sumCrossEntropy,
  type GradientReducer,
  type ReducedStep,
  type ShardForward,
} from './reducer.js';
export type {
  DatasetName,
  EmbeddedGroup,
  EpochMetrics,
  ExperimentResult,
  PretrainingResult,
  RunResult,
  RunStatus,
} from './results.js';
export { describeError, executeRun, type ExecuteRunOptions } from './run.js';
export { decodeCheckpoint, encodeCheckpoint, type RunCheckpoint } from './run-state.js';
export {
  DATASET_NAMES,
  defaultArmName,
  expandRuns,
  INITIALIZER_CHOICES,
  presetPixelScale,
  resolveExperimentSpec,
  type ArmSpec,
  type AuxActivation,
  type AuxNetSpec,
  type AuxNormalization,
  type DatasetSpec,
  type EvaluationSpec,
  type ExperimentSpec,
  type InitializerChoice,
  type LimitsSpec,
  type ModelSpec,
  type OptimizerKind,
  type OptimizerSpec,
  type OutputsSpec,
  type PixelScaleName,
  type PresetName,
  type PretrainingSpec,
  type ResolvedArm,
  type ResolvedDataset,
  type ResolvedEvaluation,
  type ResolvedExperimentSpec,
  type ResolvedOptimizer,
  type ResolvedPretraining,
  type ResolvedTraining,
  type RunSpec,
  type SnapshotSelection,
  type TrainingSpec,
  type TsneSpec,
  type WalshOrderingName,
} from './spec.js';
export {
  evaluate,
  train,
  type EvaluateOptions,
  type TrainOptions,
  type TrainOutcome,
  type TrainState,
} from './train.js';
