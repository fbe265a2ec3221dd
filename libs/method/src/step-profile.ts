/**
 * Where a gradient step's time goes, summed over every `ShardedStep` of this process since the last reset: a few
 * `performance.now()` calls per step, always on, so the split of a real run can be read without a profiler. The
 * wasm and cpu backends run their kernels synchronously, so a phase's wall time is its compute; on an asynchronous
 * backend (tensorflow) the read-back also waits for the kernels queued before it.
 */
export interface StepProfile {
  /** `ShardedStep.run` calls counted. */
  readonly steps: number;
  /** Forward pass and backward pass (`tf.variableGrads`). */
  readonly forwardBackwardMs: number;
  /**
   * Gradients, loss and correct count read back from the backend into the reducer's buffer (`flattenGradients`:
   * on wasm one copy from the heap into the buffer, elsewhere `data()` then a copy).
   */
  readonly readBackMs: number;
  /** The reducer's `sum` (the ring all-reduce, including waiting for the other ranks to reach it). */
  readonly reduceMs: number;
  /** The reduced sums copied back out of the buffer into one gradient tensor per variable. */
  readonly unpackMs: number;
  /** The optimizer's update (timed by the phase loops around `Optimizer.apply`). */
  readonly optimizerMs: number;
}

const profile = {
  steps: 0,
  forwardBackwardMs: 0,
  readBackMs: 0,
  reduceMs: 0,
  unpackMs: 0,
  optimizerMs: 0,
};

/** A copy of this process's counters. */
export function readStepProfile(): StepProfile {
  return { ...profile };
}

/** Sets every counter to zero (e.g. after warm-up steps). */
export function resetStepProfile(): void {
  for (const key of Object.keys(profile) as (keyof typeof profile)[]) profile[key] = 0;
}

/** Adds the milliseconds since `since` (a `performance.now()`) to one counter and returns the time now. */
export function addStepTime(field: Exclude<keyof StepProfile, 'steps'>, since: number): number {
  const now = performance.now();
  profile[field] += now - since;
  return now;
}

/** Counts one step. */
export function countStep(): void {
  profile.steps += 1;
}
