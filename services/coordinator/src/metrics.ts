import type { BatchObservableCallback, Meter } from '@opentelemetry/api';
import { ATTR, getMeter, METRIC_NAMES } from '@supwalsh/telemetry';
import type { RunStateName, WorkerStateName } from './states.js';
import type { Store } from './store.js';

/** What the coordinator's gauges read: the store's queries. */
export type CoordinatorMetricsSource = Pick<Store, 'listRunsInStates' | 'listWorkers'>;

/** Run states that wait for workers: queued for a first ring, or re-forming one after a failure. */
export const QUEUED_RUN_STATES: readonly RunStateName[] = ['QUEUED', 'REFORMING'];
/** Worker states whose lease holds (LOST ones must register again). */
export const LIVE_WORKER_STATES: readonly WorkerStateName[] = ['IDLE', 'BUSY', 'DRAINING'];

/** The coordinator's registered gauges; `close` stops reading the store (before it closes). */
export interface CoordinatorMetrics {
  close(): void;
}

/**
 * Registers the coordinator's observable gauges, read from the store whenever metrics are collected (a Prometheus
 * scrape, an OTLP export): `supwalsh.coordinator.queue_length` (runs waiting for workers, by `supwalsh.run.state`:
 * QUEUED, REFORMING) and `supwalsh.coordinator.live_workers` (by `supwalsh.worker.state`: IDLE, BUSY, DRAINING).
 * Every state is observed, zeros included, so a dashboard's series never vanish. Call after the OpenTelemetry SDK
 * is registered (`main.ts` does it before `createCoordinatorServer`); before, the API's meter ignores them.
 */
export function registerCoordinatorMetrics(
  source: CoordinatorMetricsSource,
  options: { meter?: Meter } = {}
): CoordinatorMetrics {
  const meter = options.meter ?? getMeter();
  const queue = meter.createObservableGauge(METRIC_NAMES.coordinatorQueueLength, {
    unit: '{run}',
    description: 'Runs waiting for workers',
  });
  const live = meter.createObservableGauge(METRIC_NAMES.coordinatorLiveWorkers, {
    unit: '{worker}',
    description: 'Registered workers whose lease holds',
  });
  let closed = false;
  const observe: BatchObservableCallback = (observer) => {
    if (closed) return;
    const runs = source.listRunsInStates(QUEUED_RUN_STATES);
    for (const state of QUEUED_RUN_STATES) {
      observer.observe(queue, runs.filter((r) => r.state === state).length, { [ATTR.runState]: state });
    }
    const workers = source.listWorkers(LIVE_WORKER_STATES);
    for (const state of LIVE_WORKER_STATES) {
      observer.observe(live, workers.filter((w) => w.state === state).length, { [ATTR.workerState]: state });
    }
  };
  meter.addBatchObservableCallback(observe, [queue, live]);
  return {
    close() {
      if (closed) return;
      closed = true;
      meter.removeBatchObservableCallback(observe, [queue, live]);
    },
  };
}

/** Why a run re-formed: its ring broke (a worker or peer lost), or a draining worker handed it over. */
export type RecoveryReason = 'ring_broken' | 'hand_over';

/**
 * Counts one recovery — a run going REFORMING to re-form its ring (PROTOCOL.md step 11) — as
 * `supwalsh.coordinator.recoveries` by `supwalsh.recovery.reason` (a fixed word: a metric dimension, never an id).
 */
export function recordRecovery(reason: RecoveryReason, options: { meter?: Meter } = {}): void {
  (options.meter ?? getMeter())
    .createCounter(METRIC_NAMES.coordinatorRecoveries, {
      unit: '{recovery}',
      description: 'Times a run re-formed its ring',
    })
    .add(1, { [ATTR.recoveryReason]: reason });
}
