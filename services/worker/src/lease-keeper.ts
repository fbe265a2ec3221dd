import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ShardState, ShardStatus, type AbortShardRequest, type WorkerState } from '@supwalsh/proto';
import type { CoordinatorClientOptions } from './coordinator-client.js';
import { silentWorkerLogger, type WorkerLogger } from './logger.js';

/** The latest heartbeat the main thread sent, for the keeper to repeat. */
export interface LeaseSnapshot {
  readonly workerId: string;
  /** Empty: not registered; the keeper sends nothing. */
  readonly leaseId: string;
  readonly intervalMs: number;
  readonly state: WorkerState;
  /** Running shards (`ShardStatus` encoded). */
  readonly shards: Uint8Array[];
  /** When the main thread's heartbeat was accepted (ms since the epoch). */
  readonly sentAt: number;
}

/** What the keeper's thread tells the main thread. */
export type LeaseKeeperEvent =
  | { readonly type: 'sent'; readonly at: number }
  | { readonly type: 'abort'; readonly abortRunIds: string[]; readonly abortShards: AbortShardRequest[] }
  | { readonly type: 'lease-lost'; readonly leaseId: string };

/**
 * Keeps the worker's lease alive while its main thread is busy (PROTOCOL.md steps 2–3): TF.js runs a training
 * step or an evaluation batch synchronously, and on a CPU a large model's step can outlast the lease (10 s by
 * default), which would make the coordinator drop a worker that is only working. A thread repeats the main
 * thread's last heartbeat whenever a whole interval passes without one; what the coordinator answers reaches the
 * main thread when it next runs.
 */
export interface LeaseKeeper {
  /** After every heartbeat (or registration) the main thread made; `leaseId: ''` pauses the keeper. */
  update(snapshot: Omit<LeaseSnapshot, 'shards' | 'sentAt'> & { shards: readonly ShardStatus[] }): void;
  stop(): Promise<void>;
}

const RUNNING = new Set([
  ShardState.SHARD_STATE_STARTING,
  ShardState.SHARD_STATE_RENDEZVOUS,
  ShardState.SHARD_STATE_RUNNING,
]);

/**
 * Starts the keeper's thread, or returns undefined where its compiled script is not next to this module (specs
 * run from TypeScript sources; the worker process runs from dist/).
 */
export function startLeaseKeeper(options: {
  coordinator: string;
  /** TLS material and token of the worker's coordinator client (the thread builds its own client). */
  security?: Pick<CoordinatorClientOptions, 'tls' | 'token'>;
  onEvent: (event: LeaseKeeperEvent) => void;
  deadlineMs?: number;
  logger?: WorkerLogger;
}): LeaseKeeper | undefined {
  const logger = options.logger ?? silentWorkerLogger;
  const script = fileURLToPath(new URL('./lease-keeper-thread.js', import.meta.url));
  if (!existsSync(script)) {
    logger.debug('no lease keeper thread (running from sources)', { script });
    return undefined;
  }
  const thread = new Worker(script, {
    workerData: {
      coordinator: options.coordinator,
      deadlineMs: options.deadlineMs ?? 5_000,
      security: options.security ?? {},
    },
  });
  thread.unref();
  thread.on('message', (event: LeaseKeeperEvent) => options.onEvent(event));
  thread.on('error', (error) => logger.warn('the lease keeper thread failed', { error: error.message }));
  return {
    update(snapshot) {
      const shards = snapshot.shards.filter((s) => RUNNING.has(s.state)).map((s) => ShardStatus.encode(s).finish());
      thread.postMessage({ ...snapshot, shards, sentAt: Date.now() } satisfies LeaseSnapshot);
    },
    async stop() {
      thread.postMessage('stop');
      await thread.terminate();
    },
  };
}
