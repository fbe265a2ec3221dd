import { ExperimentSpec } from '@supwalsh/proto';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnauthenticatedError } from './errors.js';
import { createSupWalshClient } from './supwalsh-client.js';

// Nothing listens on this port: every check below must fail before a call is made.
const client = createSupWalshClient({ address: '127.0.0.1:9', retry: { maxAttempts: 1 } });
afterAll(() => client.close());

async function refusal(promise: Promise<unknown>): Promise<InvalidArgumentError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return error as InvalidArgumentError;
}

describe('numbers are checked before anything is serialized (hardening items 5 and 8)', () => {
  it('item 8: epochs 2.5, -3 and 1e20 name training.epochs instead of "invalid uint32"', async () => {
    for (const epochs of [2.5, -3, 1e20]) {
      const error = await refusal(client.submit(ExperimentSpec.fromPartial({ name: 'x', training: { epochs } })));
      expect(error.field).toBe('training.epochs');
      expect(error.message).toContain('training.epochs must be an integer from 0 to 4294967295');
    }
  });

  it('item 5: uint64 values above 2^53 - 1 are refused naming the field', async () => {
    const spec = ExperimentSpec.fromPartial({ name: 'x', limits: { experimentTimeoutSeconds: 2 ** 64 } });
    expect((await refusal(client.submit(spec))).field).toBe('limits.experiment_timeout_seconds');
    const watch = client.watch('exp-1', { afterSequence: 2 ** 64 })[Symbol.asyncIterator]();
    expect((await refusal(watch.next())).field).toBe('after_sequence');
    const download = client.downloadArtifact('art-1', { offset: 2 ** 64 - 1 })[Symbol.asyncIterator]();
    expect((await refusal(download.next())).field).toBe('offset');
  });

  it('item 8: a token with a trailing space is refused locally, saying so', async () => {
    const spaced = createSupWalshClient({
      address: '127.0.0.1:9',
      token: 'abc-0123456789 ',
      retry: { maxAttempts: 1 },
    });
    try {
      const error = await spaced.get('exp-1').then(
        () => undefined,
        (e: unknown) => e
      );
      expect(error).toBeInstanceOf(UnauthenticatedError);
      expect((error as Error).message).toContain('contains leading or trailing white space');
    } finally {
      spaced.close();
    }
  });
});
