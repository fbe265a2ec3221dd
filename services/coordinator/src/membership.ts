import {
  Backend,
  ShardState,
  WorkerInfo,
  type AbortShardRequest,
  type DeregisterWorkerRequest,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type ListWorkersRequest,
  type RegisterWorkerRequest,
  type RegisterWorkerResponse,
  type ShardStatus,
} from '@supwalsh/proto';
import { newEffects, type CoordinatorContext } from './context.js';
import { InvalidArgumentError, NotFoundError, WrongStateError } from './errors.js';
import { newLeaseId } from './ids.js';
import { workerLeft } from './lifecycle.js';
import { workerToProto } from './proto-mapping.js';
import { isActiveRunState, workerStateFromProto, type WorkerStateName } from './states.js';
import type { WorkerRecord } from './store.js';

/** Software version of this coordinator; workers must share its major (and, below 1.0, its minor) version. */
export const COORDINATOR_VERSION = '0.1.0';

const WORKER_ID = /^[A-Za-z0-9._-]{1,128}$/;
const LABEL_KEY = /^[a-z0-9._/-]{1,63}$/;
const WORKER_BACKENDS = new Set<Backend>([Backend.BACKEND_TENSORFLOW, Backend.BACKEND_WASM, Backend.BACKEND_CPU]);

/** A shard still holding its worker (not yet succeeded, failed or aborted). */
export function isActiveShard(shard: ShardStatus): boolean {
  return (
    shard.state === ShardState.SHARD_STATE_STARTING ||
    shard.state === ShardState.SHARD_STATE_RENDEZVOUS ||
    shard.state === ShardState.SHARD_STATE_RUNNING
  );
}

function requireWorkerId(field: string, workerId: string): void {
  if (!WORKER_ID.test(workerId)) {
    throw new InvalidArgumentError(
      field,
      `${field} must be 1–128 characters from [A-Za-z0-9._-], got ${JSON.stringify(workerId)}`
    );
  }
}

/**
 * Splits the shards a worker must abort into the two lists of its answer (PROTOCOL.md step 8): every one by run and
 * generation (`abort_shards`), and the runs none of whose shards on the worker may go on (`abort_run_ids`, for
 * workers that only read run ids — they abort every generation of a run listed there). `memberOf` is the run whose
 * current ring holds the worker: its shard of that generation may go on even where `active` does not list it yet.
 */
export function abortLists(
  active: readonly ShardStatus[],
  unwanted: readonly ShardStatus[],
  reason: string,
  memberOf: string | null = null
): { abortRunIds: string[]; abortShards: AbortShardRequest[] } {
  const abortShards = unwanted.map((s) => ({ runId: s.runId, generation: s.generation, reason }));
  const kept = new Set(active.filter((s) => !unwanted.includes(s)).map((s) => s.runId));
  if (memberOf) kept.add(memberOf);
  const abortRunIds = [...new Set(unwanted.map((s) => s.runId))].filter((runId) => !kept.has(runId));
  return { abortRunIds, abortShards };
}

/** Whether a worker of version `version` may join this coordinator (same major; same minor below 1.0). */
export function isCompatibleVersion(version: string): boolean {
  const theirs = /^(\d+)\.(\d+)\./.exec(version);
  const ours = /^(\d+)\.(\d+)\./.exec(COORDINATOR_VERSION);
  if (!theirs || !ours) return false;
  return theirs[1] === ours[1] && (ours[1] !== '0' || theirs[2] === ours[2]);
}

function validateWorkerInfo(info: WorkerInfo): void {
  requireWorkerId('worker.worker_id', info.workerId);
  const port = Number(info.address.slice(info.address.lastIndexOf(':') + 1));
  const host = info.address.slice(0, Math.max(0, info.address.lastIndexOf(':')));
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535 || /\s/.test(info.address)) {
    throw new InvalidArgumentError(
      'worker.address',
      `worker.address must be "host:port" with a port from 1 to 65535, got ${JSON.stringify(info.address)}`
    );
  }
  if (!WORKER_BACKENDS.has(info.backend)) {
    throw new InvalidArgumentError(
      'worker.backend',
      `worker.backend must be BACKEND_TENSORFLOW, BACKEND_WASM or BACKEND_CPU (the one it initialized), got ${info.backend}`
    );
  }
  if (!Number.isInteger(info.capacity) || info.capacity < 1 || info.capacity > 64) {
    throw new InvalidArgumentError('worker.capacity', `worker.capacity must be from 1 to 64, got ${info.capacity}`);
  }
  if (!info.instanceId || info.instanceId.length > 128) {
    throw new InvalidArgumentError('worker.instance_id', 'worker.instance_id must be 1–128 characters');
  }
  if (!info.version) throw new InvalidArgumentError('worker.version', 'worker.version is required, e.g. "0.1.0"');
  const labels = Object.entries(info.labels);
  if (labels.length > 32) throw new InvalidArgumentError('worker.labels', 'worker.labels must have at most 32 entries');
  for (const [key, value] of labels) {
    if (!LABEL_KEY.test(key) || value.length > 256) {
      throw new InvalidArgumentError(
        'worker.labels',
        `worker.labels keys must be 1–63 characters from [a-z0-9._-/] with values up to 256 characters, got ${JSON.stringify(key)}`
      );
    }
  }
}

/**
 * RegisterWorker (PROTOCOL.md step 1): stores the worker IDLE with a new lease. A known worker_id with a new
 * instance_id is a restarted worker: the old instance's shard is lost (step 9). The same instance registering
 * again (after a coordinator restart or an expired lease) keeps its shard if it still runs the run's current
 * generation. Shards it reports that must not go on are listed in `abort_run_ids`.
 */
export function registerWorker(ctx: CoordinatorContext, request: RegisterWorkerRequest): RegisterWorkerResponse {
  const info = request.worker;
  if (!info) throw new InvalidArgumentError('worker', 'worker is required');
  validateWorkerInfo(info);
  if (!isCompatibleVersion(info.version)) {
    throw new WrongStateError(
      'worker',
      info.workerId,
      info.version,
      `worker version ${info.version} is incompatible with coordinator version ${COORDINATOR_VERSION}`
    );
  }
  const { store } = ctx;
  const effects = newEffects();
  const leaseId = newLeaseId();
  const aborts = store.transaction(() => {
    const now = ctx.clock();
    const existing = store.getWorker(info.workerId);
    let keepRunId: string | null = null;
    let keepGeneration = 0;
    if (existing) {
      const run = existing.assignedRunId ? store.getRun(existing.assignedRunId) : undefined;
      const stillRuns =
        existing.instanceId === info.instanceId &&
        existing.state !== 'LOST' &&
        run !== undefined &&
        run.state === 'RUNNING' &&
        run.workerIds.includes(info.workerId) &&
        info.shards.some((s) => s.runId === run.id && s.generation === run.generation && isActiveShard(s));
      if (stillRuns) {
        keepRunId = run.id;
        keepGeneration = run.generation;
      } else {
        workerLeft(
          ctx,
          effects,
          existing,
          existing.instanceId === info.instanceId
            ? 'the worker registered again without its shard'
            : `the worker restarted (instance ${existing.instanceId} replaced by ${info.instanceId})`
        );
      }
    }
    const draining = workerStateFromProto(info.state) === 'DRAINING';
    const active = info.shards.filter(isActiveShard);
    const unwanted = active.filter((s) => !(s.runId === keepRunId && s.generation === keepGeneration));
    // A worker that comes back still running a shard it must abort (paused past its lease, say) stays BUSY and
    // assigned to that run until a heartbeat shows the shard stopped: the run's next generation must not start
    // on it meanwhile, and while it was the broken ring's rank 0 the run waits for its last reports (step 11).
    const stopping = unwanted[0]?.runId ?? null;
    const state: WorkerStateName = draining ? 'DRAINING' : keepRunId || stopping ? 'BUSY' : 'IDLE';
    store.putWorker({
      workerId: info.workerId,
      instanceId: info.instanceId,
      leaseId,
      address: info.address,
      info: WorkerInfo.fromPartial({ ...info, registerTime: undefined, lastHeartbeatTime: undefined }),
      state,
      assignedRunId: keepRunId ?? stopping,
      registerTime: now,
      lastHeartbeat: now,
    });
    effects.schedule = true;
    return abortLists(active, unwanted, 'the run has ended or moved on to another generation');
  });
  ctx.apply(effects);
  ctx.logger.info('worker registered', { workerId: info.workerId, address: info.address, instanceId: info.instanceId });
  return {
    leaseId,
    heartbeatIntervalMs: ctx.settings.heartbeatIntervalMs,
    leaseTtlMs: ctx.settings.leaseTtlMs,
    coordinatorInstanceId: ctx.instanceId,
    ...aborts,
  };
}

/** The worker holding `leaseId`, or NOT_FOUND (unknown worker, other lease, or LOST): it must register again. */
function requireLease(ctx: CoordinatorContext, workerId: string, leaseId: string): WorkerRecord {
  const worker = ctx.store.getWorker(workerId);
  if (!worker || !leaseId || worker.leaseId !== leaseId || worker.state === 'LOST') {
    throw new NotFoundError(
      'worker',
      workerId,
      worker?.state === 'LOST' ? 'its lease expired; register again' : 'unknown worker or lease; register again'
    );
  }
  return worker;
}

/**
 * Heartbeat (PROTOCOL.md step 2): renews the lease, records the worker's shards, releases it from a run that has
 * ended once its shard no longer runs, and lists the shards it must abort (step 8's fallback).
 */
export function heartbeat(ctx: CoordinatorContext, request: HeartbeatRequest): HeartbeatResponse {
  requireWorkerId('worker_id', request.workerId);
  if (!request.leaseId) throw new InvalidArgumentError('lease_id', 'lease_id is required');
  const { store } = ctx;
  const effects = newEffects();
  const aborts = store.transaction(() => {
    const worker = requireLease(ctx, request.workerId, request.leaseId);
    const active = request.shards.filter(isActiveShard);
    // Step 8, by generation: a stale shard is aborted, a newer generation of the same run on this worker goes on.
    const unwanted = active.filter((shard) => {
      const run = store.getRun(shard.runId);
      return !(
        run !== undefined &&
        run.state === 'RUNNING' &&
        run.generation === shard.generation &&
        run.workerIds[shard.rank] === worker.workerId &&
        worker.assignedRunId === run.id
      );
    });
    let assigned = worker.assignedRunId;
    let memberOf: string | null = null;
    if (assigned) {
      const run = store.getRun(assigned);
      const member = run !== undefined && run.state === 'RUNNING' && run.workerIds.includes(worker.workerId);
      if (member) memberOf = assigned;
      else if (!active.some((s) => s.runId === assigned)) assigned = null;
    }
    const reported = workerStateFromProto(request.state);
    // A worker still running any shard is BUSY, whatever it says: no new shard starts beside one being stopped.
    const state: WorkerStateName =
      reported === 'DRAINING' ? 'DRAINING' : assigned || active.length > 0 || reported === 'BUSY' ? 'BUSY' : 'IDLE';
    if (state === 'IDLE' && worker.state !== 'IDLE') effects.schedule = true;
    store.updateWorker(worker.workerId, {
      state,
      assignedRunId: assigned,
      lastHeartbeat: ctx.clock(),
      info: WorkerInfo.fromPartial({ ...worker.info, state: request.state, shards: request.shards }),
    });
    // A worker just given the run's next generation may still report only the one before (its lease keeper
    // repeats the shards of the main thread's last heartbeat, sent before StartShard): that stale shard is aborted
    // by its generation, but the run is not listed in abort_run_ids, which would abort the new shard too.
    return abortLists(active, unwanted, 'the run has ended or moved on to another generation', memberOf);
  });
  ctx.apply(effects);
  return {
    heartbeatIntervalMs: ctx.settings.heartbeatIntervalMs,
    leaseTtlMs: ctx.settings.leaseTtlMs,
    ...aborts,
  };
}

/**
 * DeregisterWorker (PROTOCOL.md step 4): forgets the worker; a shard it still held is lost (its run re-forms:
 * a hand-over when the worker was draining).
 * Idempotent; a stale lease (the worker registered again since) is ignored.
 */
export function deregisterWorker(ctx: CoordinatorContext, request: DeregisterWorkerRequest): void {
  requireWorkerId('worker_id', request.workerId);
  if (!request.leaseId) throw new InvalidArgumentError('lease_id', 'lease_id is required');
  const effects = newEffects();
  ctx.store.transaction(() => {
    const worker = ctx.store.getWorker(request.workerId);
    if (!worker || worker.leaseId !== request.leaseId) return;
    workerLeft(ctx, effects, worker, `deregistered${request.reason ? `: ${request.reason}` : ''}`);
    ctx.store.deleteWorker(worker.workerId);
  });
  ctx.apply(effects);
  ctx.logger.info('worker deregistered', { workerId: request.workerId, reason: request.reason });
}

/** ListWorkers: by worker_id, optionally filtered by state. */
export function listWorkers(ctx: CoordinatorContext, request: ListWorkersRequest): WorkerInfo[] {
  const states = request.states.map((s) => {
    const name = workerStateFromProto(s);
    if (!name) throw new InvalidArgumentError('states', `states must hold WORKER_STATE_IDLE … LOST, got ${s}`);
    return name;
  });
  return ctx.store.listWorkers(states).map(workerToProto);
}

/**
 * Lease expiry (PROTOCOL.md step 3): a worker whose last heartbeat is older than the lease is LOST and its run
 * re-forms without it (step 11); LOST workers are forgotten after `forgetLostWorkersAfterMs`.
 */
export function expireLeases(ctx: CoordinatorContext): void {
  const { store, settings } = ctx;
  const now = ctx.clock();
  const effects = newEffects();
  store.transaction(() => {
    for (const worker of store.listWorkers(['IDLE', 'BUSY', 'DRAINING'])) {
      const silentMs = now - worker.lastHeartbeat;
      if (silentMs <= settings.leaseTtlMs) continue;
      store.updateWorker(worker.workerId, { state: 'LOST' });
      const reason = `no heartbeat for ${(silentMs / 1000).toFixed(1)} s (lease ${settings.leaseTtlMs / 1000} s)`;
      ctx.logger.warn('worker lost', { workerId: worker.workerId, reason });
      workerLeft(ctx, effects, { ...worker, state: 'LOST' }, reason);
    }
    for (const worker of store.listWorkers(['LOST'])) {
      if (now - worker.lastHeartbeat > settings.forgetLostWorkersAfterMs && !worker.assignedRunId) {
        store.deleteWorker(worker.workerId);
        continue;
      }
      // A LOST worker's shards as last reported are kept only while their run is still at that generation and
      // active: once the run moves on (re-formed, ended) ListWorkers must not show them as still running.
      const shards = worker.info.shards.filter((s) => {
        const run = store.getRun(s.runId);
        return run !== undefined && isActiveRunState(run.state) && run.generation === s.generation;
      });
      if (shards.length !== worker.info.shards.length) {
        store.updateWorker(worker.workerId, { info: WorkerInfo.fromPartial({ ...worker.info, shards }) });
      }
    }
  });
  ctx.apply(effects);
}

/**
 * Start-up after a coordinator restart: the leases granted by the previous process are void (a worker's next
 * heartbeat gets NOT_FOUND and it registers again, reporting its shards: step 2), and every worker gets
 * `restartGraceMs` plus one lease length from now to do so before it is LOST (step 3) — its reconnect backoff may
 * have grown while the coordinator was away.
 */
export function voidPreviousLeases(ctx: CoordinatorContext): void {
  const until = ctx.clock() + ctx.settings.restartGraceMs;
  ctx.store.transaction(() => {
    for (const worker of ctx.store.listWorkers(['IDLE', 'BUSY', 'DRAINING'])) {
      ctx.store.updateWorker(worker.workerId, { leaseId: '', lastHeartbeat: until });
    }
  });
}
