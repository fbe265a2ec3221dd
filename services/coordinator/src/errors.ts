import { Metadata, status, type ServerErrorResponse } from '@grpc/grpc-js';
import { SpecValidationError } from '@supwalsh/wire';

/** Base of every error the coordinator throws on purpose; `instanceof CoordinatorError` catches them all. */
export abstract class CoordinatorError extends Error {}

/**
 * Thrown when a request field is missing or out of range (a bad worker id, an artifact name that would leave its
 * directory, a size or SHA-256 that does not match the content, …). The message starts with the field path and
 * says what is allowed. Spec fields are reported by `@supwalsh/wire`'s `SpecValidationError` instead.
 */
export class InvalidArgumentError extends CoordinatorError {
  override readonly name = 'InvalidArgumentError';
  constructor(
    /** Request field path in proto snake_case, e.g. `header.sha256`, `page_size`. */
    readonly field: string,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message.startsWith(field) ? message : `${field} ${message}`, options);
  }
}

/** What a {@link NotFoundError} did not find. */
export type ResourceKind = 'experiment' | 'run' | 'artifact' | 'worker';

/** Thrown when an id names no stored experiment, run, artifact (or a deleted one) or registered worker/lease. */
export class NotFoundError extends CoordinatorError {
  override readonly name = 'NotFoundError';
  constructor(
    readonly resource: ResourceKind,
    readonly id: string,
    detail = ''
  ) {
    super(`${resource} ${JSON.stringify(id)} not found${detail ? `: ${detail}` : ''}`);
  }
}

/**
 * Thrown when a request is valid but the thing it acts on is in the wrong state: cancelling a finished experiment,
 * a progress report or upload for a run that has ended or is not running, a worker whose version is incompatible.
 */
export class WrongStateError extends CoordinatorError {
  override readonly name = 'WrongStateError';
  constructor(
    readonly resource: ResourceKind,
    readonly id: string,
    /** The state it is in (`SUCCEEDED`, `QUEUED`, …). */
    readonly state: string,
    message: string
  ) {
    super(message);
  }
}

/**
 * Thrown when a shard reports or uploads for a ring generation that is not its run's current one (PROTOCOL.md
 * step 7): the shard must stop.
 */
export class StaleGenerationError extends CoordinatorError {
  override readonly name = 'StaleGenerationError';
  constructor(
    readonly runId: string,
    readonly generation: number,
    readonly currentGeneration: number
  ) {
    super(
      `run ${runId} is at generation ${currentGeneration}, not ${generation}: the shard of generation ${generation} must stop`
    );
  }
}

/** Thrown when a SubmitExperiment request_id was already used with a different spec. */
export class RequestConflictError extends CoordinatorError {
  override readonly name = 'RequestConflictError';
  constructor(
    readonly requestId: string,
    /** The experiment stored under that request_id; '' when it belongs to another principal (not shown). */
    readonly experimentId: string
  ) {
    super(
      experimentId
        ? `request_id ${JSON.stringify(requestId)} was already used for experiment ${experimentId} with a different spec`
        : `request_id ${JSON.stringify(requestId)} was already used by another principal; choose another`
    );
  }
}

/** Thrown when the queue of unfinished experiments is full (`maxActiveExperiments`). */
export class QueueFullError extends CoordinatorError {
  override readonly name = 'QueueFullError';
  constructor(readonly limit: number) {
    super(`the coordinator already holds ${limit} queued or running experiments; retry once some have finished`);
  }
}

/**
 * Thrown when a configured limit is reached: queued experiments (`--max-queued-experiments`), watches of one
 * experiment (`--max-watchers-per-experiment`). The message gives the number and the flag.
 */
export class LimitExceededError extends CoordinatorError {
  override readonly name = 'LimitExceededError';
  constructor(
    /** The flag of the limit (`--max-queued-experiments`). */
    readonly limitFlag: string,
    readonly limit: number,
    message: string
  ) {
    super(message);
  }
}

/** Thrown when the artifact store has no room left (ENOSPC, EDQUOT). */
export class StorageFullError extends CoordinatorError {
  override readonly name = 'StorageFullError';
  constructor(
    readonly path: string,
    options: { cause: unknown }
  ) {
    super(`no space left to store ${path}`, options);
  }
}

/**
 * Thrown when a stored artifact's file no longer matches the size and SHA-256 recorded at upload (truncated,
 * overwritten, rotted): GetArtifact ends its stream with DATA_LOSS rather than OK. The message names the artifact,
 * never a server path.
 */
export class DataLossError extends CoordinatorError {
  override readonly name = 'DataLossError';
  constructor(
    readonly artifactId: string,
    message: string
  ) {
    super(message);
  }
}

/** What is wrong with a store the coordinator refuses to open (see {@link StoreIntegrityError}). */
export type StoreProblem = 'damaged' | 'empty-beside-artifacts' | 'unknown-schema' | 'newer-schema';

/**
 * Thrown by `openStore` when the database cannot be trusted: SQLite's `quick_check` finds damage (or the file is
 * not a database at all), it is empty or missing while the artifacts directory holds experiments (their records
 * are gone), or its schema is not one this coordinator wrote. The coordinator refuses to start (exit 2); the
 * message names the file and what to do (restore a backup: deploy/README.md).
 */
export class StoreIntegrityError extends CoordinatorError {
  override readonly name = 'StoreIntegrityError';
  constructor(
    /** The database file. */
    readonly file: string,
    readonly problem: StoreProblem,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message, options);
  }
}

/** Thrown for every request once the coordinator has started shutting down. */
export class DrainingError extends CoordinatorError {
  override readonly name = 'DrainingError';
  constructor() {
    super('the coordinator is shutting down; retry against its replacement');
  }
}

/** Normalises anything thrown into an Error (catch variables are `unknown`). */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** True for a grpc-js `ServiceError`-like object (a client call's failure). */
export function isServiceError(value: unknown): value is Error & { code: status; details: string } {
  return value instanceof Error && typeof (value as { code?: unknown }).code === 'number' && 'details' in value;
}

/**
 * The one place where coordinator errors become gRPC statuses (STYLE.md, Errors): validation →
 * INVALID_ARGUMENT, unknown id → NOT_FOUND, wrong state or stale generation → FAILED_PRECONDITION, full queue or
 * disk → RESOURCE_EXHAUSTED, draining → UNAVAILABLE, a reused request_id → ALREADY_EXISTS, an artifact whose
 * file no longer matches its checksum → DATA_LOSS, anything else →
 * INTERNAL (with its message, for the operator's logs).
 */
export function toServiceError(error: unknown): ServerErrorResponse {
  const e = toError(error);
  let code: status;
  if (e instanceof SpecValidationError || e instanceof InvalidArgumentError) code = status.INVALID_ARGUMENT;
  else if (e instanceof NotFoundError) code = status.NOT_FOUND;
  else if (e instanceof WrongStateError || e instanceof StaleGenerationError) code = status.FAILED_PRECONDITION;
  else if (e instanceof QueueFullError || e instanceof StorageFullError || e instanceof LimitExceededError) {
    code = status.RESOURCE_EXHAUSTED;
  } else if (e instanceof DrainingError) code = status.UNAVAILABLE;
  else if (e instanceof RequestConflictError) code = status.ALREADY_EXISTS;
  else if (e instanceof DataLossError) code = status.DATA_LOSS;
  else if (e instanceof PermissionDeniedError) code = status.PERMISSION_DENIED;
  else code = status.INTERNAL;
  const details = code === status.INTERNAL ? `internal error: ${e.message}` : e.message;
  return { name: e.name, message: details, code, details, metadata: new Metadata() };
}

/**
 * Thrown when an authenticated principal may not do what it asked (ARCHITECTURE.md invariant 6): its role does not
 * allow the method, the experiment belongs to another principal, or a worker reports for a run it does not hold.
 */
export class PermissionDeniedError extends CoordinatorError {
  override readonly name = 'PermissionDeniedError';
  constructor(
    /** The principal's name. */
    readonly principal: string,
    message: string
  ) {
    super(message);
  }
}

/** Thrown when a command-line flag or `SUPWALSH_*` environment variable of the coordinator is invalid. */
export class ConfigError extends CoordinatorError {
  override readonly name = 'ConfigError';
  constructor(
    /** The flag (`--lease-ttl-ms`) or variable (`SUPWALSH_LEASE_TTL_MS`). */
    readonly option: string,
    message: string
  ) {
    super(`${option} ${message}`);
  }
}
