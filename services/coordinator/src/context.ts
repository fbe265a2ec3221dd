import type { ReportOptions } from '@supwalsh/report';
import type { CoordinatorLogger } from './logger.js';
import type { Store } from './store.js';

/** Tunables of the coordinator; every one has a default (`DEFAULT_COORDINATOR_SETTINGS`). */
export interface CoordinatorSettings {
  /** RegisterWorkerResponse.heartbeat_interval_ms (PROTOCOL.md step 1). @default 2000 */
  readonly heartbeatIntervalMs: number;
  /** RegisterWorkerResponse.lease_ttl_ms: a worker silent for this long is LOST (step 3). @default 10000 */
  readonly leaseTtlMs: number;
  /** The scheduler's periodic pass: lease expiry, time limits, queued runs (step 5). @default 1000 */
  readonly scheduleIntervalMs: number;
  /** Deadline of each StartShard and AbortShard call (step 6). @default 10000 */
  readonly workerCallDeadlineMs: number;
  /** SubmitExperiment answers RESOURCE_EXHAUSTED while this many experiments are QUEUED or RUNNING. @default 1000 */
  readonly maxActiveExperiments: number;
  /** SubmitExperiment answers RESOURCE_EXHAUSTED while this many experiments are QUEUED. @default 500 */
  readonly maxQueuedExperiments: number;
  /** WatchExperiment answers RESOURCE_EXHAUSTED while an experiment has this many open watches. @default 64 */
  readonly maxWatchersPerExperiment: number;
  /** Largest encoded spec SubmitExperiment takes (INVALID_ARGUMENT `spec`). @default 262144 (256 KiB) */
  readonly maxSpecBytes: number;
  /** Most runs a spec may expand to (INVALID_ARGUMENT `seeds`). @default 1024 */
  readonly maxRunsPerExperiment: number;
  /** Largest gRPC message the server takes (grpc.max_receive_message_length). @default 8388608 (8 MiB) */
  readonly maxMessageBytes: number;
  /** LOST workers are forgotten (dropped from ListWorkers) after this long. @default 3600000 (1 h) */
  readonly forgetLostWorkersAfterMs: number;
  /**
   * How long a REFORMING run waits for the other members of its broken ring to stop their shards, so that it
   * re-forms with all of them, before it re-forms with those free (a dead member is only known when its lease
   * expires). Rank 0 is always waited for: it sends the run's last reports. @default 5000
   */
  readonly reformGraceMs: number;
  /**
   * After a restart, how long workers get (on top of one lease) to register again before they are LOST: their
   * reconnect backoff grows to 10 s while the coordinator is away. @default 15000
   */
  readonly restartGraceMs: number;
  /** How long `shutdown()` lets calls in flight finish before cancelling them. @default 5000 */
  readonly shutdownTimeoutMs: number;
  /** Passed to @supwalsh/report's `writeReport` (e.g. `{ png: false }`); `plots` comes from the spec. */
  readonly reportOptions: Omit<ReportOptions, 'plots'>;
}

export const DEFAULT_COORDINATOR_SETTINGS: CoordinatorSettings = {
  heartbeatIntervalMs: 2000,
  leaseTtlMs: 10_000,
  scheduleIntervalMs: 1000,
  workerCallDeadlineMs: 10_000,
  maxActiveExperiments: 1000,
  maxQueuedExperiments: 500,
  maxWatchersPerExperiment: 64,
  maxSpecBytes: 256 * 1024,
  maxRunsPerExperiment: 1024,
  maxMessageBytes: 8 << 20,
  forgetLostWorkersAfterMs: 3_600_000,
  reformGraceMs: 5000,
  restartGraceMs: 15_000,
  shutdownTimeoutMs: 5000,
  reportOptions: {},
};

/** An AbortShard call to make once the transaction that decided it has committed (PROTOCOL.md step 8). */
export interface AbortRequest {
  readonly workerId: string;
  readonly address: string;
  readonly runId: string;
  readonly generation: number;
  readonly reason: string;
}

/**
 * What a committed change asks of the scheduler: abort shards, finish experiments whose runs have all ended
 * (step 10), delete files of removed artifacts, run a scheduling pass. Collected inside a transaction and applied
 * only after it commits.
 */
export interface Effects {
  readonly aborts: AbortRequest[];
  readonly completions: Set<string>;
  /** Absolute paths of files whose artifact rows were deleted. */
  readonly deletions: string[];
  /** Runs whose ring broke and that now re-form (PROTOCOL.md step 11), for the recoveries metric. */
  readonly reformed: { readonly runId: string; readonly cause: 'failure' | 'hand-over' }[];
  schedule: boolean;
}

export function newEffects(): Effects {
  return { aborts: [], completions: new Set(), deletions: [], reformed: [], schedule: false };
}

/** Everything the coordinator's parts share. */
export interface CoordinatorContext {
  readonly store: Store;
  /** Milliseconds since the Unix epoch. */
  readonly clock: () => number;
  readonly logger: CoordinatorLogger;
  /** Dataset roots of specs are confined to it (invariant 5). */
  readonly dataDir: string;
  /** Artifacts live under it: `<experiment id>/<run id or _experiment>/…`. */
  readonly artifactsDir: string;
  readonly settings: CoordinatorSettings;
  /** Random id of this coordinator process (RegisterWorkerResponse.coordinator_instance_id). */
  readonly instanceId: string;
  /** Hands committed effects to the scheduler (set by it). */
  apply(effects: Effects): void;
}
