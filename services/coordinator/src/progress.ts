import {
  ArtifactKind,
  LogLevel,
  Phase,
  ShardFailure,
  ShardState,
  type ReportProgressRequest,
  type ReportProgressResponse,
  type ShardReport,
} from '@supwalsh/proto';
import { newEffects, type CoordinatorContext, type Effects } from './context.js';
import { InvalidArgumentError, NotFoundError, StaleGenerationError, WrongStateError } from './errors.js';
import { emit, endRun, reformRun, releaseWorker } from './lifecycle.js';
import { isActiveRunState, shardFailureName, type ShardEndName } from './states.js';
import type { RunRecord, ShardReportRecord } from './store.js';

/** Most reports per ReportProgress call (coordinator.proto). */
export const MAX_REPORTS_PER_CALL = 1000;
/** Longest LogMessage.message kept; longer ones are truncated (event.proto). */
export const MAX_LOG_MESSAGE_CHARS = 4096;
/** Name of the run record rank 0 uploads as RESULTS_JSON (PROTOCOL.md step 7). */
export const RUN_RESULT_NAME = 'run-result.json';

const SHARD_ENDS: ReadonlyMap<ShardState, ShardEndName> = new Map([
  [ShardState.SHARD_STATE_SUCCEEDED, 'SUCCEEDED'],
  [ShardState.SHARD_STATE_FAILED, 'FAILED'],
  [ShardState.SHARD_STATE_ABORTED, 'ABORTED'],
]);

function validateRequest(request: ReportProgressRequest): void {
  if (!request.runId) throw new InvalidArgumentError('run_id', 'run_id is required');
  if (!request.workerId) throw new InvalidArgumentError('worker_id', 'worker_id is required');
  const n = request.reports.length;
  if (n < 1 || n > MAX_REPORTS_PER_CALL) {
    throw new InvalidArgumentError('reports', `reports must hold 1 to ${MAX_REPORTS_PER_CALL} entries, got ${n}`);
  }
  let previous = 0;
  request.reports.forEach((report, i) => {
    if (!Number.isSafeInteger(report.sequence) || report.sequence <= previous) {
      throw new InvalidArgumentError(
        `reports[${i}].sequence`,
        `reports[${i}].sequence must be greater than ${previous} (sequence numbers increase from 1), got ${report.sequence}`
      );
    }
    previous = report.sequence;
    if (!report.payload) throw new InvalidArgumentError(`reports[${i}].payload`, `reports[${i}] carries no payload`);
  });
}

type Outcome =
  { readonly kind: 'stored'; readonly acked: number } | { readonly kind: 'ended'; readonly run: RunRecord };

/**
 * ReportProgress (PROTOCOL.md step 7): stores each new report of a shard once and in sequence order, as events
 * numbered per experiment, keeps the run's phase, progress, metrics and pretraining summary current, and ends the
 * run when its shards have finished (step 9). Reports at or below the stored sequence are acknowledged and
 * ignored (a resent batch); a gap stops storing at it, so the worker resends from there.
 */
export function reportProgress(ctx: CoordinatorContext, request: ReportProgressRequest): ReportProgressResponse {
  validateRequest(request);
  const { store } = ctx;
  const effects = newEffects();
  const outcome = store.transaction((): Outcome => {
    const run = store.getRun(request.runId);
    if (!run) throw new NotFoundError('run', request.runId);
    if (request.generation !== run.generation) {
      throw new StaleGenerationError(run.id, request.generation, run.generation);
    }
    const shard: ShardReportRecord = store.getShardReport(run.id, run.generation, request.rank) ?? {
      runId: run.id,
      generation: run.generation,
      rank: request.rank,
      workerId: request.workerId,
      lastSequence: 0,
      finishedState: null,
      failure: 0,
      message: '',
    };
    const fresh = request.reports.filter((r) => r.sequence > shard.lastSequence);
    if (fresh.length === 0) return { kind: 'stored', acked: shard.lastSequence };
    if (!isActiveRunState(run.state)) {
      // The run ended or went back to the queue: the shard must stop. Its end still frees the worker.
      if (fresh.some((r) => r.payload?.$case === 'shardFinished')) releaseWorker(ctx, request.workerId, run.id);
      return { kind: 'ended', run };
    }
    if (request.rank >= run.worldSize || run.workerIds[request.rank] !== request.workerId) {
      throw new WrongStateError(
        'run',
        run.id,
        run.state,
        `worker ${request.workerId} is not rank ${request.rank} of run ${run.id} generation ${run.generation}`
      );
    }
    let current = run;
    let record = shard;
    for (const report of fresh) {
      if (report.sequence !== record.lastSequence + 1) {
        ctx.logger.warn('gap in shard reports; waiting for the missing ones', {
          runId: run.id,
          rank: request.rank,
          expected: record.lastSequence + 1,
          got: report.sequence,
        });
        break;
      }
      const applied = applyReport(ctx, current, record, request, report);
      current = applied.run;
      record = applied.record;
    }
    store.putShardReport(record);
    if (record.finishedState !== null && shard.finishedState === null) finishShard(ctx, effects, current, record);
    return { kind: 'stored', acked: record.lastSequence };
  });
  ctx.apply(effects);
  if (outcome.kind === 'ended') {
    throw new WrongStateError(
      'run',
      outcome.run.id,
      outcome.run.state,
      `run ${outcome.run.id} is ${outcome.run.state}, no longer running generation ${request.generation}: the shard must stop`
    );
  }
  return { ackedSequence: outcome.acked };
}

/** Order of the phases within a run: a report of an earlier phase than the run's is a replay. */
const PHASE_ORDER: ReadonlyMap<Phase, number> = new Map([
  [Phase.PHASE_UNSPECIFIED, 0],
  [Phase.PHASE_PREPARING, 1],
  [Phase.PHASE_PRETRAINING, 2],
  [Phase.PHASE_EVALUATING, 3],
  [Phase.PHASE_TRAINING, 4],
]);
const phaseOrder = (phase: Phase): number => PHASE_ORDER.get(phase) ?? 0;

/**
 * Whether rank 0's report repeats what an earlier generation of the run already reported (PROTOCOL.md step 11):
 * a re-formed ring resumes from the latest checkpoint and reports again the steps, phases and epochs between that
 * checkpoint and the break. Those are dropped so that every metric is stored exactly once — the first time.
 */
function isReplay(ctx: CoordinatorContext, run: RunRecord, payload: NonNullable<ShardReport['payload']>): boolean {
  switch (payload.$case) {
    case 'phaseChanged': {
      const [next, current] = [phaseOrder(payload.value.phase), phaseOrder(run.phase)];
      return next < current || (next === current && run.restarts > 0);
    }
    case 'stepProgress': {
      const stored = run.progress;
      if (!stored) return false;
      const [next, current] = [phaseOrder(payload.value.phase), phaseOrder(stored.phase)];
      return next < current || (next === current && payload.value.step <= stored.step);
    }
    case 'epochMetrics':
      return ctx.store
        .listRunMetrics(run.id)
        .some((m) => m.phase === payload.value.phase && m.epoch === payload.value.epoch);
    default:
      return false;
  }
}

/** Stores one report as its event and updates the run; returns the run and shard record after it. */
function applyReport(
  ctx: CoordinatorContext,
  run: RunRecord,
  record: ShardReportRecord,
  request: ReportProgressRequest,
  report: ShardReport
): { run: RunRecord; record: ShardReportRecord } {
  const { store } = ctx;
  const time = report.time?.getTime() ?? ctx.clock();
  const next = { ...record, lastSequence: report.sequence };
  const payload = report.payload;
  if (!payload) return { run, record: next };
  // Only rank 0 reports the run's phases, progress and metrics; other ranks' copies are acknowledged and dropped.
  const rankZeroOnly =
    payload.$case === 'phaseChanged' || payload.$case === 'stepProgress' || payload.$case === 'epochMetrics';
  if (rankZeroOnly && request.rank !== 0) return { run, record: next };
  if (isReplay(ctx, run, payload)) return { run, record: next };
  switch (payload.$case) {
    case 'phaseChanged': {
      emit(ctx, run.experimentId, run.id, payload, time);
      const pretraining = payload.value.pretraining ?? run.pretraining;
      store.updateRun(run.id, { phase: payload.value.phase, pretraining });
      return { run: { ...run, phase: payload.value.phase, pretraining }, record: next };
    }
    case 'stepProgress':
      emit(ctx, run.experimentId, run.id, payload, time);
      store.updateRun(run.id, { progress: payload.value });
      return { run: { ...run, progress: payload.value }, record: next };
    case 'epochMetrics':
      emit(ctx, run.experimentId, run.id, payload, time);
      store.appendRunMetrics(run.id, payload.value);
      return { run, record: next };
    case 'log': {
      const message = payload.value.message;
      emit(
        ctx,
        run.experimentId,
        run.id,
        {
          $case: 'log',
          value: {
            ...payload.value,
            message: message.length > MAX_LOG_MESSAGE_CHARS ? message.slice(0, MAX_LOG_MESSAGE_CHARS) : message,
            workerId: payload.value.workerId || request.workerId,
            rank: payload.value.rank ?? request.rank,
          },
        },
        time
      );
      return { run, record: next };
    }
    case 'shardFinished': {
      const finished = SHARD_ENDS.get(payload.value.state) ?? 'FAILED';
      if (finished !== 'SUCCEEDED') {
        const failure = shardFailureName(payload.value.failure);
        emit(
          ctx,
          run.experimentId,
          run.id,
          {
            $case: 'log',
            value: {
              level: finished === 'FAILED' ? LogLevel.LOG_LEVEL_ERROR : LogLevel.LOG_LEVEL_WARNING,
              message: `rank ${request.rank} (${request.workerId}) ${finished.toLowerCase()}${
                finished === 'FAILED' ? ` (${failure})` : ''
              }: ${payload.value.message || 'no reason given'}`.slice(0, MAX_LOG_MESSAGE_CHARS),
              code: finished === 'FAILED' ? 'SHARD_FAILED' : 'SHARD_ABORTED',
              workerId: request.workerId,
              rank: request.rank,
            },
          },
          time
        );
      }
      return {
        run,
        record: { ...next, finishedState: finished, failure: payload.value.failure, message: payload.value.message },
      };
    }
  }
}

/**
 * A shard of the run's current generation finished (PROTOCOL.md steps 9 and 11): a rank that lost its neighbour
 * (PEER_LOST) or was aborted (a hand-over) breaks the ring and the run re-forms; any other failure fails the run and
 * aborts the other ranks; once every rank succeeded and rank 0's run-result.json is stored, the run succeeded. A
 * rank that finished before the others (or after its ring broke) is released at once.
 */
function finishShard(ctx: CoordinatorContext, effects: Effects, run: RunRecord, record: ShardReportRecord): void {
  const { store } = ctx;
  const describe = (s: ShardReportRecord) =>
    `rank ${s.rank} (${s.workerId}) ${s.finishedState?.toLowerCase()}${
      s.finishedState === 'FAILED' ? ` (${shardFailureName(s.failure)})` : ''
    }: ${s.message || 'no reason given'}`;
  const breaksRing = (s: ShardReportRecord) =>
    s.finishedState === 'ABORTED' ||
    (s.finishedState === 'FAILED' && s.failure === ShardFailure.SHARD_FAILURE_PEER_LOST);
  if (record.finishedState === 'FAILED' && !breaksRing(record)) {
    // Its own error (data, memory, a non-finite loss, a bug): another ring would meet it again.
    endRun(ctx, effects, run, 'FAILED', describe(record));
    return;
  }
  if (run.state === 'REFORMING') {
    releaseWorker(ctx, record.workerId, run.id);
    effects.schedule = true; // the run may re-form on it now
    return;
  }
  if (breaksRing(record)) {
    // A draining member (Kubernetes eviction, an upgrade) handed the run over; its neighbours saw PEER_LOST.
    const draining = run.workerIds.some((id) => store.getWorker(id)?.state === 'DRAINING');
    reformRun(ctx, effects, run, describe(record), draining ? 'hand-over' : 'failure');
    return;
  }
  const shards = store.listShardReports(run.id, run.generation);
  const succeeded = shards.filter((s) => s.finishedState === 'SUCCEEDED').length;
  if (succeeded < run.worldSize) {
    releaseWorker(ctx, record.workerId, run.id);
    return;
  }
  const result = store.findArtifact(run.experimentId, run.id, ArtifactKind.ARTIFACT_KIND_RESULTS_JSON, RUN_RESULT_NAME);
  if (result) endRun(ctx, effects, run, 'SUCCEEDED', '');
  else endRun(ctx, effects, run, 'FAILED', `every rank finished but rank 0 stored no ${RUN_RESULT_NAME}`);
}
