/**
 * A small in-memory Coordinator for this project's specs (not exported from the package): it implements the
 * client rpcs of the generated `CoordinatorService` on a real grpc-js server bound to 127.0.0.1:0, records every
 * call (request, authorization metadata, deadline), and can be told to fail calls, break streams or go slow.
 */
import { createHash } from 'node:crypto';
import {
  type handleUnaryCall,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  status,
} from '@grpc/grpc-js';
import {
  ArtifactInfo,
  ArtifactKind,
  type CancelExperimentRequest,
  type CancelExperimentResponse,
  type CoordinatorServer,
  CoordinatorService,
  datasetKindToJSON,
  EpochMetrics,
  Experiment,
  ExperimentEvent,
  ExperimentState,
  type GetArtifactRequest,
  type GetArtifactResponse,
  type GetExperimentRequest,
  type GetExperimentResponse,
  initializerToJSON,
  type ListExperimentsRequest,
  type ListExperimentsResponse,
  modelKindToJSON,
  Phase,
  Run,
  RunCounts,
  RunState,
  type ExperimentSpec,
  type SubmitExperimentRequest,
  type SubmitExperimentResponse,
  type WatchExperimentRequest,
  type WatchExperimentResponse,
} from '@supwalsh/proto';
import { shutdownServer } from '@supwalsh/security';

/** The client rpcs the fake implements. */
export type FakeMethod =
  'submitExperiment' | 'getExperiment' | 'listExperiments' | 'watchExperiment' | 'cancelExperiment' | 'getArtifact';

/** One call as the server saw it. */
export interface RecordedCall {
  method: FakeMethod;
  request: unknown;
  /** The `authorization` metadata value, if any. */
  authorization: string | undefined;
  /** `call.getDeadline()` in epoch milliseconds (Infinity: none). */
  deadline: number;
  /** Milliseconds from the call's arrival to its deadline (Infinity: none). */
  deadlineInMs: number;
  /** When the call arrived, from `performance.now()`. */
  at: number;
}

/** A status the next call of a method fails with. */
export interface ScriptedFailure {
  code: status;
  details?: string;
  /** Handle the request first (store a submission), then fail: a response lost on the way back. */
  afterHandling?: boolean;
}

/** What the fake reads from any server call. */
type AnyCall = Pick<ServerUnaryCall<unknown, unknown>, 'getDeadline' | 'metadata' | 'request'>;

const TERMINAL = new Set([
  ExperimentState.EXPERIMENT_STATE_SUCCEEDED,
  ExperimentState.EXPERIMENT_STATE_FAILED,
  ExperimentState.EXPERIMENT_STATE_CANCELLED,
]);

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function short(json: string, prefix: string): string {
  return json.slice(prefix.length).toLowerCase().replaceAll('_', '-');
}

/** The fake's state and scripting knobs; `impl` is what the grpc server serves. */
export class FakeCoordinator {
  readonly calls: RecordedCall[] = [];
  readonly experiments = new Map<string, Experiment>();
  readonly events = new Map<string, ExperimentEvent[]>();
  readonly artifacts = new Map<string, { info: ArtifactInfo; data: Uint8Array }>();
  /** Statuses the next calls of each method fail with, first to last. */
  readonly failures = new Map<FakeMethod, ScriptedFailure[]>();
  /** Milliseconds each call of a method waits before it answers. */
  readonly delays = new Map<FakeMethod, number>();
  /** For successive WatchExperiment calls: end with UNAVAILABLE after sending this many events (undefined: never). */
  readonly watchBreaks: (number | undefined)[] = [];
  /** For successive GetArtifact calls: end with UNAVAILABLE after sending this many chunks. */
  readonly downloadBreaks: (number | undefined)[] = [];
  /** WatchExperiment and GetArtifact calls the client cancelled before the fake ended them. */
  cancelledStreams = 0;
  /** Milliseconds between the events of a simulated run; undefined: submitted experiments stay QUEUED. */
  simulateRunsEveryMs: number | undefined;
  /** Stored submissions by request_id. */
  readonly requestIds = new Map<string, string>();
  readonly #listeners = new Map<string, Set<() => void>>();
  #nextId = 1;

  callsOf(method: FakeMethod): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Makes the next calls of `method` fail with these statuses, in order. */
  fail(method: FakeMethod, ...failures: ScriptedFailure[]): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...failures]);
  }

  /** Stores an experiment as if submitted (QUEUED, with its first event). */
  addExperiment(spec: ExperimentSpec, patch: Partial<Experiment> = {}): Experiment {
    const id = `exp-${String(this.#nextId++).padStart(4, '0')}`;
    const experiment = Experiment.fromPartial({
      id,
      spec,
      resolvedSpec: spec,
      state: ExperimentState.EXPERIMENT_STATE_QUEUED,
      createTime: new Date(Date.UTC(2025, 0, 1, 0, 0, this.#nextId)),
      runs: expandRuns(id, spec),
      ...patch,
    });
    experiment.runCounts = RunCounts.fromPartial({ total: experiment.runs.length, queued: experiment.runs.length });
    this.experiments.set(id, experiment);
    this.events.set(id, []);
    this.addEvent(id, '', {
      $case: 'experimentStateChanged',
      value: { state: experiment.state, previousState: 0, message: '' },
    });
    return experiment;
  }

  /** Appends an event (numbered 1, 2, …) and applies it to the stored experiment. */
  addEvent(experimentId: string, runId: string, payload: ExperimentEvent['payload']): ExperimentEvent {
    const events = this.events.get(experimentId)!;
    const experiment = this.experiments.get(experimentId)!;
    const event = ExperimentEvent.fromPartial({ experimentId, runId, sequence: events.length + 1, time: new Date() });
    event.payload = payload;
    events.push(event);
    experiment.lastSequence = event.sequence;
    const run = experiment.runs.find((r) => r.id === runId);
    if (payload?.$case === 'experimentStateChanged') experiment.state = payload.value.state;
    if (payload?.$case === 'runStateChanged' && run) run.state = payload.value.state;
    if (payload?.$case === 'epochMetrics' && run) run.metrics.push(payload.value);
    if (payload?.$case === 'artifactReady') {
      const list = run ? run.artifacts : experiment.artifacts;
      list.push(payload.value.artifact!);
    }
    for (const listener of this.#listeners.get(experimentId) ?? []) listener();
    return event;
  }

  /** Stores an artifact; `info.sha256` and `sizeBytes` default to the content's. */
  addArtifact(data: Uint8Array, info: Partial<ArtifactInfo> = {}): ArtifactInfo {
    const full = ArtifactInfo.fromPartial({
      id: `art-${this.artifacts.size + 1}`,
      kind: ArtifactKind.ARTIFACT_KIND_REPORT,
      name: 'report.md',
      mediaType: 'text/markdown',
      sizeBytes: data.length,
      sha256: sha256Hex(data),
      createTime: new Date(),
      ...info,
    });
    this.artifacts.set(full.id, { info: full, data });
    return full;
  }

  /**
   * Plays a short successful run of every run of an experiment, one event every `everyMs`: RUNNING, phases,
   * step progress, epoch metrics, final weights, then the report and SUCCEEDED.
   */
  simulateRun(experimentId: string, everyMs: number): void {
    const experiment = this.experiments.get(experimentId)!;
    const steps: (() => void)[] = [];
    const at = (run: string, payload: ExperimentEvent['payload']) =>
      steps.push(() => this.addEvent(experimentId, run, payload));
    const state = (s: ExperimentState, previous: ExperimentState) =>
      at('', { $case: 'experimentStateChanged', value: { state: s, previousState: previous, message: '' } });
    state(ExperimentState.EXPERIMENT_STATE_RUNNING, ExperimentState.EXPERIMENT_STATE_QUEUED);
    for (const run of experiment.runs) {
      const runState = (s: RunState, previous: RunState) =>
        at(run.id, {
          $case: 'runStateChanged',
          value: { state: s, previousState: previous, message: '', worldSize: 1, generation: 1, restarts: 0 },
        });
      runState(RunState.RUN_STATE_RUNNING, RunState.RUN_STATE_QUEUED);
      at(run.id, {
        $case: 'phaseChanged',
        value: { phase: Phase.PHASE_TRAINING, previousPhase: 0, epochsTotal: 1, stepsTotal: 2, pretraining: undefined },
      });
      for (const step of [1, 2]) {
        at(run.id, {
          $case: 'stepProgress',
          value: {
            phase: Phase.PHASE_TRAINING,
            epoch: 1,
            epochsTotal: 1,
            stepInEpoch: step,
            stepsPerEpoch: 2,
            step,
            stepsTotal: 2,
            loss: 2.3 / step,
            epochLoss: 2.3 / step,
            imagesPerSecond: 1000,
            learningRate: 0.01,
            worldSize: 1,
          },
        });
      }
      const accuracy = run.label.includes('sup-walsh') ? 0.91 : 0.87;
      at(run.id, {
        $case: 'epochMetrics',
        value: EpochMetrics.fromPartial({
          phase: Phase.PHASE_TRAINING,
          epoch: 1,
          trainLoss: 0.4,
          trainAccuracy: accuracy - 0.02,
          testLoss: 0.35,
          testAccuracy: accuracy,
          steps: 2,
        }),
      });
      for (const [name, content] of [
        ['model.json', `{"run":"${run.id}"}`],
        ['weights.bin', `weights of ${run.id}`],
      ] as const) {
        steps.push(() => {
          const artifact = this.addArtifact(new TextEncoder().encode(content), {
            experimentId,
            runId: run.id,
            kind: ArtifactKind.ARTIFACT_KIND_WEIGHTS,
            name,
            mediaType: 'application/octet-stream',
          });
          this.addEvent(experimentId, run.id, { $case: 'artifactReady', value: { artifact } });
        });
      }
      runState(RunState.RUN_STATE_SUCCEEDED, RunState.RUN_STATE_RUNNING);
    }
    steps.push(() => {
      const report = `# ${experiment.spec?.name}\n\n${experiment.runs.map((r) => `- ${r.label}`).join('\n')}\n`;
      const artifact = this.addArtifact(new TextEncoder().encode(report), { experimentId });
      this.addEvent(experimentId, '', { $case: 'artifactReady', value: { artifact } });
    });
    state(ExperimentState.EXPERIMENT_STATE_SUCCEEDED, ExperimentState.EXPERIMENT_STATE_RUNNING);
    const next = () => {
      const step = steps.shift();
      if (!step || TERMINAL.has(this.experiments.get(experimentId)!.state)) return;
      step();
      setTimeout(next, everyMs);
    };
    setTimeout(next, everyMs);
  }

  #record(method: FakeMethod, call: AnyCall) {
    const raw = call.getDeadline();
    const deadline = raw instanceof Date ? raw.getTime() : raw;
    const authorization = call.metadata.get('authorization')[0];
    this.calls.push({
      method,
      request: call.request,
      authorization: typeof authorization === 'string' ? authorization : undefined,
      deadline,
      deadlineInMs: deadline - Date.now(),
      at: performance.now(),
    });
  }

  /** Records the call, waits its delay, and returns its scripted failure (if any). */
  async #begin(method: FakeMethod, call: AnyCall): Promise<ScriptedFailure | undefined> {
    this.#record(method, call);
    const delay = this.delays.get(method);
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    return this.failures.get(method)?.shift();
  }

  #unary<Req, Res>(method: FakeMethod, handle: (request: Req) => Res | ScriptedFailure): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      void this.#begin(method, call).then((failure) => {
        const handled = !failure || failure.afterHandling ? handle(call.request) : undefined;
        const result = failure ?? handled!;
        if (isFailure(result)) callback({ code: result.code, details: result.details ?? '', metadata: new Metadata() });
        else callback(null, result);
      });
    };
  }

  readonly impl: CoordinatorServer = {
    submitExperiment: this.#unary<SubmitExperimentRequest, SubmitExperimentResponse>('submitExperiment', (request) => {
      const spec = request.spec;
      if (!spec) return { code: status.INVALID_ARGUMENT, details: 'spec is required' };
      if (spec.name === '') return { code: status.INVALID_ARGUMENT, details: 'name must be 1–64 characters, got ""' };
      const rate = spec.training?.optimizer?.learningRate;
      if (rate !== undefined && !(rate > 0)) {
        return {
          code: status.INVALID_ARGUMENT,
          details: `training.optimizer.learning_rate must be in (0, 10], got ${rate}`,
        };
      }
      if (request.validateOnly) {
        const experiment = Experiment.fromPartial({ spec, resolvedSpec: spec, runs: expandRuns('', spec) });
        return { experiment };
      }
      const known = request.requestId ? this.requestIds.get(request.requestId) : undefined;
      if (known !== undefined) return { experiment: this.experiments.get(known) };
      const experiment = this.addExperiment(spec);
      if (request.requestId) this.requestIds.set(request.requestId, experiment.id);
      if (this.simulateRunsEveryMs !== undefined) this.simulateRun(experiment.id, this.simulateRunsEveryMs);
      return { experiment };
    }),

    getExperiment: this.#unary<GetExperimentRequest, GetExperimentResponse>('getExperiment', ({ experimentId }) => {
      const experiment = this.experiments.get(experimentId);
      return experiment ? { experiment } : { code: status.NOT_FOUND, details: `experiment ${experimentId} not found` };
    }),

    listExperiments: this.#unary<ListExperimentsRequest, ListExperimentsResponse>('listExperiments', (request) => {
      const pageSize = request.pageSize || 50;
      if (pageSize > 500) return { code: status.INVALID_ARGUMENT, details: `page_size must be 0–500, got ${pageSize}` };
      const all = [...this.experiments.values()]
        .filter((e) => request.states.length === 0 || request.states.includes(e.state))
        .filter((e) => (e.spec?.name ?? '').startsWith(request.namePrefix))
        .filter((e) => Object.entries(request.labelSelector).every(([k, v]) => e.spec?.labels[k] === v))
        .reverse();
      const start = request.pageToken ? Number(request.pageToken) : 0;
      const experiments = all.slice(start, start + pageSize).map((e) => ({ ...e, runs: [] }));
      const next = start + pageSize < all.length ? String(start + pageSize) : '';
      return { experiments, nextPageToken: next };
    }),

    cancelExperiment: this.#unary<CancelExperimentRequest, CancelExperimentResponse>(
      'cancelExperiment',
      ({ experimentId, reason }) => {
        const experiment = this.experiments.get(experimentId);
        if (!experiment) return { code: status.NOT_FOUND, details: `experiment ${experimentId} not found` };
        if (experiment.state === ExperimentState.EXPERIMENT_STATE_CANCELLED) return { experiment };
        if (TERMINAL.has(experiment.state)) {
          return { code: status.FAILED_PRECONDITION, details: `experiment ${experimentId} already ended` };
        }
        experiment.statusMessage = reason;
        this.addEvent(experimentId, '', {
          $case: 'experimentStateChanged',
          value: {
            state: ExperimentState.EXPERIMENT_STATE_CANCELLED,
            previousState: experiment.state,
            message: reason,
          },
        });
        return { experiment };
      }
    ),

    watchExperiment: (call: ServerWritableStream<WatchExperimentRequest, WatchExperimentResponse>) => {
      void this.#begin('watchExperiment', call).then((failure) => {
        const { experimentId, afterSequence, replayOnly, omitStepProgress } = call.request;
        const experiment = this.experiments.get(experimentId);
        if (failure) {
          call.emit('error', { ...failure, details: failure.details ?? '' });
          return;
        }
        if (!experiment) {
          call.emit('error', { code: status.NOT_FOUND, details: `experiment ${experimentId}` });
          return;
        }
        if (afterSequence > experiment.lastSequence) {
          call.emit('error', { code: status.INVALID_ARGUMENT, details: 'after_sequence beyond the latest event' });
          return;
        }
        const breakAfter = this.watchBreaks.shift();
        const listeners = this.#listeners.get(experimentId) ?? new Set();
        this.#listeners.set(experimentId, listeners);
        let cursor = afterSequence;
        let sent = 0;
        let ended = false; // by the fake: grpc-js emits 'cancelled' on every close, count only the client's
        const stop = () => {
          ended = true;
          listeners.delete(pump);
        };
        const pump = () => {
          const events = this.events.get(experimentId)!;
          while (cursor < events.length) {
            if (breakAfter !== undefined && sent >= breakAfter) {
              stop();
              call.emit('error', { code: status.UNAVAILABLE, details: 'coordinator draining' });
              return;
            }
            const event = events[cursor++]!;
            if (omitStepProgress && event.payload?.$case === 'stepProgress') continue;
            call.write({ event });
            sent++;
          }
          if (replayOnly || TERMINAL.has(experiment.state)) {
            stop();
            call.end();
          }
        };
        call.on('cancelled', () => {
          if (!ended) this.cancelledStreams++;
          stop();
        });
        listeners.add(pump);
        pump();
      });
    },

    getArtifact: (call: ServerWritableStream<GetArtifactRequest, GetArtifactResponse>) => {
      void this.#begin('getArtifact', call).then((failure) => {
        const { artifactId, offset, chunkBytes } = call.request;
        const artifact = this.artifacts.get(artifactId);
        if (failure) {
          call.emit('error', { ...failure, details: failure.details ?? '' });
          return;
        }
        if (!artifact) {
          call.emit('error', { code: status.NOT_FOUND, details: `artifact ${artifactId}` });
          return;
        }
        if (offset > artifact.data.length) {
          call.emit('error', { code: status.INVALID_ARGUMENT, details: 'offset beyond the size' });
          return;
        }
        let ended = false;
        call.on('cancelled', () => {
          if (!ended) this.cancelledStreams++;
        });
        const breakAfter = this.downloadBreaks.shift();
        const size = chunkBytes || 1_048_576;
        let position = offset;
        let sent = 0;
        do {
          if (breakAfter !== undefined && sent >= breakAfter) {
            ended = true;
            call.emit('error', { code: status.UNAVAILABLE, details: 'connection reset' });
            return;
          }
          const data = artifact.data.subarray(position, position + size);
          call.write({ info: sent === 0 ? artifact.info : undefined, offset: position, data });
          position += data.length;
          sent++;
        } while (position < artifact.data.length);
        ended = true;
        call.end();
      });
    },

    registerWorker: unimplemented,
    heartbeat: unimplemented,
    deregisterWorker: unimplemented,
    listWorkers: unimplemented,
    reportProgress: unimplemented,
    uploadArtifact: (_call, callback) => callback({ code: status.UNIMPLEMENTED, details: 'not in the fake' }),
  };
}

function unimplemented(_call: unknown, callback: (error: { code: status; details: string }) => void): void {
  callback({ code: status.UNIMPLEMENTED, details: 'not in the fake' });
}

function isFailure(value: unknown): value is ScriptedFailure {
  return typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'number';
}

/** The runs of a spec: datasets × models × arms × seeds (seeds default to [0]). */
function expandRuns(experimentId: string, spec: ExperimentSpec): Run[] {
  const runs: Run[] = [];
  const datasets = spec.datasets.length > 0 ? spec.datasets : [{ kind: 0 }];
  const models = spec.models.length > 0 ? spec.models : [{ kind: 0 }];
  const arms = spec.arms.length > 0 ? spec.arms : [{ name: '', initializer: 0 }];
  const seeds = spec.seeds.length > 0 ? spec.seeds : [0];
  for (const dataset of datasets) {
    for (const model of models) {
      for (const arm of arms) {
        for (const seed of seeds) {
          const index = runs.length;
          const armName = arm.name || short(initializerToJSON(arm.initializer), 'INITIALIZER_');
          runs.push(
            Run.fromPartial({
              id: `${experimentId}.r${index}`,
              index,
              seed,
              label: [
                short(datasetKindToJSON(dataset.kind), 'DATASET_KIND_'),
                short(modelKindToJSON(model.kind), 'MODEL_KIND_'),
                armName,
                `seed-${seed}`,
              ].join('/'),
              state: RunState.RUN_STATE_QUEUED,
            })
          );
        }
      }
    }
  }
  return runs;
}

/** A fake coordinator served on 127.0.0.1 (a free port). */
export interface FakeCoordinatorServer {
  fake: FakeCoordinator;
  /** `127.0.0.1:<port>`. */
  address: string;
  /** Stops serving at once, as a killed coordinator: open calls fail UNAVAILABLE, new ones cannot connect. */
  kill(): void;
  /** Serves the same fake (its experiments and events kept) on the same port again, as a restarted coordinator. */
  restart(): Promise<void>;
  /** Stops the server: gracefully within 2 s, then by force. */
  shutdown(): Promise<void>;
}

/** Starts a {@link FakeCoordinator} on a grpc-js server bound to 127.0.0.1:0 (plaintext unless `credentials`). */
export async function startFakeCoordinator(
  fake = new FakeCoordinator(),
  credentials: ServerCredentials = ServerCredentials.createInsecure()
): Promise<FakeCoordinatorServer> {
  const serve = async (address: string) => {
    const server = new Server();
    server.addService(CoordinatorService, fake.impl);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, credentials, (error, p) => (error ? reject(error) : resolve(p)))
    );
    return { server, port };
  };
  let { server, port } = await serve('127.0.0.1:0');
  return {
    fake,
    address: `127.0.0.1:${port}`,
    kill: () => server.forceShutdown(),
    restart: async () => {
      ({ server, port } = await serve(`127.0.0.1:${port}`));
    },
    shutdown: () => shutdownServer(server, 2_000),
  };
}
