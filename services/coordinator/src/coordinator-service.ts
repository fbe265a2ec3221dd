import type {
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
  ServerReadableStream,
} from '@grpc/grpc-js';
import {
  LogLevel,
  type CoordinatorServer,
  type ExperimentEvent,
  type GetArtifactRequest,
  type GetArtifactResponse,
  type SubmitExperimentRequest,
  type UploadArtifactRequest,
  type UploadArtifactResponse,
  type WatchExperimentRequest,
  type WatchExperimentResponse,
} from '@supwalsh/proto';
import type { Principal } from '@supwalsh/security';
import { getTracer, withSpan } from '@supwalsh/telemetry';
import { checkSpecLimits } from '@supwalsh/wire';
import { DEFAULT_DOWNLOAD_CHUNK_BYTES, MAX_DOWNLOAD_CHUNK_BYTES, readArtifact, uploadArtifact } from './artifacts.js';
import {
  callPrincipal,
  canSeeWorkerAddresses,
  COORDINATOR_SERVICE_NAME,
  requireExperimentAccess,
} from './auth-policy.js';
import type { CoordinatorContext } from './context.js';
import {
  DrainingError,
  InvalidArgumentError,
  LimitExceededError,
  NotFoundError,
  PermissionDeniedError,
  toError,
  toServiceError,
} from './errors.js';
import {
  cancelExperiment,
  getExperiment,
  listExperiments,
  requireVisibleExperiment,
  submitExperiment,
} from './experiments.js';
import { deregisterWorker, heartbeat, listWorkers, registerWorker } from './membership.js';
import { checkCheckpointPlausible, checkReportsPlausible } from './plausibility.js';
import { reportProgress } from './progress.js';
import { artifactToProto } from './proto-mapping.js';
import { experimentStateFromProto, isTerminalExperimentState } from './states.js';
import {
  bindWorker,
  canWorkerReadArtifact,
  checkRegistration,
  requireRunHolder,
  requireWorkerInstance,
  requireWorkerOwnership,
} from './worker-access.js';

/** Full name of the service (defined beside the policy that authorizes its methods); spans are `<service>/<method>`. */
export { COORDINATOR_SERVICE_NAME };

/** Whether the coordinator still takes requests. */
export interface ServiceState {
  draining: boolean;
}

/** Events read from the store per query while a watch catches up. */
const WATCH_BATCH = 256;

/** Resolves when `call` can take more (drain) or is gone (cancelled, closed, failed). */
function writable(call: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of ['drain', 'cancelled', 'close', 'error']) call.off(event, done);
      resolve();
    };
    for (const event of ['drain', 'cancelled', 'close', 'error']) call.once(event, done);
  });
}

/** Whether a watch request lets `event` through its filters. */
function passes(request: WatchExperimentRequest, runIds: ReadonlySet<string>, event: ExperimentEvent): boolean {
  if (runIds.size > 0 && event.runId && !runIds.has(event.runId)) return false;
  const payload = event.payload;
  if (request.omitStepProgress && payload?.$case === 'stepProgress') return false;
  if (payload?.$case === 'log' && request.minLogLevel !== LogLevel.LOG_LEVEL_UNSPECIFIED) {
    const level =
      payload.value.level === LogLevel.LOG_LEVEL_UNSPECIFIED ? LogLevel.LOG_LEVEL_INFO : payload.value.level;
    if (level < request.minLogLevel) return false;
  }
  return true;
}

/** The event that ends a watch: the experiment reached a terminal state. */
function isTerminalEvent(event: ExperimentEvent): boolean {
  if (event.payload?.$case !== 'experimentStateChanged') return false;
  const state = experimentStateFromProto(event.payload.value.state);
  return state !== undefined && isTerminalExperimentState(state);
}

/**
 * The limits a submission meets before validation (ARCHITECTURE.md invariant 5: nothing is stored when one is
 * exceeded): the spec's encoded size and the runs it expands to (INVALID_ARGUMENT naming `spec` or `seeds`), then
 * the queue (RESOURCE_EXHAUSTED), which neither a validate_only request nor a retry of a stored request_id meets.
 * The number of QUEUED + RUNNING experiments (`maxActiveExperiments`) is checked by `submitExperiment`.
 */
export function checkSubmissionLimits(ctx: CoordinatorContext, request: SubmitExperimentRequest): void {
  const { settings, store } = ctx;
  if (!request.spec) return; // submitExperiment says spec is required
  checkSpecLimits(request.spec, { maxSpecBytes: settings.maxSpecBytes, maxRuns: settings.maxRunsPerExperiment });
  if (request.validateOnly) return;
  if (request.requestId && store.getExperimentByRequestId(request.requestId)) return;
  const max = settings.maxQueuedExperiments;
  // At most `max` rows are read; a count query in store.ts would read none.
  if (store.listExperiments({ states: ['QUEUED'], limit: max }).length >= max) {
    throw new LimitExceededError(
      '--max-queued-experiments',
      max,
      `the coordinator already holds ${max} queued experiments (--max-queued-experiments ${max}); retry once some have started`
    );
  }
}

/**
 * The v1 `Coordinator` service over the coordinator's parts: each RPC in one span, domain errors mapped to
 * statuses by `toServiceError`, UNAVAILABLE for everything once draining.
 */
export function createCoordinatorService(ctx: CoordinatorContext, state: ServiceState): CoordinatorServer {
  const tracer = getTracer();
  /** Open WatchExperiment streams per experiment id (`maxWatchersPerExperiment`). */
  const watchers = new Map<string, number>();

  const run = <T>(method: string, fn: () => T | Promise<T>): Promise<T> =>
    withSpan(tracer, `${COORDINATOR_SERVICE_NAME}/${method}`, {}, async () => {
      if (state.draining) throw new DrainingError();
      return fn();
    });

  const fail = (method: string, error: unknown) => {
    const serviceError = toServiceError(error);
    if (serviceError.code === 13) ctx.logger.error(`${method} failed`, { error: toError(error).stack });
    return serviceError;
  };

  function unary<Req, Res>(
    method: string,
    fn: (request: Req, principal: Principal) => Res | Promise<Res>
  ): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      run(method, () => fn(call.request, callPrincipal(call.metadata))).then(
        (response) => callback(null, response),
        (error: unknown) => callback(fail(method, error))
      );
    };
  }

  /** WatchExperiment: stored events after `after_sequence`, then live ones, in order, each once. */
  const watchExperiment: handleServerStreamingCall<WatchExperimentRequest, WatchExperimentResponse> = (call) => {
    const request = call.request;
    let gone = false;
    let wake: (() => void) | undefined;
    let dirty = false;
    const poke = () => {
      dirty = true;
      wake?.();
    };
    let unsubscribe = () => undefined as void;
    let unsubscribeClose = () => undefined as boolean | void;
    let release = () => undefined as void;
    const stop = () => {
      gone = true;
      poke();
    };
    call.on('cancelled', stop);
    call.on('close', stop);
    const watch = async () => {
      const experiment = requireVisibleExperiment(ctx, callPrincipal(call.metadata), request.experimentId);
      const open = watchers.get(experiment.id) ?? 0;
      const max = ctx.settings.maxWatchersPerExperiment;
      if (open >= max) {
        throw new LimitExceededError(
          '--max-watchers-per-experiment',
          max,
          `experiment ${experiment.id} already has ${open} open watches (--max-watchers-per-experiment ${max}); close one or retry later`
        );
      }
      watchers.set(experiment.id, open + 1);
      release = () => {
        release = () => undefined;
        const left = (watchers.get(experiment.id) ?? 1) - 1;
        if (left > 0) watchers.set(experiment.id, left);
        else watchers.delete(experiment.id);
      };
      if (request.afterSequence > experiment.lastSequence) {
        throw new InvalidArgumentError(
          'after_sequence',
          `after_sequence must be at most the experiment's last_sequence ${experiment.lastSequence}, got ${request.afterSequence}`
        );
      }
      const runIds = new Set(request.runIds);
      const replayEnd = request.replayOnly ? experiment.lastSequence : Number.POSITIVE_INFINITY;
      // Subscribe before reading so that no commit falls between the read and the subscription.
      unsubscribe = ctx.store.bus.subscribe(experiment.id, poke);
      unsubscribeClose = ctx.store.bus.onClose(() => {
        if (gone) return;
        gone = true;
        call.emit('error', toServiceError(new DrainingError()));
        poke();
      });
      let cursor = request.afterSequence;
      for (;;) {
        if (gone) return;
        dirty = false;
        const batch = ctx.store.listEvents(experiment.id, cursor, WATCH_BATCH);
        for (const event of batch) {
          if (gone) return;
          if (event.sequence > replayEnd) {
            call.end();
            return;
          }
          cursor = event.sequence;
          if (passes(request, runIds, event) && !call.write({ event })) await writable(call);
          if (isTerminalEvent(event)) {
            call.end();
            return;
          }
        }
        if (batch.length === WATCH_BATCH) continue;
        if (cursor >= replayEnd) {
          call.end();
          return;
        }
        const current = ctx.store.getExperiment(experiment.id);
        if (!current || (isTerminalExperimentState(current.state) && cursor >= current.lastSequence)) {
          call.end();
          return;
        }
        if (!dirty && !gone) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      }
    };
    run('WatchExperiment', watch)
      .catch((error: unknown) => {
        if (!gone) call.emit('error', fail('WatchExperiment', error));
      })
      .finally(() => {
        unsubscribe();
        unsubscribeClose();
        release();
      });
  };

  /** GetArtifact: the file from `offset` in chunks of `chunk_bytes`; the first message carries the info. */
  const getArtifact: handleServerStreamingCall<GetArtifactRequest, GetArtifactResponse> = (call) => {
    const request = call.request;
    let gone = false;
    call.on('cancelled', () => {
      gone = true;
    });
    const send = async () => {
      if (!request.artifactId) throw new InvalidArgumentError('artifact_id', 'artifact_id is required');
      if (request.chunkBytes > MAX_DOWNLOAD_CHUNK_BYTES) {
        throw new InvalidArgumentError(
          'chunk_bytes',
          `chunk_bytes must be from 0 to ${MAX_DOWNLOAD_CHUNK_BYTES}, got ${request.chunkBytes}`
        );
      }
      const artifact = ctx.store.getArtifact(request.artifactId);
      if (!artifact) throw new NotFoundError('artifact', request.artifactId);
      const principal = callPrincipal(call.metadata);
      if (principal.role === 'worker') {
        if (!canWorkerReadArtifact(ctx, principal, artifact)) {
          throw new PermissionDeniedError(
            principal.name,
            `workers may download only the checkpoints of runs they hold; artifact ${artifact.id} is not one for ${principal.name}`
          );
        }
      } else {
        requireExperimentAccess(
          principal,
          artifact.experimentId,
          ctx.store.requireExperiment(artifact.experimentId).owner
        );
      }
      if (request.offset > artifact.sizeBytes) {
        throw new InvalidArgumentError(
          'offset',
          `offset must be from 0 to the artifact's size ${artifact.sizeBytes}, got ${request.offset}`
        );
      }
      const chunkBytes = request.chunkBytes || DEFAULT_DOWNLOAD_CHUNK_BYTES;
      const info = artifactToProto(artifact);
      let offset = request.offset;
      let first = true;
      // readArtifact proves the file against its recorded size and SHA-256: a damaged one ends in DATA_LOSS, never OK.
      for await (const piece of readArtifact(ctx.artifactsDir, artifact, request.offset, chunkBytes)) {
        if (gone) return;
        const message: GetArtifactResponse = { info: first ? info : undefined, offset: piece.offset, data: piece.data };
        first = false;
        offset = piece.offset + piece.data.byteLength;
        if (!call.write(message)) await writable(call);
      }
      if (first) call.write({ info, offset, data: new Uint8Array(0) });
      call.end();
    };
    run('GetArtifact', send).catch((error: unknown) => {
      if (!gone) call.emit('error', fail('GetArtifact', error));
    });
  };

  /** UploadArtifact: a client stream, header first. */
  const upload: handleClientStreamingCall<UploadArtifactRequest, UploadArtifactResponse> = (
    call: ServerReadableStream<UploadArtifactRequest, UploadArtifactResponse>,
    callback
  ) => {
    const principal = callPrincipal(call.metadata);
    async function* messages(): AsyncGenerator<UploadArtifactRequest> {
      let first = true;
      for await (const message of call) {
        const request = message as UploadArtifactRequest;
        if (first && request.header) {
          // Before the upload stores anything: the caller holds the rank, and a checkpoint fits the run.
          const run = ctx.store.getRun(request.header.runId);
          if (run) {
            requireRunHolder(ctx, principal, run, request.header);
            if (request.header.generation === run.generation) checkCheckpointPlausible(run, request.header);
          }
        }
        first = false;
        yield request;
      }
    }
    run('UploadArtifact', () => uploadArtifact(ctx, messages())).then(
      (response) => callback(null, response),
      (error: unknown) => callback(fail('UploadArtifact', error))
    );
  };

  return {
    submitExperiment: unary('SubmitExperiment', (request, principal) => {
      checkSubmissionLimits(ctx, request);
      return { experiment: submitExperiment(ctx, request, principal) };
    }),
    getExperiment: unary('GetExperiment', (request, principal) => ({
      experiment: getExperiment(ctx, request.experimentId, principal),
    })),
    listExperiments: unary('ListExperiments', (request, principal) => listExperiments(ctx, request, principal)),
    watchExperiment: watchExperiment as handleServerStreamingCall<WatchExperimentRequest, WatchExperimentResponse>,
    cancelExperiment: unary('CancelExperiment', (request, principal) => ({
      experiment: cancelExperiment(ctx, request, principal),
    })),
    getArtifact,
    registerWorker: unary('RegisterWorker', (request, principal) => {
      checkRegistration(ctx, principal, request);
      const response = registerWorker(ctx, request);
      if (request.worker) bindWorker(ctx, principal, request.worker.workerId);
      return response;
    }),
    heartbeat: unary('Heartbeat', (request, principal) => {
      requireWorkerOwnership(ctx, principal, request.workerId);
      return heartbeat(ctx, request);
    }),
    deregisterWorker: unary('DeregisterWorker', (request, principal) => {
      requireWorkerOwnership(ctx, principal, request.workerId);
      deregisterWorker(ctx, request);
      return {};
    }),
    listWorkers: unary('ListWorkers', (request, principal) => ({
      workers: listWorkers(ctx, request).map((worker) =>
        canSeeWorkerAddresses(principal) ? worker : { ...worker, address: '' }
      ),
    })),
    reportProgress: unary('ReportProgress', (request, principal) => {
      requireWorkerInstance(ctx, principal, request.workerId, request.instanceId);
      checkReportsPlausible(ctx, request);
      return reportProgress(ctx, request);
    }),
    uploadArtifact: upload,
  };
}
