import { status } from '@grpc/grpc-js';
import type { RetryOptions, SupWalshLogger } from './client-options.js';
import { CancelledError, DeadlineExceededError, type SupWalshError } from './errors.js';

// The one place that decides whether and when a failed call is tried again. Unary calls go through
// `withRetries`; streams (watch, download) resume from where they were through the same `Backoff`.

/** Statuses worth another attempt: the coordinator was unreachable or draining, busy, or aborted the request. */
const RETRYABLE_CODES: ReadonlySet<status> = new Set([status.UNAVAILABLE, status.RESOURCE_EXHAUSTED, status.ABORTED]);

/** Idle-deadline errors made by {@link streamIdleError}: resumable, unlike a DEADLINE_EXCEEDED from the server. */
const idleErrors = new WeakSet<SupWalshError>();

/** The error a stream fails with when it delivered nothing for `idleMs`; a stream resumes after it. */
export function streamIdleError(what: string, idleMs: number): DeadlineExceededError {
  const error = new DeadlineExceededError(`${what}: nothing received for ${idleMs} ms`);
  idleErrors.add(error);
  return error;
}

/**
 * Whether another attempt may help. Calls: UNAVAILABLE, RESOURCE_EXHAUSTED (except grpc-js's own message-size
 * limit, which no retry changes) and ABORTED. Streams, which resume instead of re-sending, also after their idle
 * deadline, a broken HTTP/2 stream (INTERNAL `RST_STREAM`) and a cancellation by the server (CANCELLED).
 */
export function isRetryable(error: SupWalshError, kind: 'call' | 'stream'): boolean {
  if (error.code === status.RESOURCE_EXHAUSTED && /larger than max/i.test(error.details)) return false;
  if (RETRYABLE_CODES.has(error.code)) return true;
  if (kind === 'call') return false;
  // CANCELLED reaches a stream's retry only when the server or the transport cancelled it (a coordinator shutting
  // down by force): the SDK's own cancellations (idle deadline, the caller's signal, a consumer leaving) never get here.
  return (
    idleErrors.has(error) ||
    error.code === status.CANCELLED ||
    (error.code === status.INTERNAL && /RST_STREAM/.test(error.details))
  );
}

/**
 * Wait before retry number `retry` (1 for the first retry): `min(maxBackoffMs, initialBackoffMs ×
 * multiplier^(retry−1))` times a random factor in `[1 − jitter, 1 + jitter]`.
 */
export function backoffDelayMs(policy: Required<RetryOptions>, retry: number, random: () => number = Math.random) {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** Math.max(0, retry - 1));
  return Math.max(0, base * (1 + policy.jitter * (2 * random() - 1)));
}

/** Resolves after `ms`, or rejects with CancelledError as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The CancelledError for a call stopped by the caller's signal; `cause` is the signal's reason. */
export function abortedError(signal: AbortSignal, what = 'call'): CancelledError {
  return new CancelledError(`${what} cancelled by the caller's AbortSignal`, { cause: signal.reason });
}

/**
 * Counts the failed attempts of one operation and waits between them. With `budgetMs` the limit is time, not
 * attempts: retryable failures are retried (the waits capped at `maxBackoffMs`) until `budgetMs` has passed since
 * the first failure after the last progress — how a watch rides out a coordinator restart.
 */
export class Backoff {
  #failures = 0;
  /** performance.now() of the first failure since the start or the last reset. */
  #since = 0;

  constructor(
    private readonly policy: Required<RetryOptions>,
    /** What is attempted, for the log: the rpc and its key argument. */
    private readonly operation: string,
    private readonly kind: 'call' | 'stream',
    private readonly logger: SupWalshLogger | undefined,
    private readonly signal?: AbortSignal,
    private readonly budgetMs?: number
  ) {}

  /** Attempts failed since the start or the last {@link reset}. */
  get failures(): number {
    return this.#failures;
  }

  /** A stream made progress: the next failure is the first again. */
  reset(): void {
    this.#failures = 0;
  }

  /**
   * After a failed attempt: waits the backoff when another attempt is allowed, else throws `error` (not
   * retryable, or `maxAttempts` reached) — or a CancelledError when the signal aborts meanwhile.
   */
  async failed(error: SupWalshError): Promise<void> {
    this.#failures += 1;
    const now = performance.now();
    if (this.#failures === 1) this.#since = now;
    const delayMs = Math.round(backoffDelayMs(this.policy, this.#failures));
    // The time budget is for an outage (the coordinator away); a coordinator that answers "too many watchers" or
    // ABORTED is there, so those keep the attempt limit and reach the caller.
    const outage = error.code !== status.RESOURCE_EXHAUSTED && error.code !== status.ABORTED;
    const spent =
      this.budgetMs === undefined || !outage
        ? this.#failures >= this.policy.maxAttempts
        : now - this.#since + delayMs > this.budgetMs;
    if (!isRetryable(error, this.kind) || spent) {
      if (this.#failures > 1) {
        this.logger?.warn(`${this.operation} failed after ${this.#failures} attempts`, {
          code: status[error.code],
          seconds: Math.round((now - this.#since) / 1000),
        });
      }
      throw error;
    }
    this.logger?.warn(`${this.operation} failed with ${status[error.code]}; retrying in ${delayMs} ms`, {
      code: status[error.code],
      details: error.details,
      attempt: this.#failures + 1,
      ...(this.budgetMs === undefined ? { maxAttempts: this.policy.maxAttempts } : { budgetMs: this.budgetMs }),
      delayMs,
    });
    await sleep(delayMs, this.signal);
  }
}

/**
 * Runs `attempt` until it succeeds, retrying retryable failures with backoff (see {@link Backoff}). `attempt`
 * gets the attempt number (1-based) and must set its own deadline; every rejection is normalised with `toError`.
 */
export async function withRetries<T>(
  backoff: Backoff,
  toError: (error: unknown) => SupWalshError,
  attempt: (attemptNumber: number) => Promise<T>
): Promise<T> {
  for (;;) {
    try {
      return await attempt(backoff.failures + 1);
    } catch (error: unknown) {
      await backoff.failed(toError(error));
    }
  }
}
