import { CollectiveTimeoutError, PeerFailedError } from '@supwalsh/collective';
import { DatasetNotFoundError } from '@supwalsh/datasets';
import { NonFiniteLossError } from '@supwalsh/method';
import { ShardFailure } from '@supwalsh/proto';
import { describe, expect, it } from 'vitest';
import { CheckpointFetchError, StaleShardError } from './errors.js';
import { classifyError } from './shard.js';

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
