import { Metadata, status } from '@grpc/grpc-js';
import { CollectiveTimeoutError, PeerFailedError } from '@supwalsh/collective';
import { DatasetNotFoundError } from '@supwalsh/datasets';
import { NonFiniteLossError } from '@supwalsh/method';
import { CheckpointRef, ShardFailure, type CoordinatorClient } from '@supwalsh/proto';
import { describe, expect, it } from 'vitest';
import { CheckpointFetchError, StaleShardError } from './errors.js';
import { silentWorkerLogger } from './logger.js';
import { classifyError, fetchResumeCheckpoint } from './shard.js';

describe('classifyError', () => {
  it.each([
    {
      what: 'a lost ring neighbour',
      error: new PeerFailedError(1, '127.0.0.1:1', 'connection closed'),
      state: 'FAILED',
      failure: 'PEER_LOST',
    },
    {
      what: 'a stalled ring',
      error: new CollectiveTimeoutError('allReduce', 3, 1000, 1, '127.0.0.1:1'),
      state: 'FAILED',
      failure: 'PEER_LOST',
    },
    {
      what: 'a NaN loss',
      error: new NonFiniteLossError('training', 7, Number.NaN),
      state: 'FAILED',
      failure: 'NON_FINITE',
    },
    {
      what: 'a missing dataset',
      error: new DatasetNotFoundError('mnist', ['x'], ['/data/mnist'], 'not found'),
      state: 'FAILED',
      failure: 'DATA',
    },
    {
      what: 'an unreadable checkpoint',
      error: new CheckpointFetchError('r', 'a-1', 'is not a checkpoint'),
      state: 'FAILED',
      failure: 'CHECKPOINT',
    },
    {
      what: 'an exhausted device',
      error: new Error('OOM when allocating tensor'),
      state: 'FAILED',
      failure: 'OUT_OF_MEMORY',
    },
    {
      what: 'a stale generation',
      error: new StaleShardError('r', 1, 'stale'),
      state: 'ABORTED',
      failure: 'UNSPECIFIED',
    },
    { what: 'anything else', error: new TypeError('x is undefined'), state: 'FAILED', failure: 'INTERNAL' },
  ])('reports $what as $state / $failure', ({ error, state, failure }) => {
    const outcome = classifyError(error);
    expect(outcome.state).toBe(state);
    expect(ShardFailure[outcome.failure]).toBe(`SHARD_FAILURE_${failure}`);
    expect(outcome.message).toContain(error.message);
  });
});

describe('fetchResumeCheckpoint', () => {
  const ref = CheckpointRef.fromPartial({ runId: 'exp-a.r0', artifactId: 'art-1', sizeBytes: 3 });
  /** A coordinator client whose GetArtifact streams fail with `failures` in turn, then send three bytes. */
  function fakeClient(failures: status[]) {
    let calls = 0;
    const client = {
      getArtifact: () => {
        const failure = failures[calls];
        calls += 1;
        return (async function* () {
          if (failure !== undefined) {
            throw Object.assign(new Error(`${failure} ${status[failure]}`), {
              code: failure,
              metadata: new Metadata(),
            });
          }
          yield { data: new Uint8Array([1, 2, 3]) };
        })();
      },
    };
    return { client: client as unknown as CoordinatorClient, calls: () => calls };
  }
  const options = { signal: new AbortController().signal, logger: silentWorkerLogger, backoff: { initialMs: 1 } };

  it('waits out an unreachable coordinator (a restart), then fails only on what it downloads', async () => {
    const fake = fakeClient([status.UNAVAILABLE, status.UNAVAILABLE]);
    // Three bytes are no checkpoint: that failure is final, after the two retried ones.
    await expect(fetchResumeCheckpoint(fake.client, ref, options)).rejects.toThrow(/is not a checkpoint/);
    expect(fake.calls()).toBe(3);
  });

  it('fails at once on a missing checkpoint, and once its patience is spent', async () => {
    const missing = fakeClient([status.NOT_FOUND]);
    await expect(fetchResumeCheckpoint(missing.client, ref, options)).rejects.toThrow(CheckpointFetchError);
    expect(missing.calls()).toBe(1);
    const away = fakeClient(Array.from({ length: 1000 }, () => status.UNAVAILABLE));
    await expect(fetchResumeCheckpoint(away.client, ref, { ...options, patienceMs: 50 })).rejects.toThrow(
      /UNAVAILABLE/
    );
    expect(away.calls()).toBeGreaterThan(1);
    expect(away.calls()).toBeLessThan(1000);
  });
});
