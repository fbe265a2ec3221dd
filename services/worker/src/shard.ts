import {
  CollectiveClosedError,
  CollectiveTimeoutError,
  createRing,
  PeerFailedError,
  type Collective,
  type CollectiveServer,
} from '@supwalsh/collective';
import {
  DatasetArgumentError,
  DatasetChecksumError,
  DatasetDownloadError,
  DatasetFormatError,
  DatasetNotFoundError,
} from '@supwalsh/datasets';
import {
  describeError,
  executeRun,
  NonFiniteLossError,
  type GradientReducer,
  type MethodEvent,
  type PhaseName,
  type RunCheckpoint,
  type RunResult,
} from '@supwalsh/method';
import {
  ArtifactKind,
  LogLevel,
  Phase,
  ShardFailure,
  ShardState,
  type CheckpointRef,
  type CoordinatorClient,
  type ShardFinished,
  type ShardStatus,
} from '@supwalsh/proto';
import { getTracer, withSpan } from '@supwalsh/telemetry';
import type * as tfl from '@tensorflow/tfjs-layers';
import { uploadArtifact, type ArtifactFile } from './artifact-uploader.js';
import { createBackoff, isRetryable, sleep, type BackoffOptions } from './backoff.js';
import { createCheckpointUploader, fetchCheckpoint } from './checkpoints.js';
import type { DatasetCache } from './dataset-cache.js';
import { CheckpointFetchError, isServiceError, StaleShardError, toError } from './errors.js';
import type { WorkerLogger } from './logger.js';
import { tfjsModelFiles, type TfjsModelFiles } from './model-files.js';
import { createProgressReporter, type ProgressReporter, type ProgressReporterOptions } from './progress-reporter.js';
import type { ShardRequest } from './shard-request.js';
import { WORKER_ATTR, WORKER_SPAN_NAMES } from './telemetry-names.js';

/**
 * Lifecycle of a shard on its worker (worker.proto `ShardState`):
 * - `STARTING`: accepted; waiting for the shard it replaces to end, loading the datasets;
 * - `RENDEZVOUS`: connecting to its ring neighbours;
 * - `RUNNING`: training and evaluating (`executeRun`), then (rank 0) uploading the artifacts;
 * - `SUCCEEDED`, `FAILED`, `ABORTED`: ended; its `ShardFinished` report is sent or being sent.
 */
export type ShardStateName = 'STARTING' | 'RENDEZVOUS' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

/** What a shard needs besides its request. */
export interface ShardDeps {
  readonly request: ShardRequest;
  readonly workerId: string;
  /** This worker process's instance id, as registered: every report and upload carries it. */
  readonly instanceId: string;
  /** Where reports and artifacts go; unset: nowhere (a worker started without a coordinator, in tests). */
  readonly client: CoordinatorClient | undefined;
  /** The worker's Collective service, where the left neighbour's ring stream arrives. */
  readonly collectiveServer: CollectiveServer;
  readonly datasets: DatasetCache;
  readonly logger: WorkerLogger;
  /** Directory for the temporary model files. @default os.tmpdir() */
  readonly tmpDir?: string;
  /** Reporter tuning (tests shorten the batch window). */
  readonly reporter?: Pick<ProgressReporterOptions, 'batchMs' | 'batchReports' | 'backoff'>;
  /** Longest wait for the coordinator to acknowledge the shard's reports at its end, in ms. @default 30 000 */
  readonly finishTimeoutMs?: number;
  /** Resolves once the shard this one replaces (an older generation of the run) has ended. */
  readonly after?: Promise<unknown>;
}

/** A shard of a run running on this worker (PROTOCOL.md step 7). */
export interface Shard {
  readonly request: ShardRequest;
  readonly state: ShardStateName;
  /** Whether it has reached SUCCEEDED, FAILED or ABORTED. */
  readonly ended: boolean;
  /** The shard as worker.proto's `ShardStatus`. */
  status(): ShardStatus;
  /**
   * Stops the shard (step 8): its `executeRun` stops before the next step, its ring closes at once (so that no
   * rank waits on it), it reports `ShardFinished{ABORTED}`. No effect once ended.
   */
  abort(reason: string): void;
  /**
   * Hands the run over (step 4, a draining worker; step 11): after the step in progress, stores a checkpoint — any
   * rank can, they all hold the same state — then stops as `abort` does, so that the run re-forms from that
   * checkpoint without this worker. A shard not yet training, or one that takes longer than `timeoutMs`, is
   * aborted. Resolves as `done`.
   */
  handOver(reason: string, timeoutMs: number): Promise<ShardStatus>;
  /** Resolves with the final status once `ShardFinished` is acknowledged (or could not be delivered). */
  readonly done: Promise<ShardStatus>;
}

const SHARD_STATE: Record<ShardStateName, ShardState> = {
  STARTING: ShardState.SHARD_STATE_STARTING,
  RENDEZVOUS: ShardState.SHARD_STATE_RENDEZVOUS,
  RUNNING: ShardState.SHARD_STATE_RUNNING,
  SUCCEEDED: ShardState.SHARD_STATE_SUCCEEDED,
  FAILED: ShardState.SHARD_STATE_FAILED,
  ABORTED: ShardState.SHARD_STATE_ABORTED,
};

const PHASE: Record<PhaseName, Phase> = {
  preparing: Phase.PHASE_PREPARING,
  pretraining: Phase.PHASE_PRETRAINING,
  training: Phase.PHASE_TRAINING,
  evaluating: Phase.PHASE_EVALUATING,
};

/** Longest wait for rank 0's reports to be acknowledged before a checkpoint is stored. */
const CHECKPOINT_FLUSH_TIMEOUT_MS = 30_000;
/** How long a checkpoint download waits for an unreachable coordinator (a restart takes seconds to a minute). */
const CHECKPOINT_FETCH_PATIENCE_MS = 120_000;

/** What `untilAborted` resolves with when the shard was aborted first. */
const ABORTED = Symbol('aborted');

/** Thrown inside a shard when loading its datasets fails (classified as SHARD_FAILURE_DATA). */
class DataLoadFailure extends Error {
  override readonly name = 'DataLoadFailure';
}

/** Why a shard ended, as `ShardFinished`. */
export interface ShardOutcome {
  readonly state: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  readonly failure: ShardFailure;
  readonly message: string;
}

/** Starts a shard in the background and returns at once (state STARTING). */
export function startShard(deps: ShardDeps): Shard {
  const { request, logger } = deps;
  const { runId, generation, rank, worldSize } = request;
  const fields = { runId, generation, rank, worldSize };
  const controller = new AbortController();
  const startTime = new Date();
  let state: ShardStateName = 'STARTING';
  let phase = Phase.PHASE_PREPARING;
  let epoch = 0;
  let step = 0;
  let outcome: ShardOutcome | undefined;
  let ring: Collective | undefined;
  let ringClosing: Promise<void> | undefined;
  /**
   * The error the worker threw into `executeRun` (a collective error from a reduction, a stale checkpoint upload),
   * which the run then records only as text.
   */
  let sideFailure: Error | undefined;
  /** Set by `handOver`: the next step boundary stores a checkpoint, then the shard stops. */
  let handOverReason: string | undefined;

  const closeRing = (): Promise<void> => {
    if (!ring) return Promise.resolve();
    ringClosing ??= ring.close().catch((error: unknown) => {
      logger.debug('closing the ring failed', { ...fields, error: toError(error) });
    });
    return ringClosing;
  };

  const reporter: ProgressReporter = createProgressReporter({
    client: deps.client,
    workerId: deps.workerId,
    instanceId: deps.instanceId,
    runId,
    generation,
    rank,
    logger,
    ...deps.reporter,
    onStale: (error: StaleShardError) => abort(`stale shard: ${error.message}`),
  });

  const status = (): ShardStatus => ({
    experimentId: request.experimentId,
    runId,
    generation,
    rank,
    worldSize,
    state: SHARD_STATE[state],
    phase: outcome ? Phase.PHASE_UNSPECIFIED : phase,
    epoch,
    step,
    failure: outcome?.failure ?? ShardFailure.SHARD_FAILURE_UNSPECIFIED,
    message: outcome?.message ?? '',
    startTime,
  });

  const abort = (reason: string) => {
    if (outcome || controller.signal.aborted) return;
    logger.info('aborting shard', { ...fields, reason });
    controller.abort(new Error(`aborted: ${reason || 'no reason given'}`));
    // Step 8: close the ring now, so that this rank's pending reduction and its neighbours' fail at once
    // instead of waiting for the collective timeout.
    void closeRing();
  };

  const abortedOutcome = (): ShardOutcome => {
    const reason: unknown = controller.signal.reason;
    const message = reason instanceof Error ? reason.message : String(reason);
    return { state: 'ABORTED', failure: ShardFailure.SHARD_FAILURE_UNSPECIFIED, message };
  };

  /** Settles as `promise` does, or with ABORTED as soon as the shard is aborted. */
  const untilAborted = <T>(promise: Promise<T>): Promise<T | typeof ABORTED> =>
    new Promise<T | typeof ABORTED>((resolve, reject) => {
      const signal = controller.signal;
      if (signal.aborted) return resolve(ABORTED);
      const onAbort = () => resolve(ABORTED);
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      );
    });

  const onEvent = (event: MethodEvent) => {
    if (event.type === 'phase') {
      phase = PHASE[event.phase];
      if (event.phase !== 'evaluating') step = 0;
    } else if (event.type === 'step') {
      epoch = event.epoch;
      step = event.step;
    } else if (event.type === 'epoch') {
      epoch = event.metrics.epoch;
    }
    reporter.reportEvent(event);
  };

  const body = async (): Promise<ShardOutcome> => {
    try {
      await deps.after;
    } catch {
      // the replaced shard's own outcome is not ours
    }
    if (controller.signal.aborted) return abortedOutcome();

    // Step 7: load the run's datasets from the data directory, and the checkpoint to resume from (an abort does not
    // wait for either).
    const loading = deps.datasets.load(request.runSpec.dataset, request.datasetRoot).catch((error: unknown) => {
      throw new DataLoadFailure(describeError(error), { cause: error });
    });
    const resuming = request.resumeFrom ? fetchResume(request.resumeFrom) : Promise.resolve(undefined);
    const prepared = await untilAborted(Promise.all([loading, resuming]));
    if (prepared === ABORTED) return abortedOutcome();
    const [splits, resumeFrom] = prepared;

    // Step 7: join the ring on this worker's own Collective server (an abort does not wait for the neighbours).
    state = 'RENDEZVOUS';
    const { compression, ...transport } = request.collective;
    const joining = createRing({
      runId,
      generation,
      rank,
      worldSize,
      peers: request.peers,
      server: deps.collectiveServer,
      compression,
      ...transport,
    });
    const joined = await untilAborted(joining);
    if (joined === ABORTED) {
      void joining.then((late) => late.close()).catch(() => undefined);
      return abortedOutcome();
    }
    ring = joined;

    state = 'RUNNING';
    const collective = ring;
    const reducer: GradientReducer = {
      rank,
      worldSize,
      // In place: allReduce writes the sums back into each buffer. Every rank issues the same operations in the
      // same order, all at once, so the buckets travel concurrently.
      sum: async (buffers) => {
        try {
          await Promise.all(buffers.map((buffer) => collective.allReduce(buffer, { op: 'sum' })));
        } catch (error: unknown) {
          sideFailure ??= toError(error);
          throw error;
        }
      },
      broadcast: async (buffers, root) => {
        try {
          await Promise.all(buffers.map((buffer) => collective.broadcast(buffer, root)));
        } catch (error: unknown) {
          sideFailure ??= toError(error);
          throw error;
        }
      },
    };
    const client = rank === 0 ? deps.client : undefined;
    const uploads = createUploads(client);
    // Rank 0 checkpoints on schedule; every rank can store the checkpoint of a hand-over.
    const checkpoint = deps.client ? checkpointSink(deps.client, splits.train.length) : undefined;
    let finalModel: TfjsModelFiles | undefined;
    const result = await executeRun(request.runSpec, {
      train: splits.train,
      test: splits.test,
      ...(request.pretrainedDir === undefined ? {} : { pretrainedDir: request.pretrainedDir }),
      reducer,
      signal: controller.signal,
      onEvent,
      onModel: async (model: tfl.LayersModel, stage) => {
        if (!client) return;
        if (stage === 'final' && request.saveWeights) finalModel = await tfjsModelFiles(model, deps.tmpDir);
        // Stored at once, in the background: a re-formed generation that resumes in training never sees it.
        if (stage === 'initial' && request.saveInitialWeights) {
          uploads.start(
            weightFiles(ArtifactKind.ARTIFACT_KIND_INITIAL_WEIGHTS, await tfjsModelFiles(model, deps.tmpDir))
          );
        }
      },
      ...(checkpoint ? { checkpoint } : {}),
      ...(resumeFrom ? { resumeFrom } : {}),
    });
    await closeRing();
    if (controller.signal.aborted) return abortedOutcome();
    if (result.status === 'cancelled') return cancelled(result);
    if (result.status === 'failed') return failedRun(result, sideFailure);

    // Step 7: rank 0 stores the final weights and the run's record (the initial weights are on their way).
    uploads.start([
      ...weightFiles(ArtifactKind.ARTIFACT_KIND_WEIGHTS, finalModel),
      {
        kind: ArtifactKind.ARTIFACT_KIND_RESULTS_JSON,
        name: 'run-result.json',
        mediaType: 'application/json',
        data: new TextEncoder().encode(JSON.stringify(result)),
      },
    ]);
    await uploads.settled();
    if (controller.signal.aborted) return abortedOutcome();
    return { state: 'SUCCEEDED', failure: ShardFailure.SHARD_FAILURE_UNSPECIFIED, message: '' };
  };

  /** Rank 0's artifact uploads, one after another in the background; `settled` rethrows the first failure. */
  const createUploads = (client: CoordinatorClient | undefined) => {
    let chain = Promise.resolve();
    let failure: unknown;
    return {
      start(files: ArtifactFile[]) {
        if (!client) return;
        for (const file of files) {
          chain = chain.then(async () => {
            if (failure !== undefined || controller.signal.aborted) return;
            try {
              await uploadArtifact(client, { ...request, instanceId: deps.instanceId }, file, {
                signal: controller.signal,
                logger,
              });
            } catch (error: unknown) {
              failure = error;
              if (error instanceof StaleShardError) abort(error.message);
            }
          });
        }
      },
      async settled() {
        await chain;
        if (failure !== undefined) throw failure;
      },
    };
  };

  /**
   * Step 7, checkpoints (rank 0): every `checkpoints.every_steps` steps and at every epoch and phase end. A stale
   * generation stops the shard; any other failed upload is logged and training goes on (the next one may succeed).
   */
  const checkpointSink = (client: CoordinatorClient, trainSamples: number) => {
    const p = request.runSpec.pretraining;
    const maxSteps = request.runSpec.limits.maxStepsPerEpoch ?? Number.POSITIVE_INFINITY;
    const uploader = createCheckpointUploader({
      client,
      instanceId: deps.instanceId,
      runId,
      generation,
      rank,
      worldSize,
      // As @supwalsh/method's pretrain: ceil(samples / class_group_batch_size) groups per epoch.
      pretrainingStepsPerEpoch: p
        ? Math.min(Math.ceil(Math.ceil(trainSamples / p.classGroupBatchSize) / p.groupsPerStep), maxSteps)
        : 1,
      signal: controller.signal,
      logger,
    });
    return {
      everySteps: request.checkpointEverySteps,
      periodic: rank === 0,
      requested: () => handOverReason !== undefined,
      save: async (checkpoint: RunCheckpoint) => {
        try {
          // Step 11: a stored checkpoint implies that everything rank 0 reported before it is stored, so that a run
          // resumed from it after rank 0 died loses no metric (the coordinator drops what it reports again).
          if (rank === 0 && !(await reporter.flush(CHECKPOINT_FLUSH_TIMEOUT_MS))) {
            throw new Error(`the reports before it were not acknowledged within ${CHECKPOINT_FLUSH_TIMEOUT_MS} ms`);
          }
          await uploader.save(checkpoint);
          if (handOverReason !== undefined) {
            logger.info('checkpoint stored for the hand-over; stopping', { ...fields, reason: handOverReason });
            abort(`handed over: ${handOverReason}`);
          }
        } catch (error: unknown) {
          if (handOverReason !== undefined) abort(`handed over without a new checkpoint: ${handOverReason}`);
          if (error instanceof StaleShardError) {
            sideFailure ??= error;
            abort(error.message);
            throw error;
          }
          logger.warn('a checkpoint could not be stored; training goes on', { ...fields, error: toError(error) });
          reporter.report({
            $case: 'log',
            value: {
              level: LogLevel.LOG_LEVEL_WARNING,
              message: `checkpoint not stored: ${toError(error).message}`,
              code: 'CHECKPOINT_UPLOAD_FAILED',
              workerId: deps.workerId,
              rank,
            },
          });
        }
      },
    };
  };

  /** The checkpoint of `resume_from` (step 7; issue 7's re-formed rings). */
  const fetchResume = async (ref: CheckpointRef): Promise<RunCheckpoint> => {
    if (!deps.client) {
      throw new CheckpointFetchError(runId, ref.artifactId, 'cannot be downloaded: this worker has no coordinator');
    }
    logger.info('downloading the checkpoint to resume from', { ...fields, artifactId: ref.artifactId });
    return fetchResumeCheckpoint(deps.client, ref, { signal: controller.signal, logger });
  };

  const done = withSpan(
    getTracer(),
    WORKER_SPAN_NAMES.shard,
    { [WORKER_ATTR.runId]: runId, [WORKER_ATTR.generation]: generation, [WORKER_ATTR.rank]: rank },
    async () => {
      logger.info('shard started', { ...fields, run: request.runSpec.runId });
      let ended: ShardOutcome;
      try {
        ended = await body();
      } catch (error: unknown) {
        ended = controller.signal.aborted ? abortedOutcome() : classifyError(error, sideFailure);
      } finally {
        await closeRing();
      }
      outcome = ended;
      state = ended.state;
      const log = ended.state === 'FAILED' ? logger.warn : logger.info;
      log('shard ended', {
        ...fields,
        state: ended.state,
        failure: ShardFailure[ended.failure],
        message: ended.message,
      });
      // Step 7: every rank's last report; flushed with everything before it.
      const finished: ShardFinished = {
        state: SHARD_STATE[ended.state],
        failure: ended.failure,
        message: ended.message,
      };
      const delivered = await reporter.finish(finished, deps.finishTimeoutMs ?? 30_000);
      if (!delivered && deps.client) logger.warn('ShardFinished was not acknowledged', fields);
      reporter.close();
      return status();
    }
  );

  const handOver = (reason: string, timeoutMs: number): Promise<ShardStatus> => {
    if (outcome || controller.signal.aborted) return done;
    if (state !== 'RUNNING' || !deps.client) {
      abort(reason);
      return done;
    }
    handOverReason = reason;
    logger.info('handing the shard over at the next step', { ...fields, reason });
    const timer = setTimeout(() => abort(`no step ended within ${timeoutMs} ms to hand over at: ${reason}`), timeoutMs);
    return done.finally(() => clearTimeout(timer));
  };

  return {
    request,
    handOver,
    get state() {
      return state;
    },
    get ended() {
      return outcome !== undefined;
    },
    status,
    abort,
    done,
  };
}

function weightFiles(kind: ArtifactKind, files: TfjsModelFiles | undefined): ArtifactFile[] {
  if (!files) return [];
  return [
    { kind, name: 'model.json', mediaType: 'application/json', data: files.modelJson },
    { kind, name: 'weights.bin', mediaType: 'application/octet-stream', data: files.weights },
  ];
}

function cancelled(result: RunResult): ShardOutcome {
  return { state: 'ABORTED', failure: ShardFailure.SHARD_FAILURE_UNSPECIFIED, message: result.error ?? 'cancelled' };
}

/** A failed `executeRun` (which records its error as text) as a `ShardFinished` failure. */
function failedRun(result: RunResult, sideFailure: Error | undefined): ShardOutcome {
  const message = result.error ?? 'the run failed';
  if (sideFailure) return classifyError(sideFailure, sideFailure);
  let failure = ShardFailure.SHARD_FAILURE_INTERNAL;
  if (message.startsWith(`${NonFiniteLossError.name}:`)) {
    failure = ShardFailure.SHARD_FAILURE_NON_FINITE;
  } else if (isOutOfMemory(message)) {
    failure = ShardFailure.SHARD_FAILURE_OUT_OF_MEMORY;
  }
  return { state: 'FAILED', failure, message };
}

/**
 * Downloads the checkpoint a re-formed ring resumes from (`fetchCheckpoint`), waiting out an unreachable
 * coordinator — a restart, UNAVAILABLE and the like — with backoff for up to `patienceMs`, as reports and uploads
 * wait: the shard would otherwise fail with SHARD_FAILURE_CHECKPOINT, which fails its run. A checkpoint that cannot
 * be found or arrives damaged fails at once, as does any failure once `signal` has aborted.
 */
export async function fetchResumeCheckpoint(
  client: CoordinatorClient,
  ref: CheckpointRef,
  options: { signal: AbortSignal; logger: WorkerLogger; patienceMs?: number; backoff?: BackoffOptions }
): Promise<RunCheckpoint> {
  const backoff = createBackoff({ initialMs: 200, maxMs: 5_000, ...options.backoff });
  const giveUpAt = Date.now() + (options.patienceMs ?? CHECKPOINT_FETCH_PATIENCE_MS);
  for (;;) {
    try {
      return await fetchCheckpoint(client, ref);
    } catch (error: unknown) {
      const cause = error instanceof Error ? error.cause : undefined;
      if (!isServiceError(cause) || !isRetryable(cause) || Date.now() > giveUpAt || options.signal.aborted) throw error;
      const delayMs = backoff.next();
      options.logger.warn('the checkpoint download failed; retrying', {
        runId: ref.runId,
        artifactId: ref.artifactId,
        error: toError(error).message,
        delayMs,
      });
      await sleep(delayMs, options.signal);
    }
  }
}

/**
 * The `ShardFailure` of an error (step 7): PEER_LOST for a lost or stalled ring neighbour, CHECKPOINT for a
 * `resume_from` that cannot be fetched, NON_FINITE for a NaN loss, DATA for a dataset that cannot be read,
 * OUT_OF_MEMORY, else INTERNAL. A stale shard ends ABORTED. `ringFailure`: the ring had failed before (so a
 * `CollectiveClosedError` is its consequence, not this rank's own close).
 */
export function classifyError(error: unknown, ringFailure?: Error): ShardOutcome {
  const e = toError(error);
  const message = describeError(e);
  if (e instanceof StaleShardError) {
    return { state: 'ABORTED', failure: ShardFailure.SHARD_FAILURE_UNSPECIFIED, message: e.message };
  }
  if (
    e instanceof PeerFailedError ||
    e instanceof CollectiveTimeoutError ||
    (e instanceof CollectiveClosedError && ringFailure !== undefined)
  ) {
    return { state: 'FAILED', failure: ShardFailure.SHARD_FAILURE_PEER_LOST, message };
  }
  if (e instanceof CheckpointFetchError) {
    return { state: 'FAILED', failure: ShardFailure.SHARD_FAILURE_CHECKPOINT, message: e.message };
  }
  if (e instanceof NonFiniteLossError) {
    return { state: 'FAILED', failure: ShardFailure.SHARD_FAILURE_NON_FINITE, message };
  }
  if (e instanceof DataLoadFailure || isDatasetError(e.cause)) {
    return { state: 'FAILED', failure: ShardFailure.SHARD_FAILURE_DATA, message: e.message };
  }
  if (isDatasetError(e)) return { state: 'FAILED', failure: ShardFailure.SHARD_FAILURE_DATA, message };
  if (isOutOfMemory(message)) return { state: 'FAILED', failure: ShardFailure.SHARD_FAILURE_OUT_OF_MEMORY, message };
  return { state: 'FAILED', failure: ShardFailure.SHARD_FAILURE_INTERNAL, message };
}

function isDatasetError(e: unknown): boolean {
  return (
    e instanceof DatasetNotFoundError ||
    e instanceof DatasetFormatError ||
    e instanceof DatasetChecksumError ||
    e instanceof DatasetDownloadError ||
    e instanceof DatasetArgumentError
  );
}

function isOutOfMemory(message: string): boolean {
  return /out of memory|\bOOM\b|ResourceExhausted|Cannot allocate/i.test(message);
}
