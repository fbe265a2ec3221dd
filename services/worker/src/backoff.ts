import { status } from '@grpc/grpc-js';
import { isServiceError } from './errors.js';

/** Exponential backoff with jitter for retried coordinator calls. */
export interface BackoffOptions {
  /** First delay, in milliseconds. @default 200 */
  initialMs?: number;
  /** Largest delay, in milliseconds. @default 10 000 */
  maxMs?: number;
  /** Growth factor per attempt. @default 2 */
  multiplier?: number;
  /** Fraction of each delay drawn at random (± jitter/2). @default 0.4 */
  jitter?: number;
}

/** Delays of an exponential backoff with jitter: `next()` gives the next delay, `reset()` starts over. */
export interface Backoff {
  next(): number;
  reset(): void;
}

/** Exponential backoff with jitter (`initialMs · multiplier^attempt`, capped at `maxMs`, ± `jitter`/2). */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initial = options.initialMs ?? 200;
  const max = options.maxMs ?? 10_000;
  const multiplier = options.multiplier ?? 2;
  const jitter = options.jitter ?? 0.4;
  let attempt = 0;
  return {
    next() {
      const base = Math.min(max, initial * multiplier ** attempt);
      attempt += 1;
      return Math.max(0, Math.round(base * (1 - jitter / 2 + Math.random() * jitter)));
    },
    reset() {
      attempt = 0;
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Statuses a coordinator call is retried on (the coordinator is restarting, overloaded or unreachable). */
const RETRYABLE = new Set<number>([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.ABORTED,
  status.CANCELLED,
  status.UNKNOWN,
  status.INTERNAL,
]);

/** Whether a failed coordinator call may succeed when repeated unchanged (non-gRPC errors: yes). */
export function isRetryable(error: unknown): boolean {
  return !isServiceError(error) || RETRYABLE.has(error.code);
}

/** A deadline `ms` from now, for a grpc-js call. */
export function deadlineIn(ms: number): Date {
  return new Date(Date.now() + ms);
}
