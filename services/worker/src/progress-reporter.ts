import { status } from '@grpc/grpc-js';
import type { MethodEvent } from '@supwalsh/method';
import type { CoordinatorClient, ShardFinished, ShardReport } from '@supwalsh/proto';
import { methodEventToReport } from '@supwalsh/wire';
import { createBackoff, type BackoffOptions } from './backoff.js';
import { callUnary } from './coordinator-client.js';
import { isServiceError, StaleShardError, toError } from './errors.js';
import { silentWorkerLogger, type WorkerLogger } from './logger.js';

/** What one report carries (exactly one case of `ShardReport.payload`). */
export type ReportPayload = NonNullable<ShardReport['payload']>;

/** Options of {@link createProgressReporter}. */
export interface ProgressReporterOptions {
  /** Where reports go; unset: they are numbered and acknowledged at once, nothing is sent (no coordinator). */
  client: CoordinatorClient | undefined;
  workerId: string;
  /** The worker process's instance id, as registered (the coordinator refuses reports of another instance). */
  instanceId: string;
  runId: string;
  generation: number;
  rank: number;
  /** Longest a report waits before its batch is sent, in milliseconds. @default 500 */
  batchMs?: number;
  /** A batch is sent as soon as this many reports wait. @default 64 */
  batchReports?: number;
  /** Most reports per `ReportProgress` request (proto: 1–1000). @default 1000 */
  maxReportsPerRequest?: number;
  /** Deadline of each `ReportProgress` call, in milliseconds. @default 10 000 */
  deadlineMs?: number;
  /** Backoff between resends after a failed call. @default 200 ms doubling to 5 s, 40 % jitter */
  backoff?: BackoffOptions;
  /**
   * Called once when the coordinator rejects the shard's reports as stale (FAILED_PRECONDITION: another
   * generation is current or the run has ended; NOT_FOUND: unknown run). The shard must stop (step 7).
   */
  onStale?: (error: StaleShardError) => void;
  logger?: WorkerLogger;
}

/**
 * One shard's reports to the coordinator (PROTOCOL.md step 7): numbered from 1 per (run, generation, rank),
 * batched, resent until acknowledged, in sequence order, never two requests at once.
 */
export interface ProgressReporter {
  /** Queues a report; returns its sequence number (0 once the reporter has stopped). */
  report(payload: ReportPayload): number;
  /**
   * Queues the report of a method event, if this rank reports it: rank 0 reports the run's events (phases, step
   * progress, epoch metrics) and every rank its logs. Returns the sequence number, or 0 when nothing was queued.
   */
  reportEvent(event: MethodEvent): number;
  /** Queues `ShardFinished` (the shard's last report) and waits, as {@link flush}, until it is acknowledged. */
  finish(finished: ShardFinished, timeoutMs?: number): Promise<boolean>;
  /**
   * Sends everything queued now and resolves true once the coordinator has acknowledged it all; false when the
   * reporter stopped (stale shard, `close`) or `timeoutMs` passed first.
   */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Stops sending; unacknowledged reports are dropped (logged). */
  close(): void;
  /** Highest sequence number handed out. */
  readonly lastSequence: number;
  /** Highest sequence number the coordinator acknowledged. */
  readonly ackedSequence: number;
  /** Whether the reporter has stopped (stale shard or `close`). */
  readonly stopped: boolean;
}

/** Creates the reporter of one shard. */
export function createProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const { client, workerId, instanceId, runId, generation, rank } = options;
  const logger = options.logger ?? silentWorkerLogger;
  const batchMs = options.batchMs ?? 500;
  const batchReports = options.batchReports ?? 64;
  const maxPerRequest = Math.min(1000, Math.max(1, options.maxReportsPerRequest ?? 1000));
  const deadlineMs = options.deadlineMs ?? 10_000;
  const backoff = createBackoff({ initialMs: 200, maxMs: 5_000, ...options.backoff });
  const fields = { runId, generation, rank };

  /** Reports not yet acknowledged, in sequence order. */
  let queue: ShardReport[] = [];
  let lastSequence = 0;
  let acked = 0;
  let stopped = false;
  let inFlight = false;
  /** Timer of the next send: the batch window, or the backoff before a resend (which new reports do not cut short). */
  let timer: { kind: 'batch' | 'retry'; handle: NodeJS.Timeout } | undefined;
  const waiters = new Set<(done: boolean) => void>();

  const clearTimer = () => {
    if (timer) clearTimeout(timer.handle);
    timer = undefined;
  };

  const setTimer = (kind: 'batch' | 'retry', ms: number) => {
    clearTimer();
    timer = {
      kind,
      handle: setTimeout(() => {
        timer = undefined;
        void send();
      }, ms),
    };
  };

  /** Resolves the waiting flushes once everything is acknowledged. */
  const settle = () => {
    if (queue.length > 0) return;
    for (const resolve of waiters) resolve(true);
    waiters.clear();
  };

  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearTimer();
    if (queue.length > 0) {
      logger.warn('dropping unacknowledged reports', { ...fields, from: queue[0]?.sequence, to: lastSequence });
    }
    queue = [];
    for (const resolve of waiters) resolve(false);
    waiters.clear();
  };

  /** Decides when the queue is sent next: now for a full batch or a waiting flush, else within the batch window. */
  const plan = () => {
    if (stopped || inFlight || queue.length === 0 || timer?.kind === 'retry') return;
    if (queue.length >= batchReports || waiters.size > 0) {
      clearTimer();
      void send();
    } else if (!timer) {
      setTimer('batch', batchMs);
    }
  };

  const send = async (): Promise<void> => {
    if (stopped || inFlight || queue.length === 0 || !client) return;
    inFlight = true;
    const reports = queue.slice(0, maxPerRequest);
    try {
      // Step 7: the batch is resent unchanged until acknowledged; the coordinator stores each sequence once.
      const response = await callUnary(
        client,
        client.reportProgress,
        { workerId, instanceId, runId, generation, rank, reports },
        deadlineMs
      );
      inFlight = false;
      const advanced = response.ackedSequence > acked;
      acked = Math.max(acked, response.ackedSequence);
      queue = queue.filter((r) => r.sequence > acked);
      settle();
      if (advanced) {
        backoff.reset();
        plan();
      } else if (queue.length > 0 && !stopped) {
        // The coordinator stored nothing of this batch: resend it later, unchanged.
        setTimer('retry', backoff.next());
      }
    } catch (error: unknown) {
      inFlight = false;
      if (stopped) return;
      if (isServiceError(error) && (error.code === status.FAILED_PRECONDITION || error.code === status.NOT_FOUND)) {
        const stale = new StaleShardError(
          runId,
          generation,
          `the coordinator rejected the reports of run ${runId} generation ${generation}: ${error.details}`,
          { cause: error }
        );
        logger.warn(stale.message, fields);
        stop();
        options.onStale?.(stale);
        return;
      }
      const delay = backoff.next();
      logger.debug('ReportProgress failed; resending', { ...fields, error: toError(error), delayMs: delay });
      setTimer('retry', delay);
    }
  };

  const report = (payload: ReportPayload): number => {
    if (stopped) return 0;
    lastSequence += 1;
    if (!client) {
      acked = lastSequence;
      return lastSequence;
    }
    queue.push({ sequence: lastSequence, time: new Date(), payload });
    plan();
    return lastSequence;
  };

  const flush = (timeoutMs = 30_000): Promise<boolean> => {
    if (stopped) return Promise.resolve(false);
    if (queue.length === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter = (done: boolean) => {
        clearTimeout(deadline);
        resolve(done);
      };
      const deadline = setTimeout(() => {
        waiters.delete(waiter);
        resolve(false);
      }, timeoutMs);
      waiters.add(waiter);
      plan();
    });
  };

  return {
    report,
    reportEvent(event) {
      const isLog = event.type === 'log';
      if (rank !== 0 && !isLog) return 0;
      const payload = methodEventToReport(event);
      if (!payload) return 0;
      if (payload.$case === 'log') {
        payload.value.workerId ||= workerId;
        payload.value.rank ??= rank;
      }
      return report(payload);
    },
    finish(finished, timeoutMs) {
      report({ $case: 'shardFinished', value: finished });
      return flush(timeoutMs);
    },
    flush,
    close: stop,
    get lastSequence() {
      return lastSequence;
    },
    get ackedSequence() {
      return acked;
    },
    get stopped() {
      return stopped;
    },
  };
}
