import { status } from '@grpc/grpc-js';
import {
  ExperimentSpec,
  ExperimentState,
  type CancelExperimentRequest,
  type ListExperimentsRequest,
  type SubmitExperimentRequest,
} from '@supwalsh/proto';
import { describe, expect, it } from 'vitest';
import {
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  UnauthenticatedError,
  UnavailableError,
} from './errors.js';
import { closeAfterEach, collect, connect } from './test-setup.js';

closeAfterEach();

const SPEC = ExperimentSpec.fromPartial({ name: 'quick', arms: [{ name: 'with' }, { name: 'without' }], seeds: [0] });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('SupWalshClient calls', () => {
  it('submits a spec with a fresh request_id and returns the stored experiment', async () => {
    const { fake, client } = await connect();
    const experiment = await client.submit(SPEC);
    expect(experiment).toMatchObject({ id: 'exp-0001', state: ExperimentState.EXPERIMENT_STATE_QUEUED });
    expect(experiment.runs.map((r) => r.label)).toEqual(['unspecified/unspecified/with/seed-0', expect.any(String)]);
    const [call] = fake.callsOf('submitExperiment');
    const request = call!.request as SubmitExperimentRequest;
    expect(request.spec).toEqual(SPEC);
    expect(request.requestId).toMatch(UUID);
    expect(request.validateOnly).toBe(false);
    await client.submit(SPEC);
    expect((fake.callsOf('submitExperiment')[1]!.request as SubmitExperimentRequest).requestId).not.toBe(
      request.requestId
    );
  });

  it('only validates with validateOnly, storing nothing, and sends a given request_id as is', async () => {
    const { fake, client } = await connect();
    const resolved = await client.submit(SPEC, { validateOnly: true });
    expect(resolved).toMatchObject({ id: '', state: ExperimentState.EXPERIMENT_STATE_UNSPECIFIED });
    expect(resolved.runs).toHaveLength(2);
    expect(fake.experiments.size).toBe(0);
    await client.submit(SPEC, { requestId: 'nightly-2025-01-01' });
    const requests = fake.callsOf('submitExperiment').map((c) => c.request as SubmitExperimentRequest);
    expect(requests.map((r) => [r.requestId, r.validateOnly])).toEqual([
      ['', true],
      ['nightly-2025-01-01', false],
    ]);
  });

  it('gets and cancels an experiment, and maps an unknown id to NotFoundError', async () => {
    const { fake, client } = await connect();
    const stored = fake.addExperiment(SPEC);
    expect(await client.get(stored.id)).toEqual(stored);
    const cancelled = await client.cancel(stored.id, 'not needed');
    expect(cancelled.state).toBe(ExperimentState.EXPERIMENT_STATE_CANCELLED);
    expect(fake.callsOf('cancelExperiment')[0]!.request as CancelExperimentRequest).toEqual({
      experimentId: stored.id,
      reason: 'not needed',
    });
    await expect(client.get('exp-missing')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.get('')).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'experimentId' });
    expect(fake.callsOf('getExperiment')).toHaveLength(2);
  });

  it('lists one page at a time with the filters, and listAll follows the page tokens', async () => {
    const { fake, client } = await connect();
    const ids = Array.from({ length: 7 }, (_, i) =>
      fake.addExperiment(ExperimentSpec.fromPartial({ name: `sweep-${i}`, labels: { team: 'a' } }))
    ).map((e) => e.id);
    const page = await client.list({ pageSize: 3, namePrefix: 'sweep-', labelSelector: { team: 'a' } });
    expect(page.experiments.map((e) => e.id)).toEqual(ids.slice(4).reverse());
    expect(page.nextPageToken).toBe('3');
    const second = await client.list({
      pageSize: 3,
      namePrefix: 'sweep-',
      labelSelector: { team: 'a' },
      pageToken: '3',
    });
    expect(second.experiments.map((e) => e.id)).toEqual(ids.slice(1, 4).reverse());
    expect(fake.callsOf('listExperiments')[1]!.request as ListExperimentsRequest).toEqual({
      pageSize: 3,
      pageToken: '3',
      states: [],
      labelSelector: { team: 'a' },
      namePrefix: 'sweep-',
    });
    const all = await collect(client.listAll({ pageSize: 3, states: [ExperimentState.EXPERIMENT_STATE_QUEUED] }));
    expect(all.map((e) => e.id)).toEqual([...ids].reverse());
    expect(fake.callsOf('listExperiments')).toHaveLength(2 + 3);
    expect(await collect(client.listAll({ namePrefix: 'nothing' }))).toEqual([]);
  });

  it('throws FailedPreconditionError once closed', async () => {
    const { client } = await connect();
    client.close();
    client.close();
    await expect(client.get('exp-0001')).rejects.toBeInstanceOf(FailedPreconditionError);
  });
});

describe('SupWalshClient metadata', () => {
  it('sends the bearer token given as a string on every call', async () => {
    const { fake, client } = await connect({ token: 's3cret' });
    const experiment = await client.submit(SPEC);
    await client.get(experiment.id);
    await collect(client.listAll());
    expect(fake.calls.map((c) => c.authorization)).toEqual(Array(3).fill('Bearer s3cret'));
  });

  it('calls a token function before every attempt, and sends no authorization without a token', async () => {
    let issued = 0;
    const { fake, client } = await connect({ token: async () => `token-${++issued}` });
    fake.fail('getExperiment', { code: status.UNAVAILABLE });
    await expect(client.get('exp-9')).rejects.toBeInstanceOf(NotFoundError);
    expect(fake.calls.map((c) => c.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);

    const anonymous = await connect();
    await expect(anonymous.client.get('exp-9')).rejects.toBeInstanceOf(NotFoundError);
    expect(anonymous.fake.calls[0]!.authorization).toBeUndefined();
  });

  it('rejects with UnauthenticatedError when the token function fails, without calling', async () => {
    const { fake, client } = await connect({
      token: () => {
        throw new Error('vault sealed');
      },
    });
    await expect(client.get('exp-1')).rejects.toThrow(UnauthenticatedError);
    await expect(client.get('exp-1')).rejects.toThrow(/token function .* failed: vault sealed/);
    expect(fake.calls).toHaveLength(0);
  });
});

describe('SupWalshClient retries and deadlines', () => {
  it('retries UNAVAILABLE twice with growing delays, then succeeds on the third attempt', async () => {
    const warnings: Record<string, unknown>[] = [];
    const logger = {
      debug: () => undefined,
      warn: (_: string, fields?: Record<string, unknown>) => void warnings.push(fields!),
    };
    const { fake, client } = await connect({ retry: { initialBackoffMs: 40, multiplier: 2 }, logger });
    const stored = fake.addExperiment(SPEC);
    fake.fail('getExperiment', { code: status.UNAVAILABLE }, { code: status.UNAVAILABLE });
    expect((await client.get(stored.id)).id).toBe(stored.id);
    expect(warnings.map((w) => [w['code'], w['attempt'], w['delayMs']])).toEqual([
      ['UNAVAILABLE', 2, 40],
      ['UNAVAILABLE', 3, 80],
    ]);
    const times = fake.callsOf('getExperiment').map((c) => c.at);
    expect(times).toHaveLength(3);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(38);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(78);
  });

  it('logs retries and attempts without ever logging the token', async () => {
    const logged: string[] = [];
    const record = (message: string, fields?: Record<string, unknown>) =>
      void logged.push(message + JSON.stringify(fields));
    const { fake, client } = await connect({ token: 'tok-s3cret', logger: { debug: record, warn: record } });
    fake.fail('getExperiment', { code: status.UNAVAILABLE });
    fake.watchBreaks.push(1);
    const { id } = fake.addExperiment(SPEC);
    fake.addEvent(id, '', {
      $case: 'experimentStateChanged',
      value: { state: ExperimentState.EXPERIMENT_STATE_CANCELLED, previousState: 1, message: '' },
    });
    await client.get(id);
    await collect(client.watch(id));
    expect(logged.some((line) => line.includes('retrying in'))).toBe(true);
    expect(logged.some((line) => line.includes('resuming stream'))).toBe(true);
    expect(logged.join('\n')).not.toContain('s3cret');
  });

  it('retries RESOURCE_EXHAUSTED and ABORTED but not FAILED_PRECONDITION', async () => {
    const { fake, client } = await connect();
    const stored = fake.addExperiment(SPEC, { state: ExperimentState.EXPERIMENT_STATE_SUCCEEDED });
    fake.fail('getExperiment', { code: status.RESOURCE_EXHAUSTED, details: 'busy' }, { code: status.ABORTED });
    await client.get(stored.id);
    expect(fake.callsOf('getExperiment')).toHaveLength(3);
    await expect(client.cancel(stored.id)).rejects.toBeInstanceOf(FailedPreconditionError);
    expect(fake.callsOf('cancelExperiment')).toHaveLength(1);
  });

  it('does not retry INVALID_ARGUMENT and names the bad field', async () => {
    const { fake, client } = await connect();
    const spec = ExperimentSpec.fromPartial({ name: 'bad', training: { optimizer: { learningRate: -1 } } });
    const error = await client.submit(spec).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({
      code: status.INVALID_ARGUMENT,
      field: 'training.optimizer.learning_rate',
      details: 'training.optimizer.learning_rate must be in (0, 10], got -1',
    });
    expect(fake.callsOf('submitExperiment')).toHaveLength(1);
    expect(fake.experiments.size).toBe(0);
  });

  it('gives up with UnavailableError after maxAttempts', async () => {
    const { fake, client } = await connect({ retry: { maxAttempts: 3 } });
    fake.fail('getExperiment', ...Array(5).fill({ code: status.UNAVAILABLE, details: 'coordinator draining' }));
    const error = await client.get('exp-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ details: 'coordinator draining' });
    expect(fake.callsOf('getExperiment')).toHaveLength(3);
  });

  it('reuses the request_id across the retries of a submission, so it is stored once', async () => {
    const { fake, client } = await connect();
    // the first attempt is stored but its answer is lost; the second fails before the coordinator
    fake.fail('submitExperiment', { code: status.UNAVAILABLE, afterHandling: true }, { code: status.UNAVAILABLE });
    const experiment = await client.submit(SPEC);
    const ids = fake.callsOf('submitExperiment').map((c) => (c.request as SubmitExperimentRequest).requestId);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    expect(fake.experiments.size).toBe(1);
    expect(experiment.id).toBe([...fake.experiments.keys()][0]);
  });

  it('gives every attempt its own deadline, per kind of call', async () => {
    const { fake, client } = await connect({ deadlines: { unaryMs: 2_000, submitMs: 8_000 } });
    const stored = fake.addExperiment(SPEC);
    fake.fail('getExperiment', { code: status.UNAVAILABLE });
    await client.get(stored.id);
    await client.submit(SPEC);
    const [getA, getB] = fake.callsOf('getExperiment').map((c) => c.deadlineInMs);
    for (const remaining of [getA!, getB!]) {
      expect(remaining).toBeGreaterThan(1_000);
      expect(remaining).toBeLessThanOrEqual(2_000);
    }
    const submit = fake.callsOf('submitExperiment')[0]!.deadlineInMs;
    expect(submit).toBeGreaterThan(7_000);
    expect(submit).toBeLessThanOrEqual(8_000);
  });

  it('rejects with DeadlineExceededError when the coordinator is slower than the deadline, without retrying', async () => {
    const { fake, client } = await connect({ deadlines: { unaryMs: 100 } });
    fake.delays.set('getExperiment', 400);
    const start = performance.now();
    await expect(client.get('exp-1')).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(performance.now() - start).toBeLessThan(390);
    expect(fake.callsOf('getExperiment')).toHaveLength(1);
  });
});
