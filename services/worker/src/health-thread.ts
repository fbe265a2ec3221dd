import path from 'node:path';
import { Worker } from 'node:worker_threads';

/** What the health port says of every service: grpc.health.v1's two statuses a worker uses. */
export type HealthStatus = 'SERVING' | 'NOT_SERVING';

/** Options of {@link startHealthThread}. */
export interface HealthThreadOptions {
  /** `host:port` of the plaintext health server (port 0: a free one). */
  readonly listen: string;
  /** The service names it answers for (`''` is the whole server). */
  readonly services: readonly string[];
  /**
   * How long the main thread may go without a heartbeat before every service reads NOT_SERVING. A training step
   * or an evaluation batch runs synchronously and may take tens of seconds on a CPU; a main thread stuck for longer
   * than this is taken to be hung (a liveness probe then restarts the pod). @default 120 000
   */
  readonly stallMs?: number;
  /** How often the main thread writes its heartbeat. @default 1000 */
  readonly beatMs?: number;
}

/** The health server on its own thread. */
export interface HealthThread {
  /** `host:port` it listens on. */
  readonly address: string;
  /** The status the main thread wants reported (a stalled main thread reads NOT_SERVING whatever this is). */
  setStatus(status: HealthStatus): void;
  /** Stops the heartbeat, the server and the thread. Idempotent. */
  stop(): Promise<void>;
}

/** What the thread gets (`workerData`). */
export interface HealthThreadData {
  readonly listen: string;
  readonly services: readonly string[];
  readonly stallMs: number;
  /** One BigInt64: the main thread's last heartbeat, ms since the epoch (Atomics.store / Atomics.load). */
  readonly beat: SharedArrayBuffer;
}

/** Messages to the thread. */
export type HealthThreadRequest =
  { readonly type: 'status'; readonly status: HealthStatus } | { readonly type: 'stop' };

/** Messages from the thread. */
export type HealthThreadReply =
  { readonly type: 'listening'; readonly port: number } | { readonly type: 'error'; readonly message: string };

/** The compiled thread script (specs run from src/ and use the built dist/, as `WORKER_MAIN` does). */
const SCRIPT = path.join(import.meta.dirname, '..', 'dist', 'health-server-thread.js');

/**
 * The service name a liveness probe asks for: SERVING while the main thread's heartbeat is fresh, whatever the
 * worker's state — a draining worker (NOT_SERVING for readiness) is alive and must not be restarted mid-hand-over.
 */
export const LIVENESS_SERVICE = 'liveness';

/** @default of {@link HealthThreadOptions.stallMs}. */
export const DEFAULT_HEALTH_STALL_MS = 120_000;

/**
 * Serves grpc.health.v1 on `listen` from a worker thread, so that a probe is answered at once while the main
 * thread is inside a long synchronous training step (a health server on the main thread answers only between
 * steps, which forced lenient liveness probes). The main thread writes `Date.now()` into a shared BigInt64 every
 * `beatMs` from a timer — timers run only when the main thread's event loop does — and the thread reports
 * NOT_SERVING for every service while that heartbeat is older than `stallMs`: a hung main thread (an endless loop,
 * a deadlocked native call) fails the probe, a busy one does not. Statuses (SERVING, NOT_SERVING when draining)
 * reach the thread as messages; `services` start NOT_SERVING. One more service, {@link LIVENESS_SERVICE}, says only
 * whether the main thread runs (for liveness probes, which must not fail while a worker drains).
 */
export async function startHealthThread(options: HealthThreadOptions): Promise<HealthThread> {
  const beat = new SharedArrayBuffer(8);
  const beats = new BigInt64Array(beat);
  const write = () => Atomics.store(beats, 0, BigInt(Date.now()));
  write();
  const data: HealthThreadData = {
    listen: options.listen,
    services: options.services,
    stallMs: options.stallMs ?? DEFAULT_HEALTH_STALL_MS,
    beat,
  };
  const thread = new Worker(SCRIPT, { workerData: data });
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    thread.once('message', (reply: HealthThreadReply) =>
      reply.type === 'listening'
        ? resolve(reply.port)
        : reject(new Error(`cannot serve health on ${options.listen}: ${reply.message}`))
    );
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`the health thread exited with ${code} before it listened`)));
  }).catch(async (error: unknown) => {
    await thread.terminate();
    throw error;
  });
  const timer = setInterval(write, options.beatMs ?? 1000);
  timer.unref();
  thread.unref(); // the worker process ends when its main thread is done, health server or not
  let stopping: Promise<void> | undefined;
  const send = (request: HealthThreadRequest) => thread.postMessage(request);
  return {
    address: `${options.listen.slice(0, options.listen.lastIndexOf(':'))}:${port}`,
    setStatus: (status) => {
      if (!stopping) send({ type: 'status', status });
    },
    stop() {
      stopping ??= (async () => {
        clearInterval(timer);
        send({ type: 'stop' });
        const timeout = setTimeout(() => void thread.terminate(), 2_000);
        await exited;
        clearTimeout(timeout);
      })();
      return stopping;
    },
  };
}
