/**
 * The lease keeper's thread (see lease-keeper.ts): sends the worker's heartbeat whenever the main thread has not
 * sent one for a whole interval — a long synchronous training step or evaluation batch blocks the main thread,
 * not this one. Messages in: `LeaseSnapshot` (after each heartbeat the main thread sent) and `'stop'`; out:
 * `LeaseKeeperEvent`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { status } from '@grpc/grpc-js';
import { ShardStatus, type WorkerState } from '@supwalsh/proto';
import { callUnary, createCoordinatorClient, type CoordinatorClientOptions } from './coordinator-client.js';
import { isServiceError } from './errors.js';
import type { LeaseKeeperEvent, LeaseSnapshot } from './lease-keeper.js';

const port = parentPort;
if (!port) throw new Error('lease-keeper-thread.js runs only as a worker thread');
const { coordinator, deadlineMs, security } = workerData as {
  coordinator: string;
  deadlineMs: number;
  security: Pick<CoordinatorClientOptions, 'tls' | 'token'>;
};
const client = createCoordinatorClient(coordinator, security);
let snapshot: (Omit<LeaseSnapshot, 'shards'> & { shards: ShardStatus[] }) | undefined;
let lastSent = Date.now();
let sending = false;

const post = (event: LeaseKeeperEvent) => port.postMessage(event);

const tick = async (): Promise<void> => {
  if (!snapshot?.leaseId || sending || Date.now() - lastSent < snapshot.intervalMs) return;
  sending = true;
  const beat = snapshot;
  try {
    const response = await callUnary(
      client,
      client.heartbeat,
      { workerId: beat.workerId, leaseId: beat.leaseId, state: beat.state as WorkerState, shards: beat.shards },
      deadlineMs
    );
    lastSent = Date.now();
    post({ type: 'sent', at: lastSent });
    if (response.abortRunIds.length > 0 || response.abortShards.length > 0) {
      post({ type: 'abort', abortRunIds: response.abortRunIds, abortShards: response.abortShards });
    }
  } catch (error: unknown) {
    if (isServiceError(error) && error.code === status.NOT_FOUND && snapshot === beat) {
      snapshot = undefined; // the main thread registers again and sends a new snapshot
      post({ type: 'lease-lost', leaseId: beat.leaseId });
    }
    // Anything else: the main thread's own loop backs off and retries once it runs again.
  } finally {
    sending = false;
  }
};

const timer = setInterval(() => void tick(), 250);
port.on('message', (message: LeaseSnapshot | 'stop') => {
  if (message === 'stop') {
    clearInterval(timer);
    client.close();
    port.close();
    return;
  }
  snapshot = { ...message, shards: message.shards.map((bytes) => ShardStatus.decode(bytes)) };
  lastSent = message.sentAt;
});
