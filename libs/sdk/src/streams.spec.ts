import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import {
  ArtifactKind,
  ExperimentSpec,
  ExperimentState,
  LogLevel,
  type GetArtifactRequest,
  type WatchExperimentRequest,
} from '@supwalsh/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactIntegrityError, CancelledError, NotFoundError, UnavailableError } from './errors.js';
import type { FakeCoordinator } from './fake-coordinator.js';
import { closeAfterEach, collect, connect, until } from './test-setup.js';

closeAfterEach();

const SPEC = ExperimentSpec.fromPartial({ name: 'stream', arms: [{ name: 'sup-walsh' }] });

/** An experiment with `count` log events after its QUEUED event, and (if `terminal`) a final SUCCEEDED event. */
function experimentWithEvents(fake: FakeCoordinator, count: number, terminal: boolean): string {
  const { id } = fake.addExperiment(SPEC);
  for (let i = 0; i < count; i++) {
    fake.addEvent(id, '', {
      $case: 'log',
      value: { level: LogLevel.LOG_LEVEL_INFO, message: `line ${i}`, code: '', workerId: '' },
    });
  }
  if (terminal) {
    fake.addEvent(id, '', {
      $case: 'experimentStateChanged',
      value: { state: ExperimentState.EXPERIMENT_STATE_SUCCEEDED, previousState: 1, message: '' },
    });
  }
  return id;
}

const watchRequests = (fake: FakeCoordinator) =>
  fake.callsOf('watchExperiment').map((c) => c.request as WatchExperimentRequest);

describe('SupWalshClient.watch', () => {
  it('resumes after a stream broken by UNAVAILABLE from the last event, yielding every event once', async () => {
    const { fake, client } = await connect();
    const id = experimentWithEvents(fake, 6, true); // events 1..8
    fake.watchBreaks.push(3, 2);
    const events = await collect(client.watch(id));
    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(watchRequests(fake).map((r) => r.afterSequence)).toEqual([0, 3, 5]);
  });

  it('follows new events live until the terminal state event, then ends', async () => {
    const { fake, client } = await connect();
    const { id } = fake.addExperiment(SPEC);
    fake.simulateRun(id, 2);
    fake.watchBreaks.push(4);
    const events = await collect(client.watch(id, { afterSequence: 1 }));
    const sequences = events.map((e) => e.sequence);
    expect(sequences).toEqual(Array.from({ length: fake.events.get(id)!.length - 1 }, (_, i) => i + 2));
    expect(events.at(-1)?.payload).toMatchObject({
      $case: 'experimentStateChanged',
      value: { state: ExperimentState.EXPERIMENT_STATE_SUCCEEDED },
    });
    expect(watchRequests(fake).map((r) => r.afterSequence)).toEqual([1, 5]);
  });

  it('sends the filters and ends after the stored events with replayOnly', async () => {
    const { fake, client } = await connect();
    const id = experimentWithEvents(fake, 3, false);
    const events = await collect(
      client.watch(id, {
        replayOnly: true,
        runIds: ['r1'],
        omitStepProgress: true,
        minLogLevel: LogLevel.LOG_LEVEL_WARNING,
      })
    );
    expect(events).toHaveLength(4);
    expect(watchRequests(fake)[0]).toEqual({
      experimentId: id,
      afterSequence: 0,
      runIds: ['r1'],
      omitStepProgress: true,
      minLogLevel: LogLevel.LOG_LEVEL_WARNING,
      replayOnly: true,
    });
  });

  it('cancels the server call when the consumer breaks out of the loop', async () => {
    const { fake, client } = await connect();
    const id = experimentWithEvents(fake, 5, false);
    const seen: number[] = [];
    for await (const event of client.watch(id)) {
      seen.push(event.sequence);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    await until(() => fake.cancelledStreams === 1);
    expect(fake.callsOf('watchExperiment')).toHaveLength(1);
  });

  it('cancels the call and throws CancelledError when the signal aborts', async () => {
    const { fake, client } = await connect();
    const id = experimentWithEvents(fake, 1, false);
    const controller = new AbortController();
    const seen: number[] = [];
    const watching = (async () => {
      for await (const event of client.watch(id, { signal: controller.signal })) seen.push(event.sequence);
    })();
    await until(() => seen.length === 2);
    controller.abort(new Error('user pressed ^C'));
    await expect(watching).rejects.toBeInstanceOf(CancelledError);
    await until(() => fake.cancelledStreams === 1);
  });

  it('resumes a stream that stays idle past watchIdleMs', async () => {
    const { fake, client } = await connect({ deadlines: { watchIdleMs: 150 } });
    const id = experimentWithEvents(fake, 1, false);
    const seen: number[] = [];
    const watching = (async () => {
      for await (const event of client.watch(id)) seen.push(event.sequence);
    })();
    await until(() => fake.callsOf('watchExperiment').length === 2);
    fake.addEvent(id, '', {
      $case: 'experimentStateChanged',
      value: { state: ExperimentState.EXPERIMENT_STATE_FAILED, previousState: 1, message: 'limit' },
    });
    await watching;
    expect(seen).toEqual([1, 2, 3]);
    expect(watchRequests(fake).map((r) => r.afterSequence)).toEqual([0, 2]);
    expect(fake.cancelledStreams).toBe(1);
  });

  it('rides out a coordinator that is down for several seconds and resumes from the last event', async () => {
    // Issue item 10: watch died ≈1.5 s into a coordinator restart (maxAttempts), long before it came back.
    const { fake, client, server } = await connect({ retry: { maxBackoffMs: 500 } });
    const { id } = fake.addExperiment(SPEC);
    const seen: number[] = [];
    const watching = (async () => {
      for await (const event of client.watch(id)) {
        seen.push(event.sequence);
        if (event.payload?.$case === 'experimentStateChanged' && event.payload.value.state !== 1) break;
      }
    })();
    fake.addEvent(id, '', {
      $case: 'log',
      value: { level: LogLevel.LOG_LEVEL_INFO, message: 'a', code: '', workerId: '' },
    });
    await until(() => seen.length === 2);
    server.kill();
    await new Promise((resolve) => setTimeout(resolve, 4_000)); // far past 5 attempts of FAST_RETRY (≈0.3 s)
    // Meanwhile the (restarted) coordinator stored more events: the watch gets them once, in order.
    fake.addEvent(id, '', {
      $case: 'log',
      value: { level: LogLevel.LOG_LEVEL_INFO, message: 'b', code: '', workerId: '' },
    });
    fake.addEvent(id, '', {
      $case: 'experimentStateChanged',
      value: { state: ExperimentState.EXPERIMENT_STATE_SUCCEEDED, previousState: 1, message: '' },
    });
    await server.restart();
    await watching;
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(watchRequests(fake).at(-1)?.afterSequence).toBe(2);
  }, 20_000);

  it('gives up after watchOutageMs with an error carrying the last sequence', async () => {
    const { fake, client, server } = await connect({ deadlines: { watchOutageMs: 1_000 } });
    const id = experimentWithEvents(fake, 2, false); // events 1..3, then quiet
    const seen: number[] = [];
    const started = performance.now();
    const failure = (async () => {
      for await (const event of client.watch(id)) {
        seen.push(event.sequence);
        if (seen.length === 3) server.kill();
      }
    })().then(
      () => undefined,
      (error: unknown) => error
    );
    const error = (await failure) as UnavailableError;
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.lastSequence).toBe(3);
    expect(seen).toEqual([1, 2, 3]);
    expect(performance.now() - started).toBeGreaterThan(900);
  });

  it('does not retry NOT_FOUND', async () => {
    const { fake, client } = await connect();
    await expect(collect(client.watch('exp-none'))).rejects.toBeInstanceOf(NotFoundError);
    expect(fake.callsOf('watchExperiment')).toHaveLength(1);
  });
});

describe('SupWalshClient.waitForCompletion', () => {
  it('passes every event to onEvent until the terminal state, then returns the experiment with its runs', async () => {
    const { fake, client } = await connect();
    const { id } = fake.addExperiment(SPEC);
    fake.simulateRun(id, 2);
    const cases: string[] = [];
    const done = await client.waitForCompletion(id, { onEvent: (event) => void cases.push(event.payload!.$case) });
    expect(done.state).toBe(ExperimentState.EXPERIMENT_STATE_SUCCEEDED);
    expect(done.runs[0]!.metrics).toHaveLength(1);
    expect(cases[0]).toBe('experimentStateChanged');
    expect(cases).toContain('stepProgress');
    expect(cases.length).toBe(fake.events.get(id)!.length);
  });

  it('without onEvent, watches from the current event without step progress, or returns a finished one at once', async () => {
    const { fake, client } = await connect();
    const { id } = fake.addExperiment(SPEC);
    fake.addEvent(id, '', {
      $case: 'experimentStateChanged',
      value: { state: ExperimentState.EXPERIMENT_STATE_RUNNING, previousState: 1, message: '' },
    });
    const waiting = client.waitForCompletion(id);
    await until(() => fake.callsOf('watchExperiment').length === 1);
    expect(watchRequests(fake)[0]).toMatchObject({ afterSequence: 2, omitStepProgress: true });
    await client.cancel(id, 'enough');
    expect((await waiting).state).toBe(ExperimentState.EXPERIMENT_STATE_CANCELLED);
    expect((await client.waitForCompletion(id)).state).toBe(ExperimentState.EXPERIMENT_STATE_CANCELLED);
    expect(fake.callsOf('watchExperiment')).toHaveLength(1);
  });
});

describe('SupWalshClient downloads', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'supwalsh-sdk-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes an artifact to a file with the right bytes and returns its ArtifactInfo', async () => {
    const { fake, client } = await connect();
    const data = randomBytes(300_000);
    const info = fake.addArtifact(data, { kind: ArtifactKind.ARTIFACT_KIND_WEIGHTS, name: 'weights.bin' });
    const file = path.join(dir, 'plain', 'weights.bin');
    expect(await client.downloadArtifactToFile(info.id, file, { chunkBytes: 65_536 })).toEqual(info);
    expect((await readFile(file)).equals(data)).toBe(true);
    expect(await readdir(path.dirname(file))).toEqual(['weights.bin']);
    expect((fake.callsOf('getArtifact')[0]!.request as GetArtifactRequest).chunkBytes).toBe(65_536);
  });

  it('resumes from the byte offset reached after a mid-stream UNAVAILABLE', async () => {
    const { fake, client } = await connect();
    const data = randomBytes(5_000);
    const info = fake.addArtifact(data);
    fake.downloadBreaks.push(2);
    const file = path.join(dir, 'resumed.bin');
    await client.downloadArtifactToFile(info.id, file, { chunkBytes: 1_000 });
    expect((await readFile(file)).equals(data)).toBe(true);
    const offsets = fake.callsOf('getArtifact').map((c) => (c.request as GetArtifactRequest).offset);
    expect(offsets).toEqual([0, 2_000]);
  });

  it('rejects a SHA-256 mismatch with ArtifactIntegrityError, leaving no file', async () => {
    const { fake, client } = await connect();
    const info = fake.addArtifact(randomBytes(3_000), { sha256: '0'.repeat(64) });
    const file = path.join(dir, 'corrupt', 'report.md');
    const error = await client.downloadArtifactToFile(info.id, file, { chunkBytes: 1_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactIntegrityError);
    expect(error).toMatchObject({
      artifactId: info.id,
      check: 'sha256',
      expected: '0'.repeat(64),
      code: status.DATA_LOSS,
    });
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.partial`)).toBe(false);
  });

  it('yields the chunks from an offset, and maps an unknown artifact to NotFoundError without a file', async () => {
    const { fake, client } = await connect();
    const data = randomBytes(2_500);
    const info = fake.addArtifact(data);
    const chunks = await collect(client.downloadArtifact(info.id, { offset: 100, chunkBytes: 1_000 }));
    expect(chunks.map((c) => c.length)).toEqual([1_000, 1_000, 400]);
    expect(Buffer.concat(chunks).equals(data.subarray(100))).toBe(true);
    const file = path.join(dir, 'missing.bin');
    await expect(client.downloadArtifactToFile('art-none', file)).rejects.toBeInstanceOf(NotFoundError);
    expect(existsSync(`${file}.partial`)).toBe(false);
  });
});
