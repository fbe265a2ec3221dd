import { ArtifactKind, Backend, ExperimentState, Phase, RunState, ShardFailure, WorkerState } from '@supwalsh/proto';

/**
 * Lifecycle of an experiment (experiment.proto, ExperimentState):
 * - `QUEUED`: stored, no run started yet;
 * - `RUNNING`: at least one run started, not every run ended (or the report is being written);
 * - `SUCCEEDED`: every run succeeded and the experiment's artifacts are stored;
 * - `FAILED`: every run ended and one failed, an experiment limit expired, or the report could not be written;
 * - `CANCELLED`: cancelled by CancelExperiment.
 */
export type ExperimentStateName = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/**
 * Lifecycle of a run (experiment.proto, RunState):
 * - `QUEUED`: waiting for free workers (or its experiment's turn);
 * - `RUNNING`: its shards run on a formed ring;
 * - `REFORMING`: waiting to re-form after losing a worker (issue 7; never entered in issue 6);
 * - `SUCCEEDED`, `FAILED`, `CANCELLED`: ended.
 */
export type RunStateName = 'QUEUED' | 'RUNNING' | 'REFORMING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/**
 * A worker as the coordinator sees it (worker.proto, WorkerState):
 * - `IDLE`: registered, live, running nothing: the scheduler may give it a shard;
 * - `BUSY`: running (or still stopping) a shard;
 * - `DRAINING`: shutting down, takes no new shard;
 * - `LOST`: its lease expired (PROTOCOL.md step 3); takes nothing until it registers again.
 */
export type WorkerStateName = 'IDLE' | 'BUSY' | 'DRAINING' | 'LOST';

/** How a shard ended (ShardFinished.state). */
export type ShardEndName = 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export const EXPERIMENT_STATES: readonly ExperimentStateName[] = [
  'QUEUED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
];
export const RUN_STATES: readonly RunStateName[] = [
  'QUEUED',
  'RUNNING',
  'REFORMING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
];
export const WORKER_STATES: readonly WorkerStateName[] = ['IDLE', 'BUSY', 'DRAINING', 'LOST'];

export function isTerminalExperimentState(state: ExperimentStateName): boolean {
  return state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED';
}

export function isTerminalRunState(state: RunStateName): boolean {
  return state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED';
}

/** A run whose ring exists (or is re-forming): it holds its workers. */
export function isActiveRunState(state: RunStateName): boolean {
  return state === 'RUNNING' || state === 'REFORMING';
}

/** A ts-proto enum object: names to numbers and back. */
type ProtoEnum = Record<string, string | number>;

function toProto(values: ProtoEnum, prefix: string, name: string): number {
  const value = values[`${prefix}${name}`];
  if (typeof value !== 'number') throw new Error(`no ${prefix}${name} in the proto enum`);
  return value;
}

function fromProto(values: ProtoEnum, prefix: string, value: number): string | undefined {
  const name = values[value];
  return typeof name === 'string' && name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
}

export const experimentStateToProto = (name: ExperimentStateName): ExperimentState =>
  toProto(ExperimentState, 'EXPERIMENT_STATE_', name);
/** The short name of a proto ExperimentState; undefined for UNSPECIFIED and unknown values. */
export function experimentStateFromProto(value: ExperimentState): ExperimentStateName | undefined {
  const name = fromProto(ExperimentState, 'EXPERIMENT_STATE_', value);
  return EXPERIMENT_STATES.find((s) => s === name);
}

export const runStateToProto = (name: RunStateName): RunState => toProto(RunState, 'RUN_STATE_', name);
/** The short name of a proto RunState; undefined for UNSPECIFIED and unknown values. */
export function runStateFromProto(value: RunState): RunStateName | undefined {
  const name = fromProto(RunState, 'RUN_STATE_', value);
  return RUN_STATES.find((s) => s === name);
}

export const workerStateToProto = (name: WorkerStateName): WorkerState => toProto(WorkerState, 'WORKER_STATE_', name);
/** The short name of a proto WorkerState; undefined for UNSPECIFIED and unknown values. */
export function workerStateFromProto(value: WorkerState): WorkerStateName | undefined {
  const name = fromProto(WorkerState, 'WORKER_STATE_', value);
  return WORKER_STATES.find((s) => s === name);
}

/** Enum columns stored by short name (`TRAINING`, `WASM`, `CHECKPOINT`, `OUT_OF_MEMORY`; `UNSPECIFIED` for 0). */
export const phaseName = (value: Phase): string => fromProto(Phase, 'PHASE_', value) ?? 'UNSPECIFIED';
export const phaseValue = (name: string): Phase => toProto(Phase, 'PHASE_', name);
export const backendName = (value: Backend): string => fromProto(Backend, 'BACKEND_', value) ?? 'UNSPECIFIED';
export const backendValue = (name: string): Backend => toProto(Backend, 'BACKEND_', name);
export const artifactKindName = (value: ArtifactKind): string =>
  fromProto(ArtifactKind, 'ARTIFACT_KIND_', value) ?? 'UNSPECIFIED';
export const artifactKindValue = (name: string): ArtifactKind => toProto(ArtifactKind, 'ARTIFACT_KIND_', name);
export const shardFailureName = (value: ShardFailure): string =>
  fromProto(ShardFailure, 'SHARD_FAILURE_', value) ?? 'UNSPECIFIED';
export const shardFailureValue = (name: string): ShardFailure => toProto(ShardFailure, 'SHARD_FAILURE_', name);
