/**
 * The JSON of the coordinator's dashboard HTTP API (`/api/…`), shared by the server (services/coordinator's http
 * module) and the page. Times are milliseconds since the Unix epoch; states and phases are the proto names without
 * their prefix (`RUNNING`, `PRETRAINING`).
 */

/** Who may do what (ARCHITECTURE.md invariant 6). */
export type Role = 'client' | 'worker' | 'admin';

/** An authenticated caller. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

export type ExperimentStateName = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export type RunStateName = 'QUEUED' | 'RUNNING' | 'REFORMING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export type PhaseName = 'UNSPECIFIED' | 'PRETRAINING' | 'TRAINING' | 'EVALUATING';

export const EXPERIMENT_STATE_NAMES: readonly ExperimentStateName[] = [
  'QUEUED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
];

/** `GET /api/session`, `POST /api/session`. */
export interface SessionInfo {
  readonly principal: Principal;
  /** false when the coordinator has no token file (every caller is the local admin). */
  readonly tokenRequired: boolean;
}

/** A row of `GET /api/experiments`. */
export interface ExperimentRow {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly state: ExperimentStateName;
  /** Runs that ended (succeeded, failed or cancelled). */
  readonly runsDone: number;
  readonly runsTotal: number;
  readonly createTime: number;
  readonly startTime: number | null;
  readonly endTime: number | null;
}

/** `GET /api/experiments?state=…&pageSize=…&pageToken=…`: newest first. */
export interface ExperimentPage {
  readonly experiments: readonly ExperimentRow[];
  /** Pass as `pageToken` for the next page; '' on the last. */
  readonly nextPageToken: string;
}

/** One finished epoch of a run (EpochMetrics); accuracies are fractions 0–1. */
export interface EpochMetricsView {
  readonly phase: PhaseName;
  readonly epoch: number;
  readonly trainLoss?: number;
  readonly trainAccuracy?: number;
  readonly testLoss?: number;
  readonly testAccuracy?: number;
}

/** A run's latest StepProgress. */
export interface ProgressView {
  readonly phase: PhaseName;
  readonly epoch: number;
  readonly epochsTotal: number;
  readonly step: number;
  readonly stepsTotal: number;
  readonly loss: number;
  readonly imagesPerSecond: number;
  /** Seconds to the end of the phase; null while unknown. */
  readonly etaSeconds: number | null;
}

export interface RunView {
  readonly id: string;
  readonly index: number;
  readonly label: string;
  readonly dataset: string;
  readonly model: string;
  readonly arm: string;
  readonly seed: number;
  readonly state: RunStateName;
  readonly phase: PhaseName;
  readonly statusMessage: string;
  readonly workerIds: readonly string[];
  readonly restarts: number;
  readonly progress: ProgressView | null;
  readonly metrics: readonly EpochMetricsView[];
}

export interface ArtifactView {
  readonly id: string;
  /** '' for the experiment's own (report, results, plots). */
  readonly runId: string;
  /** e.g. `REPORT`, `RESULTS_JSON`, `PLOT`, `WEIGHTS`. */
  readonly kind: string;
  readonly name: string;
  readonly mediaType: string;
  readonly sizeBytes: number;
}

/** `GET /api/experiments/:id`. */
export interface ExperimentDetail extends ExperimentRow {
  readonly statusMessage: string;
  /** The spec as submitted, in YAML. */
  readonly specYaml: string;
  readonly runs: readonly RunView[];
  readonly artifacts: readonly ArtifactView[];
  /** Sequence of the experiment's latest event when this was read. */
  readonly lastSequence: number;
  /** Whether the caller may cancel it (its owner or an admin) and it is still QUEUED or RUNNING. */
  readonly canCancel: boolean;
}

/** A row of `GET /api/workers`. */
export interface WorkerView {
  readonly id: string;
  readonly state: 'IDLE' | 'BUSY' | 'DRAINING' | 'LOST';
  readonly backend: string;
  /** The device it computes on, e.g. `GPU 0: NVIDIA H200` or `CPU: …`. */
  readonly device: string;
  /** Its gRPC address; only admins see it (empty for others). */
  readonly address: string;
  /** The run whose shard it runs, '' when idle, its experiment and its rank there. */
  readonly runId: string;
  readonly experimentId: string;
  readonly rank: number | null;
  readonly lastHeartbeatAgeMs: number;
  /** Shards it ran in a re-formed ring (generation > 1): the recoveries it took part in. */
  readonly recoveries: number;
}

/** `GET /api/workers`. */
export interface WorkerList {
  readonly workers: readonly WorkerView[];
  /** Server time the ages were computed at. */
  readonly time: number;
}

/**
 * One change carried by the live stream (`GET /api/experiments/:id/events`, server-sent events). Step progress of
 * one run and phase is merged: `points` holds every merged step's loss (`[step, loss]`), `progress` the latest.
 */
export type LiveEvent =
  | { readonly kind: 'experimentState'; readonly state: ExperimentStateName; readonly message: string }
  | {
      readonly kind: 'runState';
      readonly runId: string;
      readonly state: RunStateName;
      readonly message: string;
      readonly restarts: number;
    }
  | { readonly kind: 'phase'; readonly runId: string; readonly phase: PhaseName }
  | {
      readonly kind: 'progress';
      readonly runId: string;
      readonly progress: ProgressView;
      readonly points: readonly (readonly [number, number])[];
    }
  | { readonly kind: 'epochMetrics'; readonly runId: string; readonly metrics: EpochMetricsView }
  | { readonly kind: 'workers'; readonly runId: string; readonly workerIds: readonly string[] }
  | { readonly kind: 'artifact'; readonly artifact: ArtifactView }
  | { readonly kind: 'log'; readonly runId: string; readonly level: string; readonly message: string };

/**
 * The data of one server-sent event (its `id` is `sequence`): the stored events after the previous message's
 * sequence up to `sequence`, in order, progress merged. `end` is set on the last message of a finished experiment.
 */
export interface LiveMessage {
  readonly sequence: number;
  readonly events: readonly LiveEvent[];
  readonly end?: boolean;
}

/** The body of every 4xx/5xx answer. */
export interface ApiError {
  readonly error: string;
}
