import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { type CallOptions, type ClientUnaryCall, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import {
  type ArtifactInfo,
  checkEncodable,
  CoordinatorClient,
  type Experiment,
  type ExperimentEvent,
  ExperimentState,
  ExperimentSpec,
  GetArtifactRequest,
  type GetArtifactResponse,
  type MessageCodec,
  WatchExperimentRequest,
  WireNumberError,
  type LogLevel,
  type WatchExperimentResponse,
} from '@supwalsh/proto';
import { checkBearerToken, TokenError } from '@supwalsh/security';
import { createTracingClientInterceptor } from '@supwalsh/telemetry/grpc';
import {
  type ResolvedClientOptions,
  resolveClientOptions,
  type SupWalshClientOptions,
  type SupWalshLogger,
} from './client-options.js';
import {
  ArtifactIntegrityError,
  FailedPreconditionError,
  InvalidArgumentError,
  SupWalshError,
  toSupWalshError,
  UnauthenticatedError,
} from './errors.js';
import { resumableStream } from './resumable-stream.js';
import { Backoff, withRetries } from './retry.js';

/** Options of {@link SupWalshClient.submit}. */
export interface SubmitOptions {
  /**
   * Idempotency key, 1–128 characters from `[A-Za-z0-9._-]`: a retry with the same key and spec returns the
   * experiment stored the first time. Give your own to make a submission safe across process restarts.
   * @default crypto.randomUUID() (one per `submit` call, reused by its retries; none with `validateOnly`)
   */
  requestId?: string;
  /**
   * Only validate and resolve the spec: nothing is stored or run; the returned experiment has an empty id,
   * state UNSPECIFIED, and its resolved spec, runs and deviations filled in.
   * @default false
   */
  validateOnly?: boolean;
}

/** Filters and paging of {@link SupWalshClient.list} and {@link SupWalshClient.listAll}. */
export interface ListOptions {
  /** Only experiments in one of these states. @default [] (any state) */
  states?: ExperimentState[];
  /** Only experiments whose spec carries all these labels (exact match). @default {} */
  labelSelector?: Record<string, string>;
  /** Only experiments whose name starts with this (case-sensitive). @default '' */
  namePrefix?: string;
  /** Most experiments per page, 0–500; 0 lets the coordinator choose (50). @default 0 */
  pageSize?: number;
  /** `nextPageToken` of the previous page, with the same filters. @default '' (first page) */
  pageToken?: string;
}

/** One page of {@link SupWalshClient.list}. */
export interface ExperimentPage {
  /** Newest first, without their runs (`runCounts` is set). */
  experiments: Experiment[];
  /** Token of the next page; `''` on the last page. */
  nextPageToken: string;
}

/** Options of {@link SupWalshClient.watch}. */
export interface WatchOptions {
  /** Only events after this sequence number: the last one seen, to continue an earlier watch. @default 0 */
  afterSequence?: number;
  /** Only events of these runs (and experiment-level events). @default [] (all runs) */
  runIds?: string[];
  /** Leave out StepProgress events. @default false */
  omitStepProgress?: boolean;
  /** Leave out log events below this level. @default LogLevel.LOG_LEVEL_UNSPECIFIED (every log event) */
  minLogLevel?: LogLevel;
  /** End after the stored events instead of following new ones. @default false */
  replayOnly?: boolean;
  /** Cancels the watch: the iteration then throws CancelledError. */
  signal?: AbortSignal;
}

/** Options of {@link SupWalshClient.waitForCompletion}. */
export interface WaitForCompletionOptions {
  /**
   * Called with every event, in order, before the next is read; a returned promise is awaited, a throw ends the
   * wait with that error. Without it the wait asks for no StepProgress and starts at the current event.
   */
  onEvent?: (event: ExperimentEvent) => void | Promise<void>;
  /** With `onEvent`: only events after this sequence number. @default 0 (the experiment's whole history) */
  afterSequence?: number;
  /** With `onEvent`: leave out StepProgress events. @default false */
  omitStepProgress?: boolean;
  /** Cancels the wait: it then rejects with CancelledError. */
  signal?: AbortSignal;
}

/** Options of {@link SupWalshClient.downloadArtifact}. */
export interface DownloadOptions {
  /** Byte offset to start from. The SHA-256 is checked only when it is 0. @default 0 */
  offset?: number;
  /** Most bytes per message, 0–4000000; 0 lets the coordinator choose (1 MiB). @default 0 */
  chunkBytes?: number;
  /** Cancels the download: the iteration then throws CancelledError. */
  signal?: AbortSignal;
}

/** Options of {@link SupWalshClient.downloadArtifactToFile}. */
export type DownloadToFileOptions = Omit<DownloadOptions, 'offset'>;

/** Whether an experiment state is terminal (SUCCEEDED, FAILED or CANCELLED): it never changes again. */
export function isTerminalState(state: ExperimentState): boolean {
  return (
    state === ExperimentState.EXPERIMENT_STATE_SUCCEEDED ||
    state === ExperimentState.EXPERIMENT_STATE_FAILED ||
    state === ExperimentState.EXPERIMENT_STATE_CANCELLED
  );
}

type UnaryMethod<Req, Res> = (
  this: CoordinatorClient,
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void
) => ClientUnaryCall;

const USER_AGENT = 'supwalsh-sdk';

/**
 * The coordinator's client rpcs as promises and async iterables, with deadlines, retries and typed errors
 * (see errors.ts). Every call carries the bearer token, if any; every attempt has its own deadline; UNAVAILABLE,
 * RESOURCE_EXHAUSTED and ABORTED are retried with exponential backoff (submissions keep their request_id, so a
 * retry never stores a duplicate); streams resume where they broke off instead of starting again.
 *
 * @example
 * ```ts
 * const client = new SupWalshClient({ address: 'coordinator:50051' });
 * const experiment = await client.submit(ExperimentSpec.fromPartial({ name: 'quick', … }));
 * const done = await client.waitForCompletion(experiment.id, { onEvent: (e) => console.log(e.payload?.$case) });
 * client.close();
 * ```
 */
export class SupWalshClient {
  /** The coordinator address the client connects to. */
  readonly address: string;
  readonly #options: ResolvedClientOptions;
  readonly #token: SupWalshClientOptions['token'];
  readonly #logger: SupWalshLogger | undefined;
  readonly #client: CoordinatorClient;
  #closed = false;

  /** Creates the channel (it connects on the first call). Throws InvalidArgumentError for a bad option. */
  constructor(options: SupWalshClientOptions = {}) {
    this.#options = resolveClientOptions(options);
    this.address = this.#options.address;
    this.#token = this.#options.token;
    this.#logger = options.logger;
    this.#client = new CoordinatorClient(this.address, this.#options.credentials, {
      'grpc.primary_user_agent': USER_AGENT,
      // grpc-js backs its reconnection off to 120 s; a watch riding out a coordinator restart (watchOutageMs) would
      // then see the coordinator back only long after it is.
      'grpc.max_reconnect_backoff_ms': 5_000,
      ...options.channelOptions,
      interceptors: [createTracingClientInterceptor(), ...(options.channelOptions?.interceptors ?? [])],
    });
  }

  /**
   * Submits an experiment: it is stored (QUEUED) when this resolves. Retries reuse one request_id, so the
   * coordinator stores it once. Rejects with InvalidArgumentError (its `field` names the bad spec field; nothing
   * was stored), ResourceExhaustedError (queue full, after the retries), AlreadyExistsError (`requestId` used
   * with another spec), or another {@link SupWalshError}.
   */
  async submit(spec: ExperimentSpec, options: SubmitOptions = {}): Promise<Experiment> {
    checkNumbers(ExperimentSpec, spec);
    const requestId = options.requestId ?? (options.validateOnly ? '' : randomUUID());
    const response = await this.#unary(
      this.#client.submitExperiment,
      'submit',
      spec.name,
      { spec, requestId, validateOnly: options.validateOnly ?? false },
      this.#options.deadlines.submitMs
    );
    return required(response.experiment, 'SubmitExperimentResponse.experiment');
  }

  /** An experiment with all its runs. Rejects with NotFoundError for an unknown id. */
  async get(experimentId: string): Promise<Experiment> {
    checkId('get', 'experimentId', experimentId);
    const response = await this.#unary(
      this.#client.getExperiment,
      'get',
      experimentId,
      { experimentId },
      this.#options.deadlines.unaryMs
    );
    return required(response.experiment, 'GetExperimentResponse.experiment');
  }

  /** One page of experiments, newest first, without their runs. */
  async list(options: ListOptions = {}): Promise<ExperimentPage> {
    const request = {
      states: options.states ?? [],
      labelSelector: options.labelSelector ?? {},
      namePrefix: options.namePrefix ?? '',
      pageSize: options.pageSize ?? 0,
      pageToken: options.pageToken ?? '',
    };
    const response = await this.#unary(
      this.#client.listExperiments,
      'list',
      request.pageToken || 'first page',
      request,
      this.#options.deadlines.unaryMs
    );
    return { experiments: response.experiments, nextPageToken: response.nextPageToken };
  }

  /** Every experiment matching the filters, newest first, following the page tokens (one call per page). */
  async *listAll(options: Omit<ListOptions, 'pageToken'> & { pageToken?: string } = {}): AsyncIterable<Experiment> {
    let pageToken = options.pageToken ?? '';
    do {
      const page = await this.list({ ...options, pageToken });
      yield* page.experiments;
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
  }

  /**
   * An experiment's events in sequence order, stored ones first, then new ones as they happen. Ends when the
   * coordinator ends the stream: after the experiment's terminal state event, or after the stored events with
   * `replayOnly`. A failed or idle stream is resumed after the last event yielded, so every event comes exactly
   * once. Leaving the loop (`break`) or aborting `signal` cancels the call.
   */
  watch(experimentId: string, options: WatchOptions = {}): AsyncIterable<ExperimentEvent> {
    checkId('watch', 'experimentId', experimentId);
    return this.#watch(experimentId, options);
  }

  async *#watch(experimentId: string, options: WatchOptions): AsyncGenerator<ExperimentEvent, void, undefined> {
    this.#assertOpen('watch');
    let lastSequence = options.afterSequence ?? 0;
    checkNumbers(
      WatchExperimentRequest,
      WatchExperimentRequest.fromPartial({ experimentId, afterSequence: lastSequence })
    );
    const operation = `watch(${experimentId})`;
    const stream = resumableStream<WatchExperimentResponse>({
      operation,
      open: async () => {
        const request = {
          experimentId,
          afterSequence: lastSequence,
          runIds: options.runIds ?? [],
          omitStepProgress: options.omitStepProgress ?? false,
          minLogLevel: options.minLogLevel ?? 0,
          replayOnly: options.replayOnly ?? false,
        };
        const metadata = await this.#metadata();
        this.#assertOpen('watch');
        this.#logger?.debug(`${operation}: after sequence ${lastSequence}`);
        return this.#client.watchExperiment(request, metadata, {});
      },
      idleMs: this.#options.deadlines.watchIdleMs,
      // Rides out a coordinator restart: retried for up to watchOutageMs without an event, not maxAttempts.
      backoff: new Backoff(
        this.#options.retry,
        operation,
        'stream',
        this.#logger,
        options.signal,
        this.#options.deadlines.watchOutageMs
      ),
      toError: toSupWalshError,
      logger: this.#logger,
      signal: options.signal,
    });
    try {
      for await (const { event } of stream) {
        // A resumed stream starts after the last event yielded; skipping anything older is only a safeguard.
        if (event === undefined || event.sequence <= lastSequence) continue;
        lastSequence = event.sequence;
        yield event;
      }
    } catch (error: unknown) {
      // Where to resume: `watch(id, { afterSequence: error.lastSequence })` continues exactly after it.
      const failure = toSupWalshError(error);
      failure.lastSequence = lastSequence;
      throw failure;
    }
  }

  /**
   * Cancels an experiment (idempotent on a CANCELLED one) and returns it CANCELLED. Rejects with
   * FailedPreconditionError when it already SUCCEEDED or FAILED, NotFoundError for an unknown id.
   */
  async cancel(experimentId: string, reason = ''): Promise<Experiment> {
    checkId('cancel', 'experimentId', experimentId);
    const response = await this.#unary(
      this.#client.cancelExperiment,
      'cancel',
      experimentId,
      { experimentId, reason },
      this.#options.deadlines.unaryMs
    );
    return required(response.experiment, 'CancelExperimentResponse.experiment');
  }

  /**
   * Waits until an experiment is terminal (SUCCEEDED, FAILED or CANCELLED) by watching its events, then returns
   * it with its runs (`get`). Resolves whatever the outcome: check `state`.
   */
  async waitForCompletion(experimentId: string, options: WaitForCompletionOptions = {}): Promise<Experiment> {
    checkId('waitForCompletion', 'experimentId', experimentId);
    const { onEvent, signal } = options;
    let afterSequence = options.afterSequence ?? 0;
    if (!onEvent) {
      const current = await this.get(experimentId);
      if (isTerminalState(current.state)) return current;
      afterSequence = current.lastSequence;
    }
    const events = this.watch(experimentId, {
      afterSequence,
      omitStepProgress: onEvent ? (options.omitStepProgress ?? false) : true,
      signal,
    });
    for await (const event of events) {
      await onEvent?.(event);
      const payload = event.payload;
      if (payload?.$case === 'experimentStateChanged' && isTerminalState(payload.value.state)) break;
    }
    return this.get(experimentId);
  }

  /**
   * The content of an artifact, chunk by chunk, from `offset`. A failed or idle stream resumes from the byte
   * offset reached. Checks the chunks are contiguous and, when the download starts at 0, that the content
   * matches the artifact's size and SHA-256: else the iteration throws ArtifactIntegrityError after the last
   * chunk.
   */
  downloadArtifact(artifactId: string, options: DownloadOptions = {}): AsyncIterable<Uint8Array> {
    checkId('downloadArtifact', 'artifactId', artifactId);
    return this.#download(artifactId, options, () => undefined);
  }

  /**
   * Downloads an artifact into `file` (creating its directory): writes `<file>.partial`, checks its size and
   * SHA-256 against the artifact's ArtifactInfo, then renames it to `file`. Resolves with that ArtifactInfo. On
   * any failure (ArtifactIntegrityError for a mismatch) the partial file is deleted and `file` left as it was.
   */
  async downloadArtifactToFile(
    artifactId: string,
    file: string,
    options: DownloadToFileOptions = {}
  ): Promise<ArtifactInfo> {
    checkId('downloadArtifactToFile', 'artifactId', artifactId);
    const partial = `${file}.partial`;
    let info: ArtifactInfo | undefined;
    try {
      await mkdir(path.dirname(file), { recursive: true });
      const handle = await open(partial, 'w');
      try {
        for await (const chunk of this.#download(artifactId, options, (i) => (info = i))) {
          for (let written = 0; written < chunk.length;) {
            written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten;
          }
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (info === undefined) throw new ArtifactIntegrityError(artifactId, 'info', 'an ArtifactInfo', 'none');
      await rename(partial, file);
      this.#logger?.debug(`downloadArtifact(${artifactId}): saved`, { file, sizeBytes: info.sizeBytes });
      return info;
    } catch (error: unknown) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  async *#download(
    artifactId: string,
    options: DownloadOptions,
    onInfo: (info: ArtifactInfo) => void
  ): AsyncGenerator<Uint8Array, void, undefined> {
    this.#assertOpen('downloadArtifact');
    const start = options.offset ?? 0;
    checkNumbers(
      GetArtifactRequest,
      GetArtifactRequest.fromPartial({ artifactId, offset: start, chunkBytes: options.chunkBytes ?? 0 })
    );
    let position = start;
    let info: ArtifactInfo | undefined;
    const hash = start === 0 ? createHash('sha256') : undefined;
    const operation = `downloadArtifact(${artifactId})`;
    const stream = resumableStream<GetArtifactResponse>({
      operation,
      open: async () => {
        const metadata = await this.#metadata();
        this.#assertOpen('downloadArtifact');
        this.#logger?.debug(`${operation}: from byte ${position}`);
        return this.#client.getArtifact(
          { artifactId, offset: position, chunkBytes: options.chunkBytes ?? 0 },
          metadata
        );
      },
      idleMs: this.#options.deadlines.downloadIdleMs,
      backoff: new Backoff(this.#options.retry, operation, 'stream', this.#logger, options.signal),
      toError: toSupWalshError,
      logger: this.#logger,
      signal: options.signal,
    });
    for await (const response of stream) {
      if (response.info !== undefined) {
        if (info === undefined) {
          info = response.info;
          onInfo(info);
        } else if (response.info.sha256 !== info.sha256 || response.info.sizeBytes !== info.sizeBytes) {
          throw new ArtifactIntegrityError(artifactId, 'content between attempts', info.sha256, response.info.sha256);
        }
      }
      if (response.offset !== position) {
        throw new ArtifactIntegrityError(artifactId, 'chunk offset', String(position), String(response.offset));
      }
      if (response.data.length === 0) continue;
      hash?.update(response.data);
      position += response.data.length;
      yield response.data;
    }
    if (info === undefined) return;
    if (position !== info.sizeBytes) {
      throw new ArtifactIntegrityError(artifactId, 'size', String(info.sizeBytes), String(position));
    }
    const actual = hash?.digest('hex');
    if (actual !== undefined && info.sha256 !== '' && actual !== info.sha256.toLowerCase()) {
      throw new ArtifactIntegrityError(artifactId, 'sha256', info.sha256, actual);
    }
  }

  /** Closes the channel; calls in flight are cancelled and later ones throw FailedPreconditionError. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.close();
  }

  async #unary<Req, Res>(
    method: UnaryMethod<Req, Res>,
    name: string,
    key: string,
    request: Req,
    deadlineMs: number
  ): Promise<Res> {
    this.#assertOpen(name);
    const operation = `${name}(${key})`;
    const backoff = new Backoff(this.#options.retry, operation, 'call', this.#logger);
    return withRetries(backoff, toSupWalshError, async (attempt) => {
      const metadata = await this.#metadata();
      this.#assertOpen(name);
      this.#logger?.debug(`${operation}: attempt ${attempt}`, { deadlineMs });
      return new Promise<Res>((resolve, reject) => {
        method.call(this.#client, request, metadata, { deadline: Date.now() + deadlineMs }, (error, response) =>
          error ? reject(error) : resolve(response)
        );
      });
    });
  }

  /** Fresh metadata for one attempt: the bearer token, when there is one. */
  async #metadata(): Promise<Metadata> {
    const metadata = new Metadata();
    if (this.#token === undefined) return metadata;
    let token: string;
    try {
      token = typeof this.#token === 'function' ? await this.#token() : this.#token;
    } catch (error: unknown) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new UnauthenticatedError(`the token function of the client options failed: ${reason}`, { cause: error });
    }
    if (token === '') return metadata;
    try {
      checkBearerToken(token, 'token');
    } catch (error: unknown) {
      if (error instanceof TokenError) throw new UnauthenticatedError(error.message, { cause: error });
      throw error;
    }
    metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  }

  #assertOpen(method: string): void {
    if (this.#closed) throw new FailedPreconditionError(`SupWalshClient.${method}: the client is closed`);
  }
}

/** Creates a {@link SupWalshClient}; the same as `new SupWalshClient(options)`. */
export function createSupWalshClient(options: SupWalshClientOptions = {}): SupWalshClient {
  return new SupWalshClient(options);
}

function checkId(method: string, argument: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidArgumentError(
      `${argument} must be a non-empty string, got ${JSON.stringify(value)} (SupWalshClient.${method})`,
      { field: argument }
    );
  }
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new SupWalshError(status.INTERNAL, `the coordinator's response lacks ${field}`);
  return value;
}

/**
 * Checks, before anything is serialized, that every integer of `message` fits its proto field (uint32, a uint64 up
 * to 2^53 − 1): grpc-js would otherwise fail with "Request message serialization failure" naming no field.
 * Throws InvalidArgumentError with `field` set (`training.epochs`, `after_sequence`, `offset`).
 */
function checkNumbers<T>(codec: MessageCodec<T>, message: T): void {
  try {
    checkEncodable(codec, message);
  } catch (error: unknown) {
    if (error instanceof WireNumberError)
      throw new InvalidArgumentError(error.message, { field: error.path, cause: error });
    throw error;
  }
}
