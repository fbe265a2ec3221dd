import { status, type ServiceError } from '@grpc/grpc-js';

/** Base class of the worker's own errors. */
export class WorkerError extends Error {
  override readonly name: string = 'WorkerError';
}

/**
 * Thrown when `createWorkerServer` or the command line gets a bad argument: names the function, the argument and
 * what is allowed.
 */
export class WorkerArgumentError extends WorkerError {
  override readonly name = 'WorkerArgumentError';
  constructor(
    readonly fn: string,
    readonly argument: string,
    message: string
  ) {
    super(`${fn}: ${argument} ${message}`);
  }
}

/**
 * Thrown when a `StartShard` or `AbortShard` request is invalid (PROTOCOL.md step 6): `field` is its proto field
 * path (`rank`, `peers[1].address`, `run.training.epochs`) and the message starts with it. INVALID_ARGUMENT.
 */
export class ShardRequestError extends WorkerError {
  override readonly name = 'ShardRequestError';
  constructor(
    readonly field: string,
    message: string,
    options?: { cause: unknown }
  ) {
    super(`${field} ${message}`, options);
  }
}

/**
 * Thrown when a `StartShard` arrives while this worker runs a shard of another run (capacity 1), or the request's
 * generation is older than the run's shard here (PROTOCOL.md step 6). FAILED_PRECONDITION.
 */
export class WorkerBusyError extends WorkerError {
  override readonly name = 'WorkerBusyError';
  constructor(
    readonly runId: string,
    readonly generation: number,
    readonly busyWith: { readonly runId: string; readonly generation: number },
    message: string
  ) {
    super(message);
  }
}

/** Thrown when a run asks for a backend other than the one this worker initialized. FAILED_PRECONDITION. */
export class BackendMismatchError extends WorkerError {
  override readonly name = 'BackendMismatchError';
  constructor(
    readonly runId: string,
    readonly requested: string,
    readonly available: string
  ) {
    super(`run ${runId} needs backend ${requested}; this worker runs ${available}`);
  }
}

/** Thrown when a `StartShard` arrives while the worker drains (PROTOCOL.md step 4). UNAVAILABLE. */
export class WorkerDrainingError extends WorkerError {
  override readonly name = 'WorkerDrainingError';
  constructor(readonly workerId: string) {
    super(`worker ${workerId} is draining and accepts no new shards`);
  }
}

/**
 * Thrown when the coordinator rejects a shard's report or upload as stale (FAILED_PRECONDITION: another generation
 * of the run is current, or the run has ended; NOT_FOUND: the run is unknown). The shard must stop (step 7).
 */
export class StaleShardError extends WorkerError {
  override readonly name = 'StaleShardError';
  constructor(
    readonly runId: string,
    readonly generation: number,
    message: string,
    options?: { cause: unknown }
  ) {
    super(message, options);
  }
}

/** Thrown when an artifact upload fails for good (after its retries, or with a status retrying cannot fix). */
export class ArtifactUploadError extends WorkerError {
  override readonly name = 'ArtifactUploadError';
  constructor(
    readonly runId: string,
    readonly artifact: string,
    message: string,
    options?: { cause: unknown }
  ) {
    super(`uploading ${artifact} of run ${runId}: ${message}`, options);
  }
}

/** Thrown when a shard's `resume_from` checkpoint cannot be downloaded, verified or decoded (SHARD_FAILURE_CHECKPOINT). */
export class CheckpointFetchError extends WorkerError {
  override readonly name = 'CheckpointFetchError';
  constructor(
    readonly runId: string,
    readonly artifactId: string,
    message: string,
    options?: { cause: unknown }
  ) {
    super(`checkpoint ${artifactId} of run ${runId} ${message}`, options);
  }
}

/** Any thrown value as an `Error` (catch variables are `unknown`). */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)));
}

/** Whether a value is a grpc-js `ServiceError` (a failed call's error, with its status `code`). */
export function isServiceError(value: unknown): value is ServiceError {
  return value instanceof Error && typeof (value as Partial<ServiceError>).code === 'number' && 'metadata' in value;
}

/** A gRPC status for a server handler: `code` and `details`. */
export interface GrpcStatus {
  readonly code: status;
  readonly details: string;
}

/**
 * The one place the worker maps its errors to gRPC statuses (STYLE.md "Errors"): validation → INVALID_ARGUMENT,
 * wrong state → FAILED_PRECONDITION, draining → UNAVAILABLE, anything else → INTERNAL.
 */
export function toGrpcStatus(error: unknown): GrpcStatus {
  const e = toError(error);
  if (e instanceof ShardRequestError || e instanceof WorkerArgumentError) {
    return { code: status.INVALID_ARGUMENT, details: e.message };
  }
  if (e instanceof WorkerBusyError || e instanceof BackendMismatchError || e instanceof StaleShardError) {
    return { code: status.FAILED_PRECONDITION, details: e.message };
  }
  if (e instanceof WorkerDrainingError) return { code: status.UNAVAILABLE, details: e.message };
  return { code: status.INTERNAL, details: `${e.name}: ${e.message}` };
}
