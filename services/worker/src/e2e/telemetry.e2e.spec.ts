import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { ShardState } from '@supwalsh/proto';
import { ATTR, getTracer, METRIC_NAMES, SPAN_NAMES, withSpan } from '@supwalsh/telemetry';
import { createTracingClientInterceptor } from '@supwalsh/telemetry/grpc';
import { createTelemetryCapture, startTelemetry, type Telemetry } from '@supwalsh/telemetry/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonLogger } from '../logger.js';
import { createWorkerServer, type WorkerServerHandle } from '../server.js';
import { WORKER_SPAN_NAMES } from '../telemetry-names.js';
import { startFakeCoordinator, waitFor, type FakeCoordinator } from './fake-coordinator.js';
import { ringRequests, smallRunSpec, TEST_CACHE_DIR, workerClient } from './harness.js';

type CapturedSpan = ReturnType<ReturnType<typeof createTelemetryCapture>['spans']>[number];

const RUN_ID = 'exp-telemetry.r0';
const START_SHARD = 'supwalsh.v1.Worker/StartShard';

/**
 * The must-show: a small real run — a Sup-Walsh run on a ring of two workers, in this process so that one
 * in-memory exporter sees every span — traced from the StartShard call down to each all-reduce, and the metric
 * names the run exports. The test plays the coordinator's scheduler: its StartShard calls go through the tracing
 * client interceptor inside a root span, as the coordinator's do.
 */
describe('telemetry of a run on a ring of two workers', () => {
  const capture = createTelemetryCapture();
  const logLines: string[] = [];
  let telemetry: Telemetry;
  let fake: FakeCoordinator;
  let dataDir: string;
  let workers: WorkerServerHandle[] = [];
  let spans: CapturedSpan[] = [];

  beforeAll(async () => {
    telemetry = await startTelemetry({
      serviceName: 'supwalsh-worker',
      env: { SUPWALSH_METRICS_PORT: '0' },
      spanExporter: capture.spanExporter,
      metricReader: capture.metricReader,
    });
    fake = await startFakeCoordinator({ heartbeatIntervalMs: 200 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-telemetry-data-'));
    const logger = createJsonLogger({ level: 'info', write: (line) => logLines.push(line) });
    workers = await Promise.all(
      ['t0', 't1'].map((id) =>
        createWorkerServer({
          listen: '127.0.0.1:0',
          workerId: id,
          dataDir,
          cacheDir: TEST_CACHE_DIR,
          coordinator: fake.address,
          backend: 'wasm',
          logger,
          tuning: { shard: { reporter: { batchMs: 50 } } },
        })
      )
    );

    const run = smallRunSpec({}, { checkpointEverySteps: 2 });
    const requests = ringRequests(
      RUN_ID,
      run,
      workers.map((w) => ({ id: w.workerId, address: w.address }))
    );
    const clients = workers.map((w) => workerClient(w.address, { interceptors: [createTracingClientInterceptor()] }));
    try {
      const accepted = await withSpan(getTracer(), 'test.coordinator.start_ring', {}, () =>
        Promise.all(requests.map((request, rank) => clients[rank]!.startShard(request)))
      );
      for (const a of accepted) expect(a.shard?.state).toBe(ShardState.SHARD_STATE_STARTING);
    } finally {
      for (const c of clients) c.close();
    }
    const finished = await waitFor(
      'both ShardFinished',
      () => [0, 1].every((rank) => fake.finished(RUN_ID, 1, rank)),
      120_000
    );
    expect(finished).toBe(true);
    await waitFor('both shard spans', () =>
      capture.spans().filter((s) => s.name === WORKER_SPAN_NAMES.shard).length === 2 ? true : false
    );
    spans = capture.spans();
  }, 180_000);

  afterAll(async () => {
    for (const w of workers) await w.shutdown();
    await fake?.close();
    await telemetry?.shutdown();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const id = (s: CapturedSpan) => s.spanContext().spanId;
  const named = (name: string, kind?: SpanKind) =>
    spans.filter((s) => s.name === name && (kind === undefined || s.kind === kind));
  const parentOf = (s: CapturedSpan) => spans.find((p) => id(p) === s.parentSpanContext?.spanId);
  const childrenOf = (parent: CapturedSpan, name: string) =>
    spans.filter((s) => s.name === name && s.parentSpanContext?.spanId === id(parent));
  const ancestors = (s: CapturedSpan): CapturedSpan[] => {
    const chain: CapturedSpan[] = [];
    for (let p = parentOf(s); p; p = parentOf(p)) chain.push(p);
    return chain;
  };

  it('is one trace: StartShard (client → server) → shard → run → pretraining and training steps → all-reduce', () => {
    const [root] = named('test.coordinator.start_ring');
    expect(root).toBeDefined();
    const traceId = root!.spanContext().traceId;

    const clientCalls = named(START_SHARD, SpanKind.CLIENT);
    expect(clientCalls).toHaveLength(2);
    for (const c of clientCalls) expect(parentOf(c)).toBe(root);

    for (const rank of [0, 1]) {
      const [run] = named(SPAN_NAMES.run).filter((s) => s.attributes[ATTR.rank] === rank);
      expect(run, `run span of rank ${rank}`).toBeDefined();
      expect(run!.attributes).toMatchObject({ [ATTR.worldSize]: 2, [ATTR.model]: 'base', [ATTR.arm]: 'sup-walsh' });
      // run → shard → the handler's span → the RPC's server span → the coordinator's client span → its root
      const [shard, handler, server, client, top] = ancestors(run!);
      expect(shard?.name).toBe(WORKER_SPAN_NAMES.shard);
      expect(shard?.attributes[ATTR.rank]).toBe(rank);
      expect(handler?.name).toBe(WORKER_SPAN_NAMES.startShard);
      expect(server).toMatchObject({ name: START_SHARD, kind: SpanKind.SERVER });
      expect(server?.attributes).toMatchObject({ 'rpc.system.name': 'grpc', 'rpc.status_code': 'OK' });
      expect(client).toMatchObject({ name: START_SHARD, kind: SpanKind.CLIENT });
      expect(top).toBe(root);

      // Pretraining: 3 steps (limits.max_steps_per_epoch), each with its t-SNE embeddings and one fused all-reduce.
      const pretrainSteps = childrenOf(run!, SPAN_NAMES.pretrainStep);
      expect(pretrainSteps.map((s) => s.attributes[ATTR.step])).toEqual([1, 2, 3]);
      for (const step of pretrainSteps) {
        expect(childrenOf(step, SPAN_NAMES.tsne).length).toBeGreaterThanOrEqual(1);
        const allReduces = childrenOf(step, SPAN_NAMES.collectiveAllReduce);
        expect(allReduces).toHaveLength(1);
        expect(allReduces[0]!.attributes).toMatchObject({ [ATTR.rank]: rank, [ATTR.runId]: RUN_ID });
      }
      // Training: 2 epochs × 3 steps, each with its all-reduce.
      const trainSteps = childrenOf(run!, SPAN_NAMES.trainStep);
      expect(trainSteps).toHaveLength(6);
      for (const step of trainSteps) expect(childrenOf(step, SPAN_NAMES.collectiveAllReduce)).toHaveLength(1);
      // The evaluations sum over the ring too.
      for (const evaluation of childrenOf(run!, SPAN_NAMES.evaluate)) {
        expect(childrenOf(evaluation, SPAN_NAMES.collectiveAllReduce)).toHaveLength(1);
      }
    }

    // Everything the run did is in the coordinator's trace.
    const runDescendants = spans.filter((s) => ancestors(s).some((a) => a.name === SPAN_NAMES.run));
    expect(runDescendants.length).toBeGreaterThan(30);
    for (const s of runDescendants) expect(s.spanContext().traceId).toBe(traceId);
  });

  it('traces rank 0’s checkpoints, their upload RPCs included', () => {
    const checkpoints = named(SPAN_NAMES.checkpointSave);
    expect(checkpoints.length).toBeGreaterThanOrEqual(2);
    for (const checkpoint of checkpoints) {
      const run = parentOf(checkpoint);
      expect(run?.name).toBe(SPAN_NAMES.run);
      expect(run?.attributes[ATTR.rank]).toBe(0);
      const uploads = spans.filter(
        (s) => s.name === 'supwalsh.v1.Coordinator/UploadArtifact' && ancestors(s).includes(checkpoint)
      );
      expect(uploads, `upload of checkpoint ${JSON.stringify(checkpoint.attributes)}`).toHaveLength(1);
    }
    expect(checkpoints.map((c) => c.attributes[ATTR.phase])).toEqual(
      expect.arrayContaining(['pretraining', 'training'])
    );
  });

  it('exports the step, throughput and all-reduce metrics', async () => {
    const names = await capture.metricNames();
    expect(names).toEqual(
      expect.arrayContaining([
        METRIC_NAMES.stepDuration,
        METRIC_NAMES.trainImages,
        METRIC_NAMES.collectiveBytes,
        METRIC_NAMES.collectiveWireBytes,
        METRIC_NAMES.collectiveDuration,
        METRIC_NAMES.collectiveAlgBandwidth,
        METRIC_NAMES.collectiveBusBandwidth,
      ])
    );
    const images = (await capture.metrics()).find((m) => m.descriptor.name === METRIC_NAMES.trainImages)!;
    const byPhase = Object.fromEntries(images.dataPoints.map((p) => [p.attributes[ATTR.phase], p.value]));
    // Training: 6 global batches of 32, split over the two ranks.
    expect(byPhase['training']).toBe(6 * 32);
    expect(byPhase['pretraining']).toBeGreaterThan(0);
  });

  it('writes the trace id into the log lines of the shard', () => {
    const traceId = named('test.coordinator.start_ring')[0]!.spanContext().traceId;
    const started = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === 'shard started');
    expect(started).toHaveLength(2);
    for (const line of started) {
      expect(line).toMatchObject({ service: 'supwalsh-worker', trace_id: traceId, span_id: expect.any(String) });
    }
  });
});
