/**
 * @supwalsh/sdk — the client SDK for the supwalsh coordinator: {@link SupWalshClient} submits experiment specs
 * (`ExperimentSpec` messages of `@supwalsh/proto`), lists, watches and cancels experiments, waits for them to
 * finish and downloads their artifacts over gRPC. Every call has a deadline and carries the bearer token, if any;
 * UNAVAILABLE, RESOURCE_EXHAUSTED and ABORTED are retried with exponential backoff and jitter (submissions keep
 * their request_id, so a retry never stores a duplicate); watch and download streams resume where they broke
 * off; failures reach the caller as typed errors ({@link SupWalshError} and its subclasses).
 *
 * @example
 * ```ts
 * import { ExperimentSpec } from '@supwalsh/proto';
 * import { createSupWalshClient } from '@supwalsh/sdk';
 *
 * const client = createSupWalshClient(); // SUPWALSH_COORDINATOR or 127.0.0.1:50051
 * const experiment = await client.submit(ExperimentSpec.fromPartial({ name: 'quick', arms: [{}] }));
 * const done = await client.waitForCompletion(experiment.id);
 * client.close();
 * ```
 * @module
 */
export {
  COORDINATOR_ADDRESS_ENV,
  DEFAULT_COORDINATOR_ADDRESS,
  DEFAULT_DEADLINES,
  DEFAULT_RETRY,
  type DeadlineOptions,
  type RetryOptions,
  type SupWalshClientOptions,
  type SupWalshLogger,
  type TlsFileOptions,
} from './client-options.js';
export {
  AlreadyExistsError,
  ArtifactIntegrityError,
  CancelledError,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  SupWalshError,
  toSupWalshError,
  UnauthenticatedError,
  UnavailableError,
} from './errors.js';
export {
  createSupWalshClient,
  type DownloadOptions,
  type DownloadToFileOptions,
  type ExperimentPage,
  isTerminalState,
  type ListOptions,
  type SubmitOptions,
  SupWalshClient,
  type WaitForCompletionOptions,
  type WatchOptions,
} from './supwalsh-client.js';
