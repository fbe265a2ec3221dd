import { ATTR, METRIC_NAMES } from '@supwalsh/telemetry';
import {
  createTelemetryCapture,
  startTelemetry,
  type Telemetry,
  type TelemetryCapture,
} from '@supwalsh/telemetry/node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordRecovery, registerCoordinatorMetrics, type CoordinatorMetricsSource } from './metrics.js';
import type { RunRecord, WorkerRecord } from './store.js';

describe('coordinator metrics', () => {
  let capture: TelemetryCapture;
  let telemetry: Telemetry;
  beforeEach(async () => {
    capture = createTelemetryCapture();
    telemetry = await startTelemetry({
      serviceName: 'supwalsh-coordinator',
      env: {},
      metricReader: capture.metricReader,
    });
  });
  afterEach(() => telemetry.shutdown());

  /** Values of a metric by one attribute. */
  const values = async (name: string, key: string) => {
    const metric = (await capture.metrics()).find((m) => m.descriptor.name === name);
    return Object.fromEntries((metric?.dataPoints ?? []).map((p) => [p.attributes[key], p.value]));
  };

  it('observes the queued runs and the live workers by state, zeros included, until closed', async () => {
    let runs = ['QUEUED', 'QUEUED', 'REFORMING'];
    const source: CoordinatorMetricsSource = {
      listRunsInStates: (states) =>
        runs.filter((s) => states.includes(s as never)).map((state) => ({ state }) as RunRecord),
      listWorkers: (states) =>
        ['IDLE', 'BUSY', 'BUSY']
          .filter((s) => states?.includes(s as never))
          .map((state) => ({ state }) as WorkerRecord),
    };
    const gauges = registerCoordinatorMetrics(source);
    expect(await values(METRIC_NAMES.coordinatorQueueLength, ATTR.runState)).toEqual({ QUEUED: 2, REFORMING: 1 });
    expect(await values(METRIC_NAMES.coordinatorLiveWorkers, ATTR.workerState)).toEqual({
      IDLE: 1,
      BUSY: 2,
      DRAINING: 0,
    });
    runs = [];
    expect(await values(METRIC_NAMES.coordinatorQueueLength, ATTR.runState)).toEqual({ QUEUED: 0, REFORMING: 0 });
    gauges.close();
    let reads = 0;
    source.listRunsInStates = () => {
      reads += 1;
      throw new Error('the store is closed');
    };
    await capture.metrics();
    expect(reads).toBe(0);
  });

  it('counts recoveries by reason', async () => {
    recordRecovery('ring_broken');
    recordRecovery('ring_broken');
    recordRecovery('hand_over');
    expect(await values(METRIC_NAMES.coordinatorRecoveries, ATTR.recoveryReason)).toEqual({
      ring_broken: 2,
      hand_over: 1,
    });
  });
});
