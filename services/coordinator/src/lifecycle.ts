import { Phase, WorkersChange, type ExperimentEvent } from '@supwalsh/proto';
import type { CoordinatorContext, Effects } from './context.js';
import {
  experimentStateToProto,
  isActiveRunState,
  isTerminalExperimentState,
  isTerminalRunState,
  phaseName,
  runStateToProto,
  type ExperimentStateName,
  type RunStateName,
} from './states.js';
import type { ExperimentRecord, RunPatch, RunRecord, WorkerRecord } from './store.js';

/**
 * State transitions shared by the RPCs and the scheduler. Each runs inside the caller's store transaction, stores
 * the change and its event together, and records in `effects` what must happen after the commit.
 */

type EventPayload = NonNullable<ExperimentEvent['payload']>;

/** Appends one event (sequence numbered by the store) to an experiment's stream. */
export function emit(
  ctx: CoordinatorContext,
  experimentId: string,
  runId: string,
  payload: EventPayload,
  time = ctx.clock()
): ExperimentEvent {
  return ctx.store.appendEvent(experimentId, runId, payload, time);
}

/** Moves an experiment to `state` with its ExperimentStateChanged event; terminal states also set end_time. */
export function setExperimentState(
  ctx: CoordinatorContext,
  experiment: ExperimentRecord,
  state: ExperimentStateName,
  message = ''
): void {
  const now = ctx.clock();
  ctx.store.updateExperiment(experiment.id, {
    state,
    ...(state === 'RUNNING' && experiment.startTime === null ? { startTime: now } : {}),
    ...(isTerminalExperimentState(state) ? { endTime: now, statusMessage: message } : {}),
  });
  emit(ctx, experiment.id, '', {
    $case: 'experimentStateChanged',
    value: {
      state: experimentStateToProto(state),
      previousState: experimentStateToProto(experiment.state),
      message,
    },
  });
}

/** Moves a run to `state` with its RunStateChanged event. `patch` holds the other columns that change with it. */
export function setRunState(
  ctx: CoordinatorContext,
  run: RunRecord,
  state: RunStateName,
  message: string,
  patch: RunPatch = {}
): RunRecord {
  ctx.store.updateRun(run.id, { ...patch, state, statusMessage: message });
  const updated = { ...run, ...patch, state, statusMessage: message } as RunRecord;
  emit(ctx, run.experimentId, run.id, {
    $case: 'runStateChanged',
    value: {
      state: runStateToProto(state),
      previousState: runStateToProto(run.state),
      message,
      worldSize: isActiveRunState(state) ? updated.worldSize : 0,
      generation: updated.generation,
      restarts: updated.restarts,
    },
  });
  return updated;
}

/**
 * Releases a worker from `runId` once its shard of it has stopped: back to IDLE (a LOST or DRAINING worker keeps
 * its state). No-op when the worker is no longer assigned to that run.
 */
export function releaseWorker(ctx: CoordinatorContext, workerId: string, runId: string): void {
  const worker = ctx.store.getWorker(workerId);
  if (!worker || worker.assignedRunId !== runId) return;
  ctx.store.updateWorker(workerId, {
    assignedRunId: null,
    state: worker.state === 'BUSY' ? 'IDLE' : worker.state,
  });
}

/**
 * Ends a run (PROTOCOL.md steps 9 and 10): stores the terminal state and its event, stops its ring, and queues the
 * experiment's completion once every run has ended.
 */
export function endRun(
  ctx: CoordinatorContext,
  effects: Effects,
  run: RunRecord,
  state: 'SUCCEEDED' | 'FAILED' | 'CANCELLED',
  message: string
): void {
  if (isTerminalRunState(run.state)) return;
  const hadRing = isActiveRunState(run.state);
  setRunState(ctx, run, state, message, { endTime: ctx.clock(), phase: Phase.PHASE_UNSPECIFIED });
  if (hadRing) stopRing(ctx, run, effects, `run ${run.id} ${state.toLowerCase()}${message ? `: ${message}` : ''}`);
  effects.schedule = true;
  queueCompletionIfDone(ctx, effects, run.experimentId);
}

/**
 * Stops the ring of `run`'s current generation (step 8): releases the workers whose shard has finished (or that are
 * LOST), and asks the others to abort; they stay BUSY until their shard is gone.
 */
function stopRing(ctx: CoordinatorContext, run: RunRecord, effects: Effects, reason: string): void {
  const finished = new Set(
    ctx.store
      .listShardReports(run.id, run.generation)
      .filter((r) => r.finishedState !== null)
      .map((r) => r.rank)
  );
  run.workerIds.forEach((workerId, rank) => {
    const worker = ctx.store.getWorker(workerId);
    if (!worker || worker.assignedRunId !== run.id) return;
    if (finished.has(rank) || worker.state === 'LOST') {
      releaseWorker(ctx, workerId, run.id);
      return;
    }
    effects.aborts.push({ workerId, address: worker.address, runId: run.id, generation: run.generation, reason });
  });
}

/**
 * The ring of a RUNNING run broke (a worker left, a rank lost its neighbour, a draining worker handed its shard over:
 * PROTOCOL.md step 11): the run goes REFORMING and its ring is stopped; the scheduler forms a new generation from the
 * free workers, resuming from the run's latest checkpoint (or its start), as soon as `min_workers` are free. A run
 * that broke more than `limits.max_run_restarts` times FAILED instead. A hand-over by a draining worker (Kubernetes
 * eviction, a rolling upgrade) is not a failure and does not count against the limit.
 */
export function reformRun(
  ctx: CoordinatorContext,
  effects: Effects,
  run: RunRecord,
  reason: string,
  cause: 'failure' | 'hand-over' = 'failure'
): void {
  if (run.state !== 'RUNNING') return;
  const experiment = ctx.store.requireExperiment(run.experimentId);
  const { maxRunRestarts } = experiment.settings.limits;
  const failures = run.failures + (cause === 'failure' ? 1 : 0);
  if (failures > maxRunRestarts) {
    endRun(
      ctx,
      effects,
      run,
      'FAILED',
      `${reason}; the ring broke ${failures} times (limits.max_run_restarts = ${maxRunRestarts})`
    );
    return;
  }
  const checkpoint = run.latestCheckpoint;
  const from = checkpoint
    ? `its checkpoint at ${phaseName(checkpoint.phase).toLowerCase()} step ${checkpoint.step}`
    : 'its start (no checkpoint yet)';
  const { minWorkers } = experiment.settings.workers;
  const message = `${reason}; re-forming with at least ${minWorkers} free worker${minWorkers === 1 ? '' : 's'}, resuming from ${from}`;
  const reforming = setRunState(ctx, run, 'REFORMING', message, { restarts: run.restarts + 1, failures });
  ctx.logger.warn('run re-forming', { runId: run.id, generation: run.generation, reason, cause });
  stopRing(ctx, reforming, effects, `run ${run.id} is re-forming: ${reason}`);
  effects.reformed.push({ runId: run.id, cause });
  effects.schedule = true;
}

/** Queues step 10 for an unfinished experiment whose runs have all ended. */
export function queueCompletionIfDone(ctx: CoordinatorContext, effects: Effects, experimentId: string): void {
  const experiment = ctx.store.getExperiment(experimentId);
  if (!experiment || isTerminalExperimentState(experiment.state)) return;
  const counts = ctx.store.countRuns(experimentId);
  if (counts.QUEUED + counts.RUNNING + counts.REFORMING === 0) effects.completions.add(experimentId);
}

/**
 * A worker left (lost its lease, deregistered, or re-registered as a new instance) while holding a shard
 * (PROTOCOL.md steps 1, 3, 4, 9, 11): its run loses the worker (WorkersChanged WORKER_LEFT) and re-forms without it;
 * a worker that was draining handed its shard over.
 */
export function workerLeft(ctx: CoordinatorContext, effects: Effects, worker: WorkerRecord, reason: string): void {
  const runId = worker.assignedRunId;
  if (!runId) return;
  const run = ctx.store.getRun(runId);
  // The departed worker's shard is gone: release it first, so that stopping the ring does not try to abort it.
  releaseWorker(ctx, worker.workerId, runId);
  if (!run || !isActiveRunState(run.state) || !run.workerIds.includes(worker.workerId)) return;
  const remaining = run.workerIds.filter((id) => id !== worker.workerId);
  emit(ctx, run.experimentId, run.id, {
    $case: 'workersChanged',
    value: {
      change: WorkersChange.WORKERS_CHANGE_WORKER_LEFT,
      workerId: worker.workerId,
      worldSize: remaining.length,
      generation: run.generation,
      workerIds: remaining,
      reason,
    },
  });
  const cause = worker.state === 'DRAINING' ? 'hand-over' : 'failure';
  reformRun(ctx, effects, run, `worker ${worker.workerId} left the ring: ${reason}`, cause);
}
