import { ShardState, type CoordinatorClient } from '@supwalsh/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoordinatorClient } from './coordinator-client.js';
import { startFakeCoordinator, type FakeCoordinator } from './e2e/fake-coordinator.js';
import type { StaleShardError } from './errors.js';
import { createProgressReporter } from './progress-reporter.js';

const log = (message: string) => ({ $case: 'log' as const, value: { level: 2, message, code: '', workerId: '' } });
const step = { type: 'step', runId: 'r', phase: 'training', epoch: 1, epochsTotal: 1, stepInEpoch: 1 } as const;

describe('the progress reporter', () => {
  let fake: FakeCoordinator;
  let client: CoordinatorClient;

  beforeAll(async () => {
    fake = await startFakeCoordinator();
    client = createCoordinatorClient(fake.address);
  });
  afterAll(async () => {
    client.close();
    await fake.close();
  });

  const reporter = (runId: string, rank = 0, onStale?: (e: StaleShardError) => void) =>
    createProgressReporter({
      client,
      workerId: 'w',
      instanceId: 'i-1',
      runId,
      generation: 3,
      rank,
      batchMs: 50,
      batchReports: 4,
      backoff: { initialMs: 20, maxMs: 100 },
      ...(onStale ? { onStale } : {}),
    });

  it('numbers reports from 1, batches them, resends a refused batch and flushes before ShardFinished', async () => {
    const r = reporter('run-a');
    fake.rejectNextBatches = 1;
    for (let i = 1; i <= 10; i += 1) expect(r.report(log(`line ${i}`))).toBe(i);
    expect(await r.finish({ state: ShardState.SHARD_STATE_SUCCEEDED, failure: 0, message: '' }, 5_000)).toBe(true);
    const stored = fake.stored('run-a', 3, 0);
    expect(stored.map((s) => s.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(stored.at(-1)?.payload?.$case).toBe('shardFinished');
    expect(r.ackedSequence).toBe(11);
    const batches = fake.reportBatches.filter((b) => b.runId === 'run-a');
    expect(batches.length).toBeLessThan(11); // batched, not one request per report
    expect(batches.every((b) => b.reports.length <= 11 && b.generation === 3 && b.instanceId === 'i-1')).toBe(true);
    expect(fake.rejectedBatches.filter((b) => b.runId === 'run-a')).toHaveLength(1);
    r.close();
  });

  it('reports only logs on ranks other than 0', async () => {
    const r = reporter('run-b', 1);
    expect(
      r.reportEvent({
        ...step,
        stepsPerEpoch: 1,
        step: 1,
        stepsTotal: 1,
        loss: 1,
        epochLoss: 1,
        imagesPerSecond: 1,
        etaSeconds: 0,
        learningRate: 0.1,
        worldSize: 2,
      })
    ).toBe(0);
    expect(r.reportEvent({ type: 'log', level: 'warning', message: 'careful', code: 'TEST' })).toBe(1);
    expect(await r.flush(5_000)).toBe(true);
    expect(fake.stored('run-b', 3, 1)[0]?.payload).toMatchObject({
      $case: 'log',
      value: { message: 'careful', code: 'TEST', workerId: 'w', rank: 1 },
    });
    r.close();
  });

  it('stops and tells the shard when the coordinator calls its generation stale', async () => {
    fake.staleRuns.add('run-c');
    const stale = new Promise<StaleShardError>((resolve) => {
      const r = reporter('run-c', 0, resolve);
      r.report(log('hello'));
      void r.flush(5_000).then((done) => expect(done).toBe(false));
    });
    expect((await stale).message).toMatch(/run-c generation 3/);
  });
});
