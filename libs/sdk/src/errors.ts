import { Metadata, status } from '@grpc/grpc-js';

/**
 * Base of every error the SDK throws; `instanceof SupWalshError` catches them all. Thrown as itself for the
 * statuses without a class of their own (UNKNOWN, ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, DATA_LOSS).
 */
export class SupWalshError extends Error {
  override readonly name: string = 'SupWalshError';
  /** The gRPC status code (`status.UNAVAILABLE`, … from `@grpc/grpc-js`). */
  readonly code: status;
  /** The status details: the coordinator's message for a person, without the code prefix. */
  readonly details: string;
  /** Trailing metadata of the failed call; empty for errors raised by the SDK itself. */
  readonly metadata: Metadata;
  /**
   * On an error a `watch` ended with: the sequence of the last event it yielded (0: none), so that
   * `watch(id, { afterSequence: error.lastSequence })` resumes exactly after it. Undefined on other errors.
   */
  lastSequence: number | undefined;

  constructor(code: status, details: string, options: { cause?: unknown; metadata?: Metadata } = {}) {
    super(
      `${status[code] ?? `STATUS_${code}`}: ${details}`,
      options.cause === undefined ? undefined : { cause: options.cause }
    );
    this.code = code;
    this.details = details;
    this.metadata = options.metadata ?? new Metadata();
  }
}

/**
 * Thrown when the coordinator rejected a request as invalid (INVALID_ARGUMENT), e.g. a spec with a value out of
 * range, or when the SDK itself rejects an option. Nothing was stored (invariant 5).
 */
export class InvalidArgumentError extends SupWalshError {
  override readonly name: string = 'InvalidArgumentError';
  /**
   * The offending field path when the message starts with one (`training.optimizer.learning_rate`,
   * `datasets[0].root`, `page_size`), else undefined.
   */
  readonly field: string | undefined;

  constructor(details: string, options: { cause?: unknown; metadata?: Metadata; field?: string } = {}) {
    super(status.INVALID_ARGUMENT, details, options);
    this.field = options.field ?? parseFieldPath(details);
  }
}

/** Thrown when the experiment or artifact does not exist (NOT_FOUND); a deleted checkpoint too. */
export class NotFoundError extends SupWalshError {
  override readonly name: string = 'NotFoundError';
  constructor(details: string, options: { cause?: unknown; metadata?: Metadata } = {}) {
    super(status.NOT_FOUND, details, options);
  }
}

/** Thrown when a submission's request_id was already used with a different spec (ALREADY_EXISTS). */
export class AlreadyExistsError extends SupWalshError {
  override readonly name: string = 'AlreadyExistsError';
  constructor(details: string, options: { cause?: unknown; metadata?: Metadata } = {}) {
    super(status.ALREADY_EXISTS, details, options);
  }
}

/**
 * Thrown when the request does not fit the current state (FAILED_PRECONDITION), e.g. cancelling an experiment
 * that already SUCCEEDED, or calling a method on a closed client.
 */
export class FailedPreconditionError extends SupWalshError {
  override readonly name: string = 'FailedPreconditionError';
  constructor(details: string, options: { cause?: unknown; metadata?: Metadata } = {}) {
    super(status.FAILED_PRECONDITION, details, options);
  }
}

/** Thrown when the coordinator's queue or storage is full (RESOURCE_EXHAUSTED) after every retry. */
export class ResourceExhaustedError extends SupWalshError {
  override readonly name: string = 'ResourceExhaustedError';
  constructor(details: string, options: { cause?: unknown; metadata?: Metadata } = {}) {
    super(status.RESOURCE_EXHAUSTED, details, options);
  }
}

/**
 * Thrown when the coordinator requires a token and the call had none or an invalid one (UNAUTHENTICATED), or
 * when the `token` function of the client options failed.
 */
export class UnauthenticatedError extends SupWalshError {
  override readonly name: string = 'UnauthenticatedError';
  constructor(details: string, options: { cause?: unknown; metadata?: Metadata } = {}) {
    super(status.UNAUTHENTICATED, details, options);
  }
}

/** Thrown when the token may not do what was asked (PERMISSION_DENIED). */
export class PermissionDeniedError extends SupWalshError {
  override readonly name: string = 'PermissionDeniedError';
  constructor(details: string, options: { cause?: unknown; metadata?: Metadata } = {}) {
    super(status.PERMISSION_DENIED, details, options);
  }
}

/**
 * Thrown when the coordinator could not be reached, or was draining, on every attempt (UNAVAILABLE): the retries
 * are spent (`retry.maxAttempts`).
 */
export class UnavailableError extends SupWalshError {
  override readonly name: string = 'UnavailableError';
  constructor(details: string, options: { cause?: unknown; metadata?: Metadata } = {}) {
    super(status.UNAVAILABLE, details, options);
  }
}

/**
 * Thrown when a call's deadline passed (DEADLINE_EXCEEDED): a unary call took longer than its deadline, or a
 * stream delivered nothing for its idle deadline on every attempt. Not retried: the coordinator may still be
 * working on the request.
 */
export class DeadlineExceededError extends SupWalshError {
  override readonly name: string = 'DeadlineExceededError';
  constructor(details: string, options: { cause?: unknown; metadata?: Metadata } = {}) {
    super(status.DEADLINE_EXCEEDED, details, options);
  }
}

/** Thrown when a call was cancelled (CANCELLED): by the caller's `AbortSignal` (then `cause` is its reason). */
export class CancelledError extends SupWalshError {
  override readonly name: string = 'CancelledError';
  constructor(details: string, options: { cause?: unknown; metadata?: Metadata } = {}) {
    super(status.CANCELLED, details, options);
  }
}

/**
 * Thrown when a downloaded artifact does not match its ArtifactInfo (code DATA_LOSS): another SHA-256 or size,
 * chunks that are not contiguous, or an artifact that changed between resumed attempts. A file download deletes
 * its partial file first.
 */
export class ArtifactIntegrityError extends SupWalshError {
  override readonly name: string = 'ArtifactIntegrityError';
  constructor(
    /** The artifact downloaded. */
    readonly artifactId: string,
    /** What did not match, in words, e.g. `sha256`, `size`, `offset`. */
    readonly check: string,
    /** The value the coordinator announced. */
    readonly expected: string,
    /** The value received. */
    readonly actual: string
  ) {
    super(status.DATA_LOSS, `artifact ${artifactId}: ${check} mismatch: expected ${expected}, got ${actual}`);
  }
}

/** A proto field path: `name`, `training.optimizer.learning_rate`, `datasets[0].root`, `labels["team"]`. */
const FIELD_PATH =
  /^([A-Za-z_][A-Za-z0-9_]*(?:\[[^\]\s]*\])*(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]\s]*\])*)*)(:?)(?:\s+(\S+)|$)/;
/** Words that follow a bare, one-word field name in the coordinator's messages (`name must be …`). */
const FIELD_VERBS = new Set(['must', 'is', 'are', 'has', 'have', 'should', 'cannot', 'out', 'exceeds', 'not', 'was']);

/**
 * The field path an INVALID_ARGUMENT message starts with, or undefined. A dotted, indexed or snake_case path, or
 * one followed by `:`, always counts; a single plain word only when a verb follows (`name must be …`), so that
 * `unknown state …` names no field.
 */
function parseFieldPath(details: string): string | undefined {
  const match = FIELD_PATH.exec(details.trim());
  if (!match) return undefined;
  const [, path = '', colon, next] = match;
  if (colon || /[._[]/.test(path) || /[a-z][A-Z]/.test(path)) return path;
  return next !== undefined && FIELD_VERBS.has(next) ? path : undefined;
}

function isServiceError(error: unknown): error is { code: number; details: string; metadata?: unknown } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'number' &&
    typeof (error as { details?: unknown }).details === 'string'
  );
}

/**
 * Turns anything caught into a {@link SupWalshError}: a grpc-js `ServiceError` into the class of its status, a
 * SupWalshError into itself, anything else into a SupWalshError with status UNKNOWN and the original as `cause`.
 */
export function toSupWalshError(error: unknown): SupWalshError {
  if (error instanceof SupWalshError) return error;
  if (!isServiceError(error)) {
    const details = error instanceof Error ? error.message : String(error);
    return new SupWalshError(status.UNKNOWN, details, { cause: error });
  }
  const metadata = error.metadata instanceof Metadata ? error.metadata : undefined;
  const options = { cause: error, metadata };
  const { details } = error;
  switch (error.code as status) {
    case status.INVALID_ARGUMENT:
      return new InvalidArgumentError(details, options);
    case status.NOT_FOUND:
      return new NotFoundError(details, options);
    case status.ALREADY_EXISTS:
      return new AlreadyExistsError(details, options);
    case status.FAILED_PRECONDITION:
      return new FailedPreconditionError(details, options);
    case status.RESOURCE_EXHAUSTED:
      return new ResourceExhaustedError(details, options);
    case status.UNAUTHENTICATED:
      return new UnauthenticatedError(details, options);
    case status.PERMISSION_DENIED:
      return new PermissionDeniedError(details, options);
    case status.UNAVAILABLE:
      return new UnavailableError(details, options);
    case status.DEADLINE_EXCEEDED:
      return new DeadlineExceededError(details, options);
    case status.CANCELLED:
      return new CancelledError(details, options);
    default:
      return new SupWalshError(error.code, details, options);
  }
}
