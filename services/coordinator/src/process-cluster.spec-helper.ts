/**
 * Test helpers for fault tests: a coordinator and workers as real processes on loopback (the coordinator on a fixed
 * port, so that a restarted one is found again), which a test can kill with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { CoordinatorClient, WorkerState, type ListWorkersResponse } from '@supwalsh/proto';
import { WORKER_MAIN } from '@supwalsh/worker';

/** The compiled coordinator (tests run from src/ and need `tsc -b` first, as the Nx test target does). */
export const COORDINATOR_MAIN = path.resolve(import.meta.dirname, '..', 'dist', 'main.js');

/** A child process of a test. */
export interface TestProcess {
  readonly child: ChildProcess;
  /** Its stdout and stderr so far (for failure messages). */
  log(): string;
  /** Resolves once it has exited. */
  readonly exited: Promise<void>;
  /** SIGKILL: no drain, no flush, no goodbye. */
  kill(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound and released; a tiny race with other processes is acceptable in tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// Each process keeps its telemetry to itself: no Prometheus port shared by several processes.
const PROCESS_ENV = { ...process.env, SUPWALSH_METRICS_PORT: '0' };

function startProcess(args: string[]): TestProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: PROCESS_ENV });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    log: () => output,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Starts `node dist/main.js` of the coordinator on 127.0.0.1:`port` and waits until it answers. */
export async function startCoordinatorProcess(options: {
  port: number;
  dataDir: string;
  extraArgs?: readonly string[];
}): Promise<TestProcess> {
  const address = `127.0.0.1:${options.port}`;
  const coordinator = startProcess([
    COORDINATOR_MAIN,
    '--listen',
    address,
    '--data-dir',
    options.dataDir,
    ...(options.extraArgs ?? []),
  ]);
  try {
    await waitForWorkers(address, [], 30_000, coordinator);
  } catch (error: unknown) {
    await coordinator.kill();
    throw error;
  }
  return coordinator;
}

/** Starts a worker process registering with `coordinator` (not waiting: see {@link waitForWorkers}). */
export function startWorkerProcess(options: {
  id: string;
  coordinator: string;
  dataDir: string;
  cacheDir: string;
}): TestProcess {
  return startProcess([
    WORKER_MAIN,
    '--coordinator',
    options.coordinator,
    '--listen',
    '127.0.0.1:0',
    '--id',
    options.id,
    '--data-dir',
    options.dataDir,
    '--cache-dir',
    options.cacheDir,
    '--backend',
    'wasm',
  ]);
}

/** Polls `ListWorkers` until every one of `ids` is registered and IDLE (and the coordinator answers at all). */
export async function waitForWorkers(
  address: string,
  ids: readonly string[],
  timeoutMs: number,
  watched?: TestProcess
): Promise<void> {
  const client = new CoordinatorClient(address, credentials.createInsecure());
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  try {
    for (;;) {
      const response = await new Promise<ListWorkersResponse | undefined>((resolve) =>
        client.listWorkers({ states: [] }, new Metadata(), { deadline: Date.now() + 2000 }, (error, r) => {
          if (error) last = error.message;
          resolve(error ? undefined : r);
        })
      );
      if (response) {
        const idle = response.workers.filter((w) => w.state === WorkerState.WORKER_STATE_IDLE).map((w) => w.workerId);
        if (ids.every((id) => idle.includes(id))) return;
        last = `idle: ${idle.join(', ') || 'none'}`;
      }
      if (watched && watched.child.exitCode !== null) throw new Error(`the process exited:\n${watched.log()}`);
      if (Date.now() > deadline) throw new Error(`waiting for ${address} (${ids.join(', ')}): ${last}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    client.close();
  }
}
