import { status } from '@grpc/grpc-js';
import { RunState, ShardFailure, ShardState, ShardStatus, WorkerState } from '@supwalsh/proto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FakeWorker,
  minimalSpec,
  rejection,
  shardReport,
  startTestCoordinator,
  unary,
  waitFor,
  type TestCoordinator,
} from './test-support.js';

describe('heartbeats of a worker whose run moved on to its next generation', () => {
  let coordinator: TestCoordinator | undefined;
  let worker: FakeWorker | undefined;

  afterEach(async () => {
    await worker?.close();
    await coordinator?.close();
    worker = coordinator = undefined;
  });

  it('a heartbeat still listing only the old generation aborts that generation, not the new shard', async () => {
    // Found by the chaos test: a worker's lease keeper repeats the shards of the main thread's last heartbeat, so
    // the first heartbeat after StartShard of generation 2 may list generation 1 alone. Listing the run in
    // abort_run_ids made the worker abort generation 2 as well: one more restart that no fault caused.
    const c = (coordinator = await startTestCoordinator({ leaseTtlMs: 1500, heartbeatIntervalMs: 200 }));
    const a = (worker = await FakeWorker.start(c.address, 'worker-a'));
    await a.register();
    const { experiment } = await unary(c.client.submitExperiment.bind(c.client), {
      spec: minimalSpec({ workers: { minWorkers: 1 } }),
      requestId: '',
      validateOnly: false,
    });
    const first = await waitFor(() => a.starts[0]);
    const shard = (generation: number) =>
      ShardStatus.fromPartial({ runId: first.runId, generation, rank: 0, state: ShardState.SHARD_STATE_RUNNING });
    // Generation 1 breaks (the worker paused past its lease); back, it stops its old shard and gets generation 2.
    await waitFor(async () => {
      const { experiment: e } = await unary(c.client.getExperiment.bind(c.client), { experimentId: experiment!.id });
      return e?.runs[0]?.state === RunState.RUN_STATE_REFORMING;
    });
    expect((await rejection(a.heartbeat(WorkerState.WORKER_STATE_BUSY, [shard(1)]))).code).toBe(status.NOT_FOUND);
    await a.register([shard(1)]);
    await a.heartbeat(WorkerState.WORKER_STATE_BUSY, [shard(1)]);
    const aborted = { state: ShardState.SHARD_STATE_ABORTED, failure: ShardFailure.SHARD_FAILURE_UNSPECIFIED };
    await a.report(first, [shardReport(1, { $case: 'shardFinished', value: { ...aborted, message: 'aborted' } })]);
    const second = await waitFor(() => a.starts[1]);
    expect(second).toMatchObject({ runId: first.runId, generation: 2 });

    const stale = await a.heartbeat(WorkerState.WORKER_STATE_BUSY, [shard(1)]);
    expect(stale.abortShards).toEqual([expect.objectContaining({ runId: first.runId, generation: 1 })]);
    expect(stale.abortRunIds).toEqual([]);
    await a.heartbeat(WorkerState.WORKER_STATE_BUSY, [shard(2)]);
    const { experiment: now } = await unary(c.client.getExperiment.bind(c.client), { experimentId: experiment!.id });
    expect(now?.runs[0]).toMatchObject({ state: RunState.RUN_STATE_RUNNING, generation: 2, restarts: 1 });
  });
});
