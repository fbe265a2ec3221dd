import { status } from '@grpc/grpc-js';
import { RunState, ShardState, ShardStatus, WorkerState } from '@supwalsh/proto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FakeWorker,
  minimalSpec,
  rejection,
  startTestCoordinator,
  unary,
  waitFor,
  type TestCoordinator,
} from './test-support.js';

describe('lease expiry', () => {
  let coordinator: TestCoordinator | undefined;
  let worker: FakeWorker | undefined;

  afterEach(async () => {
    await worker?.close();
    await coordinator?.close();
    worker = coordinator = undefined;
  });

  it('a heartbeat after the lease ran out finds it expired and breaks the ring, before the periodic expiry has run', async () => {
    // The periodic pass (lease expiry every scheduleIntervalMs) never runs here: the heartbeat alone must decide.
    const c = (coordinator = await startTestCoordinator({
      leaseTtlMs: 500,
      heartbeatIntervalMs: 100,
      scheduleIntervalMs: 600_000,
    }));
    const a = (worker = await FakeWorker.start(c.address, 'worker-a'));
    await a.register();
    const { experiment: submitted } = await unary(c.client.submitExperiment.bind(c.client), {
      spec: minimalSpec({ workers: { minWorkers: 1 } }),
      requestId: '',
      validateOnly: false,
    });
    const start = await waitFor(() => a.starts[0]);
    const running = [
      ShardStatus.fromPartial({
        runId: start.runId,
        generation: start.generation,
        rank: 0,
        state: ShardState.SHARD_STATE_RUNNING,
      }),
    ];
    await a.heartbeat(WorkerState.WORKER_STATE_BUSY, running);
    // Paused (SIGSTOP) past its lease, then back: its first heartbeat is answered NOT_FOUND.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect((await rejection(a.heartbeat(WorkerState.WORKER_STATE_BUSY, running))).code).toBe(status.NOT_FOUND);

    const { workers } = await unary(c.client.listWorkers.bind(c.client), { states: [] });
    expect(workers.map((w) => [w.workerId, w.state])).toEqual([['worker-a', WorkerState.WORKER_STATE_LOST]]);
    const { experiment } = await unary(c.client.getExperiment.bind(c.client), { experimentId: submitted!.id });
    expect(experiment?.runs.map((r) => [r.state, r.restarts])).toEqual([[RunState.RUN_STATE_REFORMING, 1]]);
  });
});
