import { ArtifactKind, type RegisterWorkerRequest } from '@supwalsh/proto';
import type { Principal } from '@supwalsh/security';
import type { CoordinatorContext } from './context.js';
import { InvalidArgumentError, PermissionDeniedError, WrongStateError } from './errors.js';
import type { ArtifactRecord, RunRecord, WorkerRecord } from './store.js';

/**
 * What a worker principal may do with worker ids, runs and checkpoints (ARCHITECTURE.md invariant 6). A worker id
 * is bound to the principal that registered it (`workers.principal`); only that principal may heartbeat,
 * deregister, report and upload under it, and only for the run and generation the id holds. Workers sharing one
 * credential share one principal: give each its own token or certificate to keep them apart.
 */

/** Whether the worker's lease is live: registered with a lease (not voided by a restart) and heard from in time. */
function hasLiveLease(
  ctx: CoordinatorContext,
  worker: { leaseId: string; state: string; lastHeartbeat: number }
): boolean {
  return (
    worker.leaseId !== '' && worker.state !== 'LOST' && ctx.clock() - worker.lastHeartbeat <= ctx.settings.leaseTtlMs
  );
}

/**
 * Refuses (FAILED_PRECONDITION) a RegisterWorker for an id whose live lease belongs to another instance or another
 * principal: a second process cannot take over a running worker's id (and its run) until that lease ends.
 */
export function checkRegistration(ctx: CoordinatorContext, principal: Principal, request: RegisterWorkerRequest): void {
  const info = request.worker;
  if (!info) return; // registerWorker says it is required
  const existing = ctx.store.getWorker(info.workerId);
  if (!existing || !hasLiveLease(ctx, existing)) return;
  const otherPrincipal =
    existing.principal !== undefined && existing.principal !== '' && existing.principal !== principal.name;
  if (existing.instanceId !== info.instanceId || otherPrincipal) {
    throw new WrongStateError(
      'worker',
      info.workerId,
      existing.state,
      `worker id ${info.workerId} holds a live lease of another ${otherPrincipal ? 'principal' : 'instance'}; it can register again once that lease ends (${ctx.settings.leaseTtlMs} ms without heartbeat) or the worker deregisters`
    );
  }
}

/** Records that `principal` registered `workerId` (after a successful RegisterWorker). */
export function bindWorker(ctx: CoordinatorContext, principal: Principal, workerId: string): void {
  ctx.store.updateWorker(workerId, { principal: principal.name });
}

/** Refuses (PERMISSION_DENIED) a call under `workerId` from a principal other than the one that registered it. */
export function requireWorkerOwnership(ctx: CoordinatorContext, principal: Principal, workerId: string): void {
  checkOwner(ctx.store.getWorker(workerId), principal, workerId);
}

/**
 * {@link requireWorkerOwnership}, then refuses a report or upload under `workerId` from a process other than the
 * instance registered under that id (FAILED_PRECONDITION, so that a replaced or zombie process's shard stops,
 * PROTOCOL.md step 7); an empty `instanceId` is INVALID_ARGUMENT. A principal's processes are thereby kept apart
 * too, not only principals.
 */
export function requireWorkerInstance(
  ctx: CoordinatorContext,
  principal: Principal,
  workerId: string,
  instanceId: string
): void {
  const worker = ctx.store.getWorker(workerId);
  checkOwner(worker, principal, workerId);
  if (instanceId === '') {
    throw new InvalidArgumentError('instance_id', "is required: the reporting worker process's instance id");
  }
  if (!worker || worker.instanceId === instanceId) return;
  throw new WrongStateError(
    'worker',
    workerId,
    worker.state,
    `worker ${workerId} is now instance ${worker.instanceId}; instance ${instanceId} may no longer report or upload for it`
  );
}

function checkOwner(worker: WorkerRecord | undefined, principal: Principal, workerId: string): void {
  if (!worker || !worker.principal || worker.principal === principal.name) return;
  throw new PermissionDeniedError(
    principal.name,
    `worker ${workerId} was registered by another principal; ${principal.name} may only act for the workers it registered`
  );
}

/**
 * Refuses (PERMISSION_DENIED) an upload for rank `rank` of `run`'s `generation` unless the worker holding that rank
 * in the current generation was registered by `principal`, and (FAILED_PRECONDITION) unless the upload comes from
 * that worker's registered instance. Unknown runs and stale generations are left to the upload itself (NOT_FOUND,
 * FAILED_PRECONDITION).
 */
export function requireRunHolder(
  ctx: CoordinatorContext,
  principal: Principal,
  run: RunRecord,
  header: { generation: number; rank: number; instanceId: string }
): void {
  if (header.generation !== run.generation) return;
  const workerId = run.workerIds[header.rank];
  if (workerId === undefined) return;
  requireWorkerInstance(ctx, principal, workerId, header.instanceId);
}

/**
 * Whether a worker principal may download `artifact`: a CHECKPOINT of a run whose current ring holds a worker it
 * registered (the ring resumes from it).
 */
export function canWorkerReadArtifact(
  ctx: CoordinatorContext,
  principal: Principal,
  artifact: ArtifactRecord
): boolean {
  if (artifact.kind !== ArtifactKind.ARTIFACT_KIND_CHECKPOINT || !artifact.runId) return false;
  const run = ctx.store.getRun(artifact.runId);
  if (!run || (run.state !== 'RUNNING' && run.state !== 'REFORMING' && run.state !== 'QUEUED')) return false;
  return run.workerIds.some((id) => ctx.store.getWorker(id)?.principal === principal.name);
}
