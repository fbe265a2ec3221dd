import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, resolveClientOptions } from './client-options.js';
import {
  AlreadyExistsError,
  CancelledError,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  SupWalshError,
  toSupWalshError,
  UnauthenticatedError,
  UnavailableError,
} from './errors.js';
import { backoffDelayMs, isRetryable, streamIdleError } from './retry.js';

function serviceError(code: status, details: string) {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

describe('toSupWalshError', () => {
  it('turns every grpc status into its error class, keeping code, details and cause', () => {
    const cases: [status, new (...args: never[]) => SupWalshError][] = [
      [status.INVALID_ARGUMENT, InvalidArgumentError],
      [status.NOT_FOUND, NotFoundError],
      [status.ALREADY_EXISTS, AlreadyExistsError],
      [status.FAILED_PRECONDITION, FailedPreconditionError],
      [status.RESOURCE_EXHAUSTED, ResourceExhaustedError],
      [status.UNAUTHENTICATED, UnauthenticatedError],
      [status.PERMISSION_DENIED, PermissionDeniedError],
      [status.UNAVAILABLE, UnavailableError],
      [status.DEADLINE_EXCEEDED, DeadlineExceededError],
      [status.CANCELLED, CancelledError],
    ];
    for (const [code, type] of cases) {
      const original = serviceError(code, 'something happened');
      const error = toSupWalshError(original);
      expect(error, status[code]).toBeInstanceOf(type);
      expect(error).toBeInstanceOf(SupWalshError);
      expect(error).toMatchObject({ code, details: 'something happened', cause: original, name: type.name });
      expect(error.message).toBe(`${status[code]}: something happened`);
    }
    const internal = toSupWalshError(serviceError(status.INTERNAL, 'boom'));
    expect(internal.constructor).toBe(SupWalshError);
    expect(internal.code).toBe(status.INTERNAL);
  });

  it('returns an SDK error unchanged and wraps anything else as UNKNOWN with the original as cause', () => {
    const sdkError = new NotFoundError('experiment exp-1 not found');
    expect(toSupWalshError(sdkError)).toBe(sdkError);
    const plain = new TypeError('bad');
    expect(toSupWalshError(plain)).toMatchObject({ code: status.UNKNOWN, details: 'bad', cause: plain });
    expect(toSupWalshError('text')).toMatchObject({ code: status.UNKNOWN, details: 'text' });
  });

  it('reads the field path an INVALID_ARGUMENT message starts with, and no field from other messages', () => {
    const field = (details: string) =>
      (toSupWalshError(serviceError(status.INVALID_ARGUMENT, details)) as InvalidArgumentError).field;
    expect(field('training.optimizer.learning_rate must be in (0, 10], got -1')).toBe(
      'training.optimizer.learning_rate'
    );
    expect(field('datasets[0].root: outside the data directory /data')).toBe('datasets[0].root');
    expect(field('pretraining.tsne.perplexity must be < 1/3 of the class count')).toBe('pretraining.tsne.perplexity');
    expect(field('page_size out of range 0–500, got 900')).toBe('page_size');
    expect(field('name must be 1–64 characters')).toBe('name');
    expect(field('unknown state 9 in states')).toBeUndefined();
    expect(field('empty experiment_id')).toBeUndefined();
    expect(field('')).toBeUndefined();
  });
});

describe('retry policy', () => {
  it('grows the backoff by the multiplier up to the cap, spread by the jitter', () => {
    const policy = { ...DEFAULT_RETRY, jitter: 0 };
    expect([1, 2, 3, 4, 7, 10].map((n) => backoffDelayMs(policy, n))).toEqual([100, 200, 400, 800, 5000, 5000]);
    expect(backoffDelayMs(DEFAULT_RETRY, 1, () => 0)).toBeCloseTo(80);
    expect(backoffDelayMs(DEFAULT_RETRY, 1, () => 1)).toBeCloseTo(120);
  });

  it('retries only UNAVAILABLE, RESOURCE_EXHAUSTED and ABORTED, and streams also after an idle deadline', () => {
    const retryable = (code: status, kind: 'call' | 'stream' = 'call') =>
      isRetryable(new SupWalshError(code, 'x'), kind);
    expect([status.UNAVAILABLE, status.RESOURCE_EXHAUSTED, status.ABORTED].map((c) => retryable(c))).toEqual([
      true,
      true,
      true,
    ]);
    expect(
      [status.INVALID_ARGUMENT, status.DEADLINE_EXCEEDED, status.INTERNAL, status.NOT_FOUND].map((c) => retryable(c))
    ).toEqual([false, false, false, false]);
    expect(isRetryable(new ResourceExhaustedError('Received message larger than max (9 vs. 4)'), 'call')).toBe(false);
    expect(isRetryable(streamIdleError('watch(exp-1)', 100), 'stream')).toBe(true);
    expect(isRetryable(new DeadlineExceededError('deadline'), 'stream')).toBe(false);
    expect(isRetryable(new SupWalshError(status.INTERNAL, 'Received RST_STREAM with code 2'), 'stream')).toBe(true);
  });
});

describe('client options', () => {
  it('takes the address from SUPWALSH_COORDINATOR, then the default, and fills every default', () => {
    expect(resolveClientOptions({}, { SUPWALSH_COORDINATOR: 'coordinator:6000' }).address).toBe('coordinator:6000');
    const resolved = resolveClientOptions({ retry: { maxAttempts: 2 }, deadlines: { unaryMs: undefined } }, {});
    expect(resolved).toMatchObject({
      address: '127.0.0.1:50051',
      deadlines: { unaryMs: 10_000, submitMs: 30_000, watchIdleMs: 0, downloadIdleMs: 60_000 },
      retry: { maxAttempts: 2, initialBackoffMs: 100, maxBackoffMs: 5_000, multiplier: 2, jitter: 0.2 },
    });
  });

  it('rejects an out-of-range option with InvalidArgumentError naming it', () => {
    expect(() => resolveClientOptions({ retry: { maxAttempts: 0 } }, {})).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', field: 'retry.maxAttempts' })
    );
    expect(() => resolveClientOptions({ deadlines: { unaryMs: -1 } }, {})).toThrow(
      /deadlines\.unaryMs must be a number > 0/
    );
  });
});
