import type {
  ArtifactView,
  EpochMetricsView,
  ExperimentDetail,
  ExperimentStateName,
  LiveEvent,
  ProgressView,
  RunStateName,
} from '../api.js';

/** A run as the experiment page shows it: the stored view, updated by live events, with its loss curves. */
export interface LiveRun {
  readonly id: string;
  readonly label: string;
  readonly dataset: string;
  readonly model: string;
  readonly arm: string;
  readonly seed: number;
  readonly state: RunStateName;
  readonly phase: string;
  readonly statusMessage: string;
  readonly restarts: number;
  readonly workerIds: readonly string[];
  readonly progress: ProgressView | null;
  /** Keyed by `phase:epoch`: a metric reported again after a recovery replaces the earlier one. */
  readonly metrics: ReadonlyMap<string, EpochMetricsView>;
  /** Loss per step (`step → loss`) of pretraining and of training. */
  readonly pretrainingLoss: ReadonlyMap<number, number>;
  readonly trainingLoss: ReadonlyMap<number, number>;
}

/** The experiment page's state. */
export interface LiveExperiment {
  readonly detail: ExperimentDetail;
  readonly state: ExperimentStateName;
  readonly statusMessage: string;
  readonly runs: readonly LiveRun[];
  readonly artifacts: readonly ArtifactView[];
  /** The last event sequence applied (the stream's resume point). */
  readonly sequence: number;
}

const metricKey = (m: EpochMetricsView) => `${m.phase}:${m.epoch}`;

export function initialState(detail: ExperimentDetail): LiveExperiment {
  return {
    detail,
    state: detail.state,
    statusMessage: detail.statusMessage,
    runs: detail.runs.map((r) => ({
      id: r.id,
      label: r.label,
      dataset: r.dataset,
      model: r.model,
      arm: r.arm,
      seed: r.seed,
      state: r.state,
      phase: r.phase,
      statusMessage: r.statusMessage,
      restarts: r.restarts,
      workerIds: r.workerIds,
      progress: r.progress,
      metrics: new Map(r.metrics.map((m) => [metricKey(m), m])),
      pretrainingLoss: new Map(),
      trainingLoss: new Map(),
    })),
    artifacts: detail.artifacts,
    sequence: 0,
  };
}

const TERMINAL_RUN: readonly RunStateName[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/**
 * Applies one live message's events (in stream order) to the page state. Applying the same facts again changes
 * nothing (metrics by epoch, losses by step, artifacts by id), so the stored snapshot and the stream's replay
 * of everything before it agree.
 */
export function applyEvents(state: LiveExperiment, sequence: number, events: readonly LiveEvent[]): LiveExperiment {
  if (sequence <= state.sequence && events.length === 0) return state;
  const runs = new Map(
    state.runs.map((r) => [r.id, { ...r }] as [string, { -readonly [K in keyof LiveRun]: LiveRun[K] }])
  );
  let experimentState = state.state;
  let statusMessage = state.statusMessage;
  const artifacts = new Map(state.artifacts.map((a) => [a.id, a]));
  for (const event of events) {
    if (event.kind === 'experimentState') {
      experimentState = event.state;
      statusMessage = event.message;
      continue;
    }
    if (event.kind === 'artifact') {
      artifacts.set(event.artifact.id, event.artifact);
      continue;
    }
    const run = runs.get(event.runId);
    if (!run) continue; // an experiment-level log
    switch (event.kind) {
      case 'runState':
        run.state = event.state;
        run.statusMessage = event.message;
        run.restarts = event.restarts;
        if (event.state !== 'RUNNING') run.phase = 'UNSPECIFIED';
        if (TERMINAL_RUN.includes(event.state)) run.workerIds = [];
        break;
      case 'phase':
        run.phase = event.phase;
        break;
      case 'progress': {
        run.progress = event.progress;
        if (event.progress.phase !== 'EVALUATING') run.phase = event.progress.phase;
        if (event.points.length > 0) {
          const key = event.progress.phase === 'PRETRAINING' ? 'pretrainingLoss' : 'trainingLoss';
          const curve = new Map(run[key]);
          for (const [step, loss] of event.points) curve.set(step, loss);
          run[key] = curve;
        }
        break;
      }
      case 'epochMetrics': {
        const metrics = new Map(run.metrics);
        metrics.set(metricKey(event.metrics), event.metrics);
        run.metrics = metrics;
        break;
      }
      case 'workers':
        run.workerIds = event.workerIds;
        break;
      case 'log':
        break;
    }
  }
  return {
    ...state,
    state: experimentState,
    statusMessage,
    runs: state.runs.map((r) => runs.get(r.id)!),
    artifacts: [...artifacts.values()],
    sequence: Math.max(state.sequence, sequence),
  };
}

/** Fraction 0–1 of the run's current phase done, for its progress bar. */
export function phaseFraction(run: LiveRun): number {
  if (run.state === 'SUCCEEDED') return 1;
  const p = run.progress;
  if (!p || p.stepsTotal <= 0) return 0;
  return Math.min(1, p.step / p.stepsTotal);
}
