import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { credentials } from '@grpc/grpc-js';
import { CoordinatorClient, WorkerState, type ListWorkersResponse } from '@supwalsh/proto';
import { createTracingClientInterceptor } from '@supwalsh/telemetry/grpc';
import { WORKER_MAIN } from '@supwalsh/worker';
import { silentLogger, type CoordinatorLogger } from '../logger.js';
import { createCoordinatorServer, type CoordinatorServerHandle } from '../server.js';
import { openStore, type Store } from '../store.js';

export interface LocalClusterOptions {
  /** Worker processes to start. */
  workers: number;
  /** Coordinator store, artifacts and the workers' data directory. */
  dataDir: string;
  /** Preprocessed-dataset cache shared by the workers. */
  cacheDir?: string;
  logger?: CoordinatorLogger;
  /** Where worker processes' own log lines go. @default discarded */
  workerLog?: (line: string) => void;
  /** How long to wait for the workers to register. @default 120 000 */
  startTimeoutMs?: number;
  /** Called with the dashboard's address (on 127.0.0.1, a free port) as soon as the coordinator serves it. */
  onDashboard?: (url: string) => void;
}

/** An embedded coordinator and worker processes on loopback. */
export interface LocalCluster {
  /** `host:port` of the coordinator. */
  readonly address: string;
  /** The web dashboard, e.g. `http://127.0.0.1:41234/`. */
  readonly dashboardUrl: string;
  readonly workerIds: readonly string[];
  /** Drains the workers (SIGTERM), stops the coordinator and closes its store. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Starts the local cluster of `nx run coordinator:submit` without `--coordinator`: the coordinator in this process
 * on 127.0.0.1 (an ephemeral port) and `workers` worker processes (one per core on a CPU machine; each gets
 * SUPWALSH_THREADS = cores / workers), and waits until every worker has registered. Throws StoreIntegrityError
 * (before starting anything) when the data directory's store cannot be trusted.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const logger = options.logger ?? silentLogger;
  const store: Store = openStore(options.dataDir);
  let server: CoordinatorServerHandle | undefined;
  const children: ChildProcess[] = [];
  const shutdown = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          })
      )
    );
    children.length = 0;
    await server?.shutdown();
    server = undefined;
    store.close();
  };
  try {
    server = await createCoordinatorServer({
      store,
      dataDir: options.dataDir,
      artifactsDir: path.join(options.dataDir, 'artifacts'),
      listen: '127.0.0.1:0',
      httpListen: '127.0.0.1:0',
      logger,
    });
    options.onDashboard?.(server.dashboardUrl!);
    const address = `127.0.0.1:${server.port}`;
    const workerIds = Array.from({ length: options.workers }, (_, i) => `local-${i}`);
    const main = WORKER_MAIN;
    await Promise.all(
      workerIds.map((id) => {
        const args = [
          main,
          '--coordinator',
          address,
          '--listen',
          '127.0.0.1:0',
          '--id',
          id,
          '--data-dir',
          options.dataDir,
        ];
        if (options.cacheDir) args.push('--cache-dir', options.cacheDir);
        const child = spawn(process.execPath, args, {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: localWorkerEnv(options.workers),
        });
        children.push(child);
        const forward = (line: string) => options.workerLog?.(`[${id}] ${line}`);
        createInterface({ input: child.stderr! }).on('line', forward);
        return new Promise<void>((resolve, reject) => {
          createInterface({ input: child.stdout! }).on('line', (line) => {
            if (line.startsWith(`worker ${id} listening on `)) resolve();
            else forward(line);
          });
          child.once('exit', (code) => reject(new Error(`local worker ${id} exited with ${code} before it started`)));
        });
      })
    );
    await waitForWorkers(address, workerIds, options.startTimeoutMs ?? 120_000);
    return { address, dashboardUrl: server.dashboardUrl!, workerIds, shutdown };
  } catch (error: unknown) {
    await shutdown();
    throw error;
  }
}

/** The engine threads each of `workers` local worker processes gets: the machine's cores shared out, at least 1. */
export function localWorkerThreads(workers: number, cores = os.availableParallelism()): number {
  return Math.max(1, Math.floor(cores / workers));
}

/**
 * The worker processes' environment: this one without the security and health settings, which belong to a real
 * deployment — the embedded cluster is plaintext and open, on loopback only — and with SUPWALSH_THREADS set to a
 * fair share of the cores, so that N workers' engines do not each start a thread per core.
 */
export function localWorkerEnv(workers: number, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  env = { ...env };
  for (const name of [
    'SUPWALSH_TLS_CERT',
    'SUPWALSH_TLS_KEY',
    'SUPWALSH_TLS_CA',
    'SUPWALSH_TOKEN',
    'SUPWALSH_TOKEN_FILE',
    'SUPWALSH_HEALTH_LISTEN',
  ]) {
    delete env[name];
  }
  env['SUPWALSH_THREADS'] = String(localWorkerThreads(workers));
  env['SUPWALSH_METRICS_PORT'] ??= '0'; // N workers on one host would fight over 9464: no endpoint unless set
  return env;
}

/** Polls `ListWorkers` until every one of `ids` is registered and idle. */
async function waitForWorkers(address: string, ids: readonly string[], timeoutMs: number): Promise<void> {
  const client = new CoordinatorClient(address, credentials.createInsecure(), {
    interceptors: [createTracingClientInterceptor()],
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const response = await new Promise<ListWorkersResponse>((resolve, reject) =>
        client.listWorkers({ states: [] }, (error, r) => (error ? reject(error) : resolve(r)))
      );
      const idle = new Set(
        response.workers.filter((w) => w.state === WorkerState.WORKER_STATE_IDLE).map((w) => w.workerId)
      );
      if (ids.every((id) => idle.has(id))) return;
      if (Date.now() > deadline) {
        throw new Error(
          `local workers did not register within ${timeoutMs} ms (registered: ${[...idle].join(', ') || 'none'})`
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    client.close();
  }
}
