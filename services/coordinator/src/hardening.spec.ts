// Regression tests of the hardening issue, part A (a hostile client on loopback), and a fuzz test of the client
// RPCs: each numbered item failed before the change. Tokens: two clients, an admin and two worker pools.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  ArtifactKind,
  CoordinatorClient,
  ExperimentSpec,
  Phase,
  SubmitExperimentRequest,
  type StartShardRequest,
  type StepProgress,
} from '@supwalsh/proto';
import { createBearerTokenInterceptor, createTokenSet } from '@supwalsh/security';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FakeWorker,
  minimalSpec,
  rejection,
  shardReport,
  startTestCoordinator,
  unary,
  waitFor,
  watchAll,
  type TestCoordinator,
} from './test-support.js';

const TOKENS = {
  alice: 'alice-token-0123456789',
  bob: 'bob-token-0123456789ab',
  root: 'root-token-0123456789a',
  poolA: 'pool-a-token-012345678',
  poolB: 'pool-b-token-012345678',
};

let t: TestCoordinator;
const clients: { close(): void }[] = [];
const as = (token: string): CoordinatorClient => {
  const client = new CoordinatorClient(t.address, credentials.createInsecure(), {
    interceptors: [createBearerTokenInterceptor(token)],
  });
  clients.push(client);
  return client;
};
const workers: FakeWorker[] = [];

beforeAll(async () => {
  t = await startTestCoordinator(
    {},
    {
      tokens: createTokenSet([
        { token: TOKENS.alice, principal: { name: 'alice', role: 'client' }, bare: false },
        { token: TOKENS.bob, principal: { name: 'bob', role: 'client' }, bare: false },
        { token: TOKENS.root, principal: { name: 'root', role: 'admin' }, bare: false },
        { token: TOKENS.poolA, principal: { name: 'pool-a', role: 'worker' }, bare: false },
        { token: TOKENS.poolB, principal: { name: 'pool-b', role: 'worker' }, bare: false },
      ]),
    }
  );
});

afterAll(async () => {
  for (const client of clients) client.close();
  for (const worker of workers) await worker.close();
  await t.close();
});

const step = (epoch: number, stepNo: number, overrides: Partial<StepProgress> = {}): StepProgress => ({
  phase: Phase.PHASE_TRAINING,
  epoch,
  epochsTotal: 3,
  stepInEpoch: ((stepNo - 1) % 4) + 1,
  stepsPerEpoch: 4,
  step: stepNo,
  stepsTotal: 12,
  loss: 0.5,
  epochLoss: 0.6,
  imagesPerSecond: 10,
  etaSeconds: 1,
  learningRate: 0.01,
  worldSize: 1,
  ...overrides,
});
const metrics = (epoch: number, trainAccuracy = 0.5) => ({
  phase: Phase.PHASE_TRAINING,
  epoch,
  trainLoss: 0.5,
  trainAccuracy,
  testLoss: 0.4,
  testAccuracy: 0.6,
  trainSamples: 16,
  testSamples: 8,
  steps: 4,
  durationSeconds: 1,
});

describe('hardening, part A', () => {
  let experimentId = '';
  let start: StartShardRequest;
  let worker: FakeWorker;
  let sequence = 0;

  it('item 2: an experiment records its submitter; other clients neither list, get, watch nor cancel it', async () => {
    const alice = as(TOKENS.alice);
    const submitted = await unary(alice.submitExperiment.bind(alice), {
      spec: minimalSpec({ training: { epochs: 3 } }),
      requestId: 'alice-1',
      validateOnly: false,
    });
    experimentId = submitted.experiment!.id;
    expect(submitted.experiment?.owner).toBe('alice');
    const bob = as(TOKENS.bob);
    const listed = await unary(bob.listExperiments.bind(bob), {
      pageSize: 0,
      pageToken: '',
      states: [],
      labelSelector: {},
      namePrefix: '',
    });
    expect(listed.experiments.map((e) => e.id)).not.toContain(experimentId);
    for (const call of [
      unary(bob.getExperiment.bind(bob), { experimentId }),
      unary(bob.cancelExperiment.bind(bob), { experimentId, reason: 'mine now' }),
      watchAll(bob, { experimentId }),
    ]) {
      const error = await rejection(call);
      expect(error.code).toBe(status.PERMISSION_DENIED);
      expect(error.details).toContain(`experiment ${experimentId} belongs to another principal`);
    }
    // Bob cannot learn the experiment through its request_id either.
    const reuse = await rejection(
      unary(bob.submitExperiment.bind(bob), { spec: minimalSpec(), requestId: 'alice-1', validateOnly: false })
    );
    expect(reuse.code).toBe(status.ALREADY_EXISTS);
    expect(reuse.details).not.toContain(experimentId);
    const root = as(TOKENS.root);
    expect((await unary(root.getExperiment.bind(root), { experimentId })).experiment?.owner).toBe('alice');
    expect(t.store.getExperiment(experimentId)?.state).toBe('QUEUED');
  });

  it('item 1: a client token is no worker credential; a worker id and its runs belong to the registering principal', async () => {
    const alice = as(TOKENS.alice);
    const refused = await rejection(unary(alice.registerWorker.bind(alice), { worker: undefined }));
    expect(refused.code).toBe(status.PERMISSION_DENIED);
    expect(refused.details).toContain('alice has role client');

    worker = await FakeWorker.start(t.address, 'w-1', TOKENS.poolA);
    workers.push(worker);
    await worker.register();
    start = await waitFor(() => worker.starts[0]);

    // Another pool registering the same id, while its lease lives, is refused.
    const intruder = await FakeWorker.start(t.address, 'w-1', TOKENS.poolB);
    workers.push(intruder);
    const hijack = await rejection(intruder.register());
    expect(hijack.code).toBe(status.FAILED_PRECONDITION);
    expect(hijack.details).toContain('holds a live lease of another');
    // Nor may it report or upload as w-1.
    const events = t.store.getExperiment(experimentId)!.lastSequence;
    const report = await rejection(
      intruder.report(start, [shardReport(1, { $case: 'stepProgress', value: step(1, 1) })])
    );
    expect(report.code).toBe(status.PERMISSION_DENIED);
    const upload = await rejection(
      intruder.upload(start, ArtifactKind.ARTIFACT_KIND_CHECKPOINT, 'fake.swck', new Uint8Array([1, 2, 3]), {
        checkpoint: {
          artifactId: '',
          runId: start.runId,
          phase: Phase.PHASE_TRAINING,
          epoch: 1,
          step: 1,
          endOfEpoch: false,
          generation: start.generation,
          worldSize: 1,
          sizeBytes: 3,
          sha256: '',
          createTime: undefined,
        },
      })
    );
    expect(upload.code).toBe(status.PERMISSION_DENIED);
    // A second process of the same pool under w-1 (another instance: a zombie or a replaced process) may neither
    // register, report nor upload while w-1's instance holds the rank; a report naming no instance is invalid.
    const twin = await FakeWorker.start(t.address, 'w-1', TOKENS.poolA);
    workers.push(twin);
    expect((await rejection(twin.register())).details).toContain('holds a live lease of another instance');
    const twinReport = await rejection(
      twin.report(start, [shardReport(1, { $case: 'stepProgress', value: step(1, 1) })])
    );
    expect(twinReport.code).toBe(status.FAILED_PRECONDITION);
    expect(twinReport.details).toContain(`worker w-1 is now instance ${worker.instanceId}`);
    const twinUpload = await rejection(
      twin.upload(start, ArtifactKind.ARTIFACT_KIND_WEIGHTS, 'weights.bin', new Uint8Array([1, 2, 3]))
    );
    expect(twinUpload.code).toBe(status.FAILED_PRECONDITION);
    const poolAClient = as(TOKENS.poolA);
    const anonymous = await rejection(
      unary(poolAClient.reportProgress.bind(poolAClient), {
        workerId: 'w-1',
        runId: start.runId,
        generation: start.generation,
        rank: 0,
        reports: [shardReport(1, { $case: 'stepProgress', value: step(1, 1) })],
        instanceId: '',
      })
    );
    expect(anonymous.code).toBe(status.INVALID_ARGUMENT);
    expect(anonymous.details).toContain('instance_id is required');
    expect(t.store.getExperiment(experimentId)!.lastSequence).toBe(events);
    expect(t.store.getRun(start.runId)?.latestCheckpoint ?? null).toBeNull();
    expect(t.store.listArtifacts(experimentId, start.runId)).toEqual([]);
    // Workers cannot use client RPCs; ListWorkers hides addresses from all but admins.
    const poolA = as(TOKENS.poolA);
    expect((await rejection(unary(poolA.getExperiment.bind(poolA), { experimentId }))).code).toBe(
      status.PERMISSION_DENIED
    );
    const seen = await unary(poolA.listWorkers.bind(poolA), { states: [] });
    expect(seen.workers.map((w) => w.address)).toEqual(['']);
    const root = as(TOKENS.root);
    expect((await unary(root.listWorkers.bind(root), { states: [] })).workers[0]?.address).toBe(worker.address);
  });

  it('item 3: implausible progress, metrics and checkpoints are refused and nothing is stored', async () => {
    const before = t.store.getExperiment(experimentId)!.lastSequence;
    const bad: [string, Parameters<typeof shardReport>[1]][] = [
      ['epoch', { $case: 'stepProgress', value: step(99, 1) }],
      ['loss', { $case: 'stepProgress', value: step(1, 1, { loss: Number.NaN }) }],
      ['step', { $case: 'stepProgress', value: step(1, 1e9, { stepsTotal: 10 }) }],
      ['train_accuracy', { $case: 'epochMetrics', value: metrics(1, 7.5) }],
      ['epoch', { $case: 'epochMetrics', value: metrics(2) }], // a forged epoch 2 before the real epoch 1
    ];
    // A valid first step, so that the metrics are judged against a run in epoch 1.
    expect(
      (await worker.report(start, [shardReport(++sequence, { $case: 'stepProgress', value: step(1, 1) })]))
        .ackedSequence
    ).toBe(sequence);
    const stored = t.store.getExperiment(experimentId)!.lastSequence;
    expect(stored).toBe(before + 1);
    for (const [field, payload] of bad) {
      const error = await rejection(worker.report(start, [shardReport(sequence + 1, payload)]));
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toContain(field);
      expect(t.store.getExperiment(experimentId)!.lastSequence).toBe(stored);
    }
    const checkpoint = await rejection(
      worker.upload(start, ArtifactKind.ARTIFACT_KIND_CHECKPOINT, 'ahead.swck', new Uint8Array([1]), {
        checkpoint: {
          artifactId: '',
          runId: start.runId,
          phase: Phase.PHASE_TRAINING,
          epoch: 3,
          step: 999_999,
          endOfEpoch: true,
          generation: start.generation,
          worldSize: 1,
          sizeBytes: 1,
          sha256: '',
          createTime: undefined,
        },
      })
    );
    expect(checkpoint.code).toBe(status.INVALID_ARGUMENT);
    expect(checkpoint.details).toContain('header.checkpoint.epoch');
    expect(t.store.getRun(start.runId)?.latestCheckpoint ?? null).toBeNull();
    // The real epoch-1 metrics are stored, and the run's metrics stay in epoch order.
    await worker.report(start, [
      shardReport(++sequence, { $case: 'stepProgress', value: step(1, 4) }),
      shardReport(++sequence, { $case: 'epochMetrics', value: metrics(1) }),
      shardReport(++sequence, { $case: 'stepProgress', value: step(2, 5) }),
    ]);
    const out = await rejection(
      worker.report(start, [shardReport(sequence + 1, { $case: 'stepProgress', value: step(2, 2) })])
    );
    expect(out.details).toContain('must increase');
    expect(t.store.listRunMetrics(start.runId).map((m) => m.epoch)).toEqual([1]);
  });

  it('item 5: uint64 values above 2^53 come back INVALID_ARGUMENT naming the field, not INTERNAL', async () => {
    const raw = new Client(t.address, credentials.createInsecure(), {
      interceptors: [createBearerTokenInterceptor(TOKENS.alice)],
    });
    clients.push(raw);
    const call = (method: string, bytes: Uint8Array, stream: boolean): Promise<ServiceError> =>
      new Promise((resolve, reject) => {
        const path = `/supwalsh.v1.Coordinator/${method}`;
        const id = (b: Uint8Array) => Buffer.from(b);
        if (stream) {
          const s = raw.makeServerStreamRequest(path, id, id, bytes, new Metadata());
          s.on('data', () => undefined);
          s.on('error', resolve);
          s.on('end', () => reject(new Error(`${method} succeeded`)));
        } else {
          raw.makeUnaryRequest(path, id, id, bytes, (error) =>
            error ? resolve(error) : reject(new Error(`${method} succeeded`))
          );
        }
      });
    const max = 2n ** 64n - 1n;
    const watch = new BinaryWriter().uint32(10).string(experimentId).uint32(16).uint64(max).finish();
    const artifact = new BinaryWriter().uint32(10).string('a-1').uint32(16).uint64(max).finish();
    const submit = new BinaryWriter()
      .uint32(10)
      .bytes(
        new BinaryWriter()
          .uint32(10)
          .string('big')
          .uint32((15 << 3) | 2)
          .bytes(new BinaryWriter().uint32(8).uint64(max).finish())
          .finish()
      )
      .finish();
    for (const [method, bytes, stream, field] of [
      ['WatchExperiment', watch, true, 'after_sequence'],
      ['GetArtifact', artifact, true, 'offset'],
      ['SubmitExperiment', submit, false, 'spec.limits.experiment_timeout_seconds'],
    ] as const) {
      const error = await call(method, bytes, stream);
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toBe(`${field} must be at most 9007199254740991 (2^53 - 1), got ${max}`);
    }
    const garbage = await call('SubmitExperiment', new Uint8Array([10, 50, 1]), false);
    expect(garbage.code).toBe(status.INVALID_ARGUMENT);
  });

  it('fuzz: random and mutated specs and requests never yield INTERNAL, and refused ones change nothing', async () => {
    const alice = as(TOKENS.alice);
    const raw = new Client(t.address, credentials.createInsecure(), {
      interceptors: [createBearerTokenInterceptor(TOKENS.alice)],
    });
    clients.push(raw);
    const id = (b: Uint8Array) => Buffer.from(b);
    const rawCall = (path: string, bytes: Uint8Array, stream: boolean) =>
      new Promise<number>((resolve) => {
        if (stream) {
          const s = raw.makeServerStreamRequest(`/supwalsh.v1.Coordinator/${path}`, id, id, bytes, new Metadata());
          s.on('data', () => undefined);
          s.on('error', (e: ServiceError) => resolve(e.code));
          s.on('end', () => resolve(status.OK));
        } else {
          raw.makeUnaryRequest(`/supwalsh.v1.Coordinator/${path}`, id, id, bytes, (e) => resolve(e?.code ?? status.OK));
        }
      });
    const valid = SubmitExperimentRequest.encode({ spec: minimalSpec(), requestId: '', validateOnly: true }).finish();
    const count = () => t.store.listExperiments({ limit: 10_000 }).length;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          // Mutations of a valid request: flipped and inserted bytes.
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
            const copy = Uint8Array.from(valid);
            copy[at] = byte;
            return copy;
          })
        ),
        async (bytes) => {
          const before = count();
          const code = await rawCall('SubmitExperiment', bytes, false);
          expect(code).not.toBe(status.INTERNAL);
          if (code !== status.OK) expect(count()).toBe(before);
          expect(await rawCall('WatchExperiment', bytes, true)).not.toBe(status.INTERNAL);
          expect(await rawCall('GetArtifact', bytes, true)).not.toBe(status.INTERNAL);
        }
      ),
      { numRuns: 60 }
    );
    // Structured specs: random values in the numeric and enum fields, submitted for real.
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          epochs: fc.oneof(fc.nat(), fc.integer({ min: 0, max: 0xffffffff })),
          batchSize: fc.integer({ min: 0, max: 0xffffffff }),
          learningRate: fc.double(),
          backend: fc.integer({ min: 0, max: 100 }),
          preset: fc.integer({ min: 0, max: 100 }),
          kind: fc.integer({ min: 0, max: 100 }),
          root: fc.string({ maxLength: 8 }),
        }),
        async (r) => {
          const spec = ExperimentSpec.fromPartial({
            ...minimalSpec(),
            backend: r.backend,
            preset: r.preset,
            datasets: [{ kind: r.kind, root: r.root }],
            training: { epochs: r.epochs, batchSize: r.batchSize, optimizer: { learningRate: r.learningRate } },
          });
          const before = count();
          const code = await unary(alice.submitExperiment.bind(alice), {
            spec,
            requestId: '',
            validateOnly: false,
          }).then(
            () => status.OK,
            (e: ServiceError) => e.code
          );
          expect(code).not.toBe(status.INTERNAL);
          if (code !== status.OK) expect(count()).toBe(before);
        }
      ),
      { numRuns: 40 }
    );
  }, 120_000);
});
