import type { ClientReadableStream } from '@grpc/grpc-js';
import type { SupWalshLogger } from './client-options.js';
import type { SupWalshError } from './errors.js';
import { abortedError, type Backoff, streamIdleError } from './retry.js';

/** How {@link resumableStream} opens, watches and resumes one server-streaming call. */
export interface ResumableStreamParams<T> {
  /** The rpc and its key argument, for errors and logs. */
  operation: string;
  /**
   * Opens a fresh call from the position the consumer has reached (it reads that position itself: the
   * stream calls `open` again only once the consumer asked for the next message).
   */
  open: () => Promise<ClientReadableStream<T>>;
  /** Cancel and resume an attempt that delivers nothing for this long; 0: never. */
  idleMs: number;
  /** Decides whether a failure resumes (see retry.ts); reset by every message received. */
  backoff: Backoff;
  toError: (error: unknown) => SupWalshError;
  logger: SupWalshLogger | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * The messages of a server stream that survives failures: after a retryable failure (UNAVAILABLE, …), an idle
 * deadline or a broken stream, it waits the backoff and calls `open` again; the caller makes `open` resume from
 * what it has consumed, so nothing is lost or repeated. Ends when a call ends with OK. Leaving the loop early
 * (`break`, a throw) or aborting `signal` cancels the call in flight.
 */
export async function* resumableStream<T>(params: ResumableStreamParams<T>): AsyncGenerator<T, void, undefined> {
  const { operation, idleMs, backoff, signal, logger } = params;
  for (let connection = 1; ; connection++) {
    if (signal?.aborted) throw abortedError(signal, operation);
    let call: ClientReadableStream<T> | undefined;
    let idle = false;
    let settled = false; // the call ended with a status: nothing to cancel
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      if (idleMs > 0) {
        timer = setTimeout(() => {
          idle = true;
          call?.cancel();
        }, idleMs);
      }
    };
    const onAbort = () => call?.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      logger?.debug(`${operation}: opening stream`, { connection });
      call = await params.open();
      arm();
      for await (const message of call) {
        clearTimeout(timer);
        backoff.reset();
        yield message as T;
        arm();
      }
      settled = true;
      return;
    } catch (error: unknown) {
      settled = true;
      if (signal?.aborted) throw abortedError(signal, operation);
      await backoff.failed(idle ? streamIdleError(operation, idleMs) : params.toError(error));
      logger?.debug(`${operation}: resuming stream`, { connection: connection + 1 });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // Left early (`break`, a throw in the consumer's loop): cancel the call in flight.
      if (!settled) call?.cancel();
    }
  }
}
