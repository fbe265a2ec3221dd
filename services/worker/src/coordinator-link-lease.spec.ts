import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { WorkerInfo, WorkerState, type AbortShardRequest, type CoordinatorClient } from '@supwalsh/proto';
import { describe, expect, it } from 'vitest';
import { abortsOf, createCoordinatorLink } from './coordinator-link.js';
import type { WorkerLogger } from './logger.js';

type Callback = (error: ServiceError | null, response: unknown) => void;

const notFound = (details: string): ServiceError =>
  Object.assign(new Error(details), { code: status.NOT_FOUND, details, metadata: new Metadata() });

/** A CoordinatorClient whose heartbeats wait until the test answers them. */
function scriptedClient() {
  const registrations: string[] = [];
  const heartbeats: { leaseId: string; answer: Callback }[] = [];
  let leases = 0;
  const client = {
    registerWorker: (_request: unknown, _metadata: Metadata, _options: unknown, callback: Callback) => {
      leases += 1;
      registrations.push(`lease-${leases}`);
      callback(null, {
        leaseId: `lease-${leases}`,
        heartbeatIntervalMs: 20,
        leaseTtlMs: 100,
        abortRunIds: [],
        abortShards: [],
      });
    },
    heartbeat: (request: { leaseId: string }, _metadata: Metadata, _options: unknown, callback: Callback) => {
      heartbeats.push({ leaseId: request.leaseId, answer: callback });
    },
    deregisterWorker: (_request: unknown, _metadata: Metadata, _options: unknown, callback: Callback) =>
      callback(null, {}),
  } as unknown as CoordinatorClient;
  return { client, registrations, heartbeats };
}

function recordingLogger() {
  const warnings: { message: string; fields: Record<string, unknown> | undefined }[] = [];
  const logger: WorkerLogger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message, fields) => warnings.push({ message, fields }),
    error: () => undefined,
  } as WorkerLogger;
  return { logger, warnings };
}

const until = async (condition: () => boolean, timeoutMs = 5_000) => {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe('the coordinator link after a lost lease', () => {
  it('registers once when the lease keeper and a heartbeat in flight both find the lease gone', async () => {
    // Issue item 11: a resumed worker logged "registering again" twice, the second time with an empty lease id.
    const { client, registrations, heartbeats } = scriptedClient();
    const { logger, warnings } = recordingLogger();
    const link = createCoordinatorLink({
      client,
      describe: () => WorkerInfo.fromPartial({ workerId: 'w', state: WorkerState.WORKER_STATE_IDLE }),
      heartbeat: () => ({ state: WorkerState.WORKER_STATE_IDLE, shards: [], commit: () => undefined }),
      onAbort: () => undefined,
      logger,
      backoff: { initialMs: 5, maxMs: 20 },
    });
    link.start();
    await until(() => heartbeats.length === 1); // a heartbeat on lease-1 is in flight
    expect(heartbeats[0]?.leaseId).toBe('lease-1');
    // The keeper thread's heartbeat got NOT_FOUND first; then the main thread's in-flight one does too.
    link.onLeaseKeeperEvent({ type: 'lease-lost', leaseId: 'lease-1' });
    heartbeats[0]?.answer(notFound('unknown lease lease-1'), undefined);
    await until(() => link.leaseId === 'lease-2');
    await until(() => heartbeats.length >= 2);
    const lost = warnings.filter((w) => w.message.includes('does not know this lease'));
    expect(lost).toEqual([expect.objectContaining({ fields: { leaseId: 'lease-1' } })]);
    expect(registrations).toEqual(['lease-1', 'lease-2']);
    expect(heartbeats.every((h) => h.leaseId !== '')).toBe(true);
    for (const h of heartbeats.slice(1))
      h.answer(null, { heartbeatIntervalMs: 20, leaseTtlMs: 100, abortRunIds: [], abortShards: [] });
    await link.close();
  });
});

describe('abort lists', () => {
  it('aborts the listed generations only, and every generation of runs only abort_run_ids names', () => {
    const shards: AbortShardRequest[] = [{ runId: 'exp-a.r0', generation: 1, reason: 'stale' }];
    expect(abortsOf({ abortRunIds: ['exp-a.r1'], abortShards: shards })).toEqual([
      { runId: 'exp-a.r0', generation: 1, reason: 'stale' },
      { runId: 'exp-a.r1', generation: 0, reason: 'listed in abort_run_ids by the coordinator' },
    ]);
    // A run named in both is aborted by generation only: its next generation may have started here since the
    // coordinator answered (a heartbeat answered while the run was re-forming arrives after its StartShard).
    expect(abortsOf({ abortRunIds: ['exp-a.r0'], abortShards: shards })).toEqual(shards);
    // A generation 0 in abort_shards would stop every generation: ignored there (only abort_run_ids means that).
    expect(abortsOf({ abortRunIds: [], abortShards: [{ runId: 'exp-a.r0', generation: 0, reason: '' }] })).toEqual([]);
  });
});
