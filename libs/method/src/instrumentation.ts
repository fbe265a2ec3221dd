import type { Counter, Histogram, Tracer } from '@opentelemetry/api';
import { ATTR, getMeter, getTracer, METRIC_NAMES } from '@supwalsh/telemetry';

/** Bucket bounds of `supwalsh.step.duration`, in seconds: a small model's CPU step to a large model's. */
const STEP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** What one phase's loop records per step: its spans' tracer, and the step time and images metrics. */
export interface StepInstruments {
  readonly tracer: Tracer;
  /** Records one step of this rank: its wall time and the images it took (its share of the global batch). */
  recordStep(seconds: number, images: number): void;
}

/**
 * The method's instruments for a phase, from @supwalsh/telemetry's global getters — created when the phase starts,
 * so that a service that registered the OpenTelemetry SDK before the run gets real ones (the API's meters are not
 * proxies), and everything else the no-op ones, at the cost of a few function calls per step.
 */
export function stepInstruments(phase: 'pretraining' | 'training'): StepInstruments {
  const meter = getMeter();
  const duration: Histogram = meter.createHistogram(METRIC_NAMES.stepDuration, {
    unit: 's',
    description: 'Wall time of one pretraining or training step on this rank',
    advice: { explicitBucketBoundaries: STEP_DURATION_BUCKETS },
  });
  const images: Counter = meter.createCounter(METRIC_NAMES.trainImages, {
    unit: '{image}',
    description: 'Images this rank stepped through; images per second is its rate',
  });
  const attributes = { [ATTR.phase]: phase };
  return {
    tracer: getTracer(),
    recordStep(seconds, count) {
      duration.record(seconds, attributes);
      if (count > 0) images.add(count, attributes);
    },
  };
}
