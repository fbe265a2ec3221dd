/**
 * Test helpers for fault tests: a coordinator and workers as real processes on loopback (the coordinator on a fixed
 * port, so that a restarted one is found again), which a test can kill with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { CoordinatorClient, WorkerState, type ListWorkersResponse, type WorkerInfo } from '@supwalsh/proto';
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

/** Whether `port` can be bound on 127.0.0.1 right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The kernel's range of ephemeral ports (what `listen(0)` and outgoing connections take), Linux only. */
function ephemeralRange(): readonly [number, number] {
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    if (Number(low) > 0 && Number(high) >= Number(low)) return [Number(low), Number(high)];
  } catch {
    // not Linux: the usual IANA range
  }
  return [49152, 65535];
}

/**
 * A free TCP port on 127.0.0.1 for a server that must come back on the same port (a restarted coordinator):
 * chosen below the ephemeral range, so that no `listen(0)` or outgoing connection of this machine's other
 * processes (workers, other tests) takes it while its server is down; the kernel's pick if none is found there.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const from = 20_000;
  if (low - from > 1000) {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const port = from + Math.floor(Math.random() * (low - from));
      if (await canBind(port)) return port;
    }
  }
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

/** Children still running, killed if this process exits first (a test killed or timed out mid-way). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL'); // stopped (SIGSTOP) ones too
});

function startProcess(args: string[]): TestProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: PROCESS_ENV });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-200_000);
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

/**
 * How long a coordinator may take to answer after its start. Only a guard against a hang: on an idle 2-core machine
 * it answers in about 2 s, but it imports a lot (OpenTelemetry, TF.js through @supwalsh/wire: about 4.5 s of CPU on
 * a loaded machine) and a restarted one shares the cores with the workers training meanwhile (12 s seen under load).
 */
export const COORDINATOR_START_TIMEOUT_MS = 120_000;

/** Starts `node dist/main.js` of the coordinator on 127.0.0.1:`port` and waits until it answers. */
export async function startCoordinatorProcess(options: {
  port: number;
  dataDir: string;
  extraArgs?: readonly string[];
  /** @default {@link COORDINATOR_START_TIMEOUT_MS} */
  timeoutMs?: number;
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
    await waitForWorkers(address, [], options.timeoutMs ?? COORDINATOR_START_TIMEOUT_MS, coordinator);
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

/** One `ListWorkers` call (every state) with a 10 s deadline: the workers, or the error's message. */
export async function listWorkerInfos(address: string): Promise<WorkerInfo[] | string> {
  const client = new CoordinatorClient(address, credentials.createInsecure());
  try {
    return await new Promise<WorkerInfo[] | string>((resolve) =>
      client.listWorkers({ states: [] }, new Metadata(), { deadline: Date.now() + 10_000 }, (error, r) =>
        resolve(error ? error.message : (r as ListWorkersResponse).workers)
      )
    );
  } finally {
    client.close();
  }
}

/** Polls `ListWorkers` until every one of `ids` is registered and IDLE (and the coordinator answers at all). */
export async function waitForWorkers(
  address: string,
  ids: readonly string[],
  timeoutMs: number,
  watched?: TestProcess
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    const workers = await listWorkerInfos(address);
    if (typeof workers === 'string') last = workers;
    else {
      const idle = workers.filter((w) => w.state === WorkerState.WORKER_STATE_IDLE).map((w) => w.workerId);
      if (ids.every((id) => idle.includes(id))) return;
      last = `idle: ${idle.join(', ') || 'none'}`;
    }
    if (watched && (watched.child.exitCode !== null || watched.child.signalCode !== null))
      throw new Error(`the process exited:\n${watched.log()}`);
    if (Date.now() > deadline) throw new Error(`waiting ${timeoutMs} ms for ${address} (${ids.join(', ')}): ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
