import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { StartShardRequest, WorkerState } from '@supwalsh/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeCoordinator, waitFor, type FakeCoordinator } from './e2e/fake-coordinator.js';
import { toGrpcStatus, WorkerDrainingError } from './errors.js';
import { silentWorkerLogger } from './logger.js';
import { createWorkerServer, type WorkerServerHandle } from './server.js';

describe('the coordinator link', () => {
  let fake: FakeCoordinator | undefined;
  let worker: WorkerServerHandle | undefined;
  let dataDir: string | undefined;

  afterEach(async () => {
    await worker?.shutdown();
    await fake?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    worker = fake = dataDir = undefined;
  });

  const start = async () => {
    fake = await startFakeCoordinator({ heartbeatIntervalMs: 100 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-worker-link-'));
    worker = await createWorkerServer({
      listen: '127.0.0.1:0',
      workerId: 'link-test',
      dataDir,
      coordinator: fake.address,
      backend: 'wasm',
      logger: silentWorkerLogger,
      tuning: { membershipBackoff: { initialMs: 50, maxMs: 400 }, maxReconnectBackoffMs: 300 },
    });
    return { fake, worker };
  };

  it('registers, heartbeats with its state, and registers again after the coordinator restarts', async () => {
    const { fake, worker } = await start();
    await waitFor('a registration', () => fake.registrations.length === 1);
    const first = fake.registrations[0]!;
    expect(first).toMatchObject({ workerId: 'link-test', address: worker.address, capacity: 1 });
    await waitFor('heartbeats', () => fake.heartbeats.length >= 2);
    expect(fake.heartbeats[0]).toMatchObject({ workerId: 'link-test', state: WorkerState.WORKER_STATE_IDLE });

    // Killed: heartbeats fail with UNAVAILABLE and the worker backs off; nothing arrives meanwhile.
    fake.kill();
    const heartbeatsBefore = fake.heartbeats.length;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(fake.heartbeats.length).toBe(heartbeatsBefore);

    // Back with no memory of the lease: the next heartbeat gets NOT_FOUND and the worker registers again.
    await fake.restart();
    await waitFor('a second registration', () => fake.registrations.length === 2, 10_000);
    expect(fake.heartbeats.length).toBeGreaterThan(heartbeatsBefore);
    expect(fake.registrations[1]).toMatchObject({ workerId: 'link-test', instanceId: first.instanceId });
    await waitFor('the worker to hold the new lease', () => worker.link?.registrations === 2);
    await waitFor('heartbeats on the new lease', () => fake.heartbeats.length >= heartbeatsBefore + 3);
  });

  it('deregisters when drained and refuses new shards as UNAVAILABLE', async () => {
    const { fake, worker } = await start();
    await waitFor('a registration', () => fake.registrations.length === 1);
    // The fake records the registration before the worker has its answer: drain once the worker holds the lease.
    await waitFor('the worker to hold the lease', () => worker.link?.registrations === 1);
    await worker.drain('test drain');
    expect(fake.deregistrations).toEqual([
      expect.objectContaining({ workerId: 'link-test', reason: 'test drain', leaseId: expect.any(String) }),
    ]);
    expect(worker.runtime.state).toBe('STOPPED');
    const refused = (() => {
      try {
        worker.runtime.startShard(StartShardRequest.fromPartial({ runId: 'r', worldSize: 1, generation: 1 }));
      } catch (error: unknown) {
        return error;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(WorkerDrainingError);
    expect(toGrpcStatus(refused).code).toBe(status.UNAVAILABLE);
  });
});
