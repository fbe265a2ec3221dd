import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  CheckpointRef,
  EpochMetrics,
  ExperimentEvent,
  ExperimentSpec,
  PretrainingSummary,
  RunSpec,
  StepProgress,
  WorkerInfo,
  type ArtifactKind,
  type Backend,
  type Phase,
  type ShardFailure,
} from '@supwalsh/proto';
import type { ServiceSettings } from '@supwalsh/wire';
import Database from 'better-sqlite3';
import { NotFoundError, StoreIntegrityError, toError } from './errors.js';
import { EventBus } from './event-bus.js';
import { MIGRATIONS, SCHEMA_TABLES, SCHEMA_VERSION } from './schema.js';
import {
  artifactKindName,
  artifactKindValue,
  backendName,
  backendValue,
  phaseName,
  phaseValue,
  shardFailureName,
  shardFailureValue,
  type ExperimentStateName,
  type RunStateName,
  type ShardEndName,
  type WorkerStateName,
} from './states.js';

/** File name of the store inside the data directory. */
export const STORE_FILE_NAME = 'coordinator.db';

/** An experiment as stored (without its runs). Times are ms since the Unix epoch. */
export interface ExperimentRecord {
  readonly id: string;
  readonly name: string;
  readonly state: ExperimentStateName;
  readonly spec: ExperimentSpec;
  readonly resolvedSpec: ExperimentSpec;
  /** @supwalsh/method's ResolvedExperimentSpec (ExperimentResult.spec). */
  readonly methodSpec: unknown;
  readonly settings: ServiceSettings;
  readonly deviations: readonly string[];
  readonly methodDeviations: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly priority: number;
  readonly requestId: string | null;
  readonly owner: string;
  readonly createTime: number;
  readonly startTime: number | null;
  readonly endTime: number | null;
  readonly statusMessage: string;
  readonly lastSequence: number;
}

/** A run as stored. `worldSize` and `workerIds` describe the latest ring, also after the run ended. */
export interface RunRecord {
  readonly id: string;
  readonly experimentId: string;
  readonly index: number;
  readonly datasetIndex: number;
  readonly modelIndex: number;
  readonly armIndex: number;
  readonly seed: number;
  readonly label: string;
  readonly runSpec: RunSpec;
  readonly state: RunStateName;
  readonly phase: Phase;
  readonly worldSize: number;
  readonly generation: number;
  readonly workerIds: readonly string[];
  readonly backend: Backend;
  /** Times the ring broke and re-formed, hand-overs included (Run.restarts). */
  readonly restarts: number;
  /** Breaks that count against limits.max_run_restarts (hand-overs by draining workers do not). */
  readonly failures: number;
  readonly latestCheckpoint: CheckpointRef | null;
  readonly progress: StepProgress | null;
  readonly pretraining: PretrainingSummary | null;
  readonly startTime: number | null;
  readonly endTime: number | null;
  readonly statusMessage: string;
}

/** A stored file. `path` is relative to the artifacts directory. */
export interface ArtifactRecord {
  readonly id: string;
  readonly experimentId: string;
  /** '' for experiment-level artifacts. */
  readonly runId: string;
  readonly kind: ArtifactKind;
  readonly name: string;
  readonly mediaType: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly path: string;
  readonly createTime: number;
  readonly checkpoint: CheckpointRef | null;
}

/** A registered worker. */
export interface WorkerRecord {
  readonly workerId: string;
  readonly instanceId: string;
  readonly leaseId: string;
  readonly address: string;
  /** As registered; `shards` as last reported. */
  readonly info: WorkerInfo;
  readonly state: WorkerStateName;
  readonly assignedRunId: string | null;
  readonly registerTime: number;
  readonly lastHeartbeat: number;
  /**
   * The principal that registered this worker id (schema migration 3); '' for none recorded. `putWorker` leaves it
   * as stored: set it with `updateWorker`.
   */
  readonly principal?: string;
}

/** What the coordinator stored of one shard's reports (PROTOCOL.md step 7). */
export interface ShardReportRecord {
  readonly runId: string;
  readonly generation: number;
  readonly rank: number;
  readonly workerId: string;
  readonly lastSequence: number;
  readonly finishedState: ShardEndName | null;
  readonly failure: ShardFailure;
  readonly message: string;
}

/** Filters and page of {@link Store.listExperiments}. */
export interface ExperimentQuery {
  readonly states?: readonly ExperimentStateName[];
  readonly labelSelector?: Readonly<Record<string, string>>;
  readonly namePrefix?: string;
  /** Only the experiments this principal owns (clients); unset: everyone's (admins). */
  readonly owner?: string;
  /** Experiments strictly older than this (create_time, id) position: the previous page's last. */
  readonly before?: { readonly createTime: number; readonly id: string };
  readonly limit: number;
}

/** Number of runs of an experiment per state. */
export type RunStateCounts = Record<RunStateName, number>;

type EventPayload = NonNullable<ExperimentEvent['payload']>;
type Row = Record<string, unknown>;

const bytes = (message: Uint8Array): Buffer => Buffer.from(message.buffer, message.byteOffset, message.byteLength);
const num = (value: unknown): number => Number(value);
const optNum = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const str = (value: unknown): string => String(value ?? '');
const blob = (value: unknown): Uint8Array | null => (value instanceof Uint8Array ? value : null);

function experimentFromRow(row: Row): ExperimentRecord {
  return {
    id: str(row.id),
    name: str(row.name),
    state: str(row.state) as ExperimentStateName,
    spec: ExperimentSpec.decode(blob(row.spec) ?? new Uint8Array()),
    resolvedSpec: ExperimentSpec.decode(blob(row.resolved_spec) ?? new Uint8Array()),
    methodSpec: JSON.parse(str(row.method_spec)) as unknown,
    settings: JSON.parse(str(row.settings)) as ServiceSettings,
    deviations: JSON.parse(str(row.deviations)) as string[],
    methodDeviations: JSON.parse(str(row.method_deviations)) as string[],
    labels: JSON.parse(str(row.labels)) as Record<string, string>,
    priority: num(row.priority),
    requestId: row.request_id === null ? null : str(row.request_id),
    owner: str(row.owner),
    createTime: num(row.create_time),
    startTime: optNum(row.start_time),
    endTime: optNum(row.end_time),
    statusMessage: str(row.status_message),
    lastSequence: num(row.last_sequence),
  };
}

function runFromRow(row: Row): RunRecord {
  const checkpoint = blob(row.latest_checkpoint);
  const progress = blob(row.progress);
  const pretraining = blob(row.pretraining);
  return {
    id: str(row.id),
    experimentId: str(row.experiment_id),
    index: num(row.run_index),
    datasetIndex: num(row.dataset_index),
    modelIndex: num(row.model_index),
    armIndex: num(row.arm_index),
    seed: num(row.seed),
    label: str(row.label),
    runSpec: RunSpec.decode(blob(row.run_spec) ?? new Uint8Array()),
    state: str(row.state) as RunStateName,
    phase: phaseValue(str(row.phase)),
    worldSize: num(row.world_size),
    generation: num(row.generation),
    workerIds: JSON.parse(str(row.worker_ids)) as string[],
    backend: backendValue(str(row.backend)),
    restarts: num(row.restarts),
    failures: num(row.failures),
    latestCheckpoint: checkpoint ? CheckpointRef.decode(checkpoint) : null,
    progress: progress ? StepProgress.decode(progress) : null,
    pretraining: pretraining ? PretrainingSummary.decode(pretraining) : null,
    startTime: optNum(row.start_time),
    endTime: optNum(row.end_time),
    statusMessage: str(row.status_message),
  };
}

function artifactFromRow(row: Row): ArtifactRecord {
  const checkpoint = blob(row.checkpoint);
  return {
    id: str(row.id),
    experimentId: str(row.experiment_id),
    runId: str(row.run_id),
    kind: artifactKindValue(str(row.kind)),
    name: str(row.name),
    mediaType: str(row.media_type),
    sizeBytes: num(row.size_bytes),
    sha256: str(row.sha256),
    path: str(row.path),
    createTime: num(row.create_time),
    checkpoint: checkpoint ? CheckpointRef.decode(checkpoint) : null,
  };
}

function workerFromRow(row: Row): WorkerRecord {
  return {
    workerId: str(row.worker_id),
    instanceId: str(row.instance_id),
    leaseId: str(row.lease_id),
    address: str(row.address),
    info: WorkerInfo.decode(blob(row.info) ?? new Uint8Array()),
    state: str(row.state) as WorkerStateName,
    assignedRunId: row.assigned_run_id === null ? null : str(row.assigned_run_id),
    registerTime: num(row.register_time),
    lastHeartbeat: num(row.last_heartbeat),
    principal: row.principal === undefined || row.principal === null ? '' : str(row.principal),
  };
}

function shardReportFromRow(row: Row): ShardReportRecord {
  return {
    runId: str(row.run_id),
    generation: num(row.generation),
    rank: num(row.rank),
    workerId: str(row.worker_id),
    lastSequence: num(row.last_sequence),
    finishedState: row.finished_state === null ? null : (str(row.finished_state) as ShardEndName),
    failure: shardFailureValue(str(row.failure)),
    message: str(row.message),
  };
}

/** Column values of a run update; only the given ones change. */
export interface RunPatch {
  state?: RunStateName;
  phase?: Phase;
  worldSize?: number;
  generation?: number;
  workerIds?: readonly string[];
  backend?: Backend;
  restarts?: number;
  failures?: number;
  latestCheckpoint?: CheckpointRef | null;
  progress?: StepProgress | null;
  pretraining?: PretrainingSummary | null;
  startTime?: number | null;
  endTime?: number | null;
  statusMessage?: string;
}

/** Column values of an experiment update; only the given ones change. */
export interface ExperimentPatch {
  state?: ExperimentStateName;
  startTime?: number | null;
  endTime?: number | null;
  statusMessage?: string;
}

/** Column values of a worker update; only the given ones change. */
export interface WorkerPatch {
  state?: WorkerStateName;
  leaseId?: string;
  assignedRunId?: string | null;
  lastHeartbeat?: number;
  info?: WorkerInfo;
  /** The principal that registered the worker id. */
  principal?: string;
}

/** A new experiment with its runs, as {@link Store.insertExperiment} takes it. */
export interface NewExperiment {
  readonly record: Omit<ExperimentRecord, 'lastSequence' | 'startTime' | 'endTime' | 'statusMessage'>;
  readonly runs: readonly Pick<
    RunRecord,
    'id' | 'index' | 'datasetIndex' | 'modelIndex' | 'armIndex' | 'seed' | 'label' | 'runSpec'
  >[];
}

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** Open the database read-only (inspection tools). @default false */
  readonly?: boolean;
  /**
   * The artifacts directory: a missing or empty database beside experiments stored here is refused (their records
   * would be gone). @default `<dataDir>/artifacts`
   */
  artifactsDir?: string;
  /** Run SQLite's `PRAGMA quick_check` before anything else (O(database size)). @default true */
  check?: boolean;
}

/** How to get a trustworthy store back, appended to every refusal (deploy/README.md, Backup and restore). */
const RESTORE_HINT =
  'restore the latest backup (nx run coordinator:backup; deploy/README.md, "Backup and restore") or move the file away to start empty';

/** Experiment directories (`exp-…`) under the artifacts directory, at most a few (for the message). */
function storedExperimentDirs(artifactsDir: string): string[] {
  try {
    return readdirSync(artifactsDir)
      .filter((name) => name.startsWith('exp-'))
      .slice(0, 3);
  } catch {
    return [];
  }
}

/**
 * Refuses a database that cannot be trusted (PROTOCOL.md does not cover the store: README, Store schema): damage
 * SQLite's `quick_check` finds (or a file that is not a database), an empty or missing database beside stored
 * experiments, a schema this build did not write. Throws StoreIntegrityError naming the file.
 */
function checkStore(
  db: Database.Database,
  file: string,
  options: { check: boolean; fresh: boolean; artifactsDir: string }
) {
  if (options.check) {
    let result: string[];
    try {
      result = (db.pragma('quick_check(20)') as Row[]).map((row) => str(Object.values(row)[0]));
    } catch (error: unknown) {
      throw new StoreIntegrityError(file, 'damaged', `${file} is damaged: ${toError(error).message}; ${RESTORE_HINT}`, {
        cause: error,
      });
    }
    if (result.length !== 1 || result[0] !== 'ok') {
      throw new StoreIntegrityError(
        file,
        'damaged',
        `${file} is damaged (SQLite quick_check: ${result
          .slice(0, 5)
          .join('; ')
          .replace(/\s*\n\s*/g, '; ')}); ${RESTORE_HINT}`
      );
    }
  }
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw new StoreIntegrityError(
      file,
      'newer-schema',
      `${file} has schema version ${version}, newer than this coordinator's ${SCHEMA_VERSION}; upgrade the coordinator`
    );
  }
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as Row[]).map(
      (row) => str(row.name)
    )
  );
  if (version === 0 && tables.size > 0) {
    throw new StoreIntegrityError(
      file,
      'unknown-schema',
      `${file} holds tables (${[...tables].slice(0, 5).join(', ')}) but no supwalsh schema version: it is not a coordinator store; ${RESTORE_HINT}`
    );
  }
  const missing = version === 0 ? [] : SCHEMA_TABLES.filter((table) => !tables.has(table));
  if (missing.length > 0) {
    throw new StoreIntegrityError(
      file,
      'unknown-schema',
      `${file} says schema version ${version} but lacks the tables ${missing.join(', ')}; ${RESTORE_HINT}`
    );
  }
  if (version === 0 && options.fresh) {
    const orphans = storedExperimentDirs(options.artifactsDir);
    if (orphans.length > 0) {
      throw new StoreIntegrityError(
        file,
        'empty-beside-artifacts',
        `${file} is empty or missing, but ${options.artifactsDir} holds stored experiments (${orphans.join(', ')}…): starting would orphan them; ${RESTORE_HINT}`
      );
    }
  }
}

/**
 * The coordinator's SQLite store (better-sqlite3, synchronous): experiments, runs, events, shard report
 * positions, artifacts and workers. WAL journal, `synchronous = NORMAL`, foreign keys on. Every multi-row change
 * runs in {@link Store.transaction}; events appended in a transaction are announced on {@link Store.bus} only after
 * it commits.
 */
export class Store {
  /** Announces committed events per experiment. */
  readonly bus = new EventBus();
  private readonly statements = new Map<string, Database.Statement>();
  /** Experiments that got events in the transaction in progress. */
  private readonly pending = new Map<string, number>();
  private closed = false;

  constructor(
    /** The open database (owned by the store from now on). */
    readonly db: Database.Database,
    /** Path of the database file. */
    readonly file: string
  ) {}

  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Runs `fn` in a transaction (a savepoint when nested): all of its changes or none. Events it appended are
   * published on the bus once the outermost transaction has committed.
   */
  transaction<T>(fn: () => T): T {
    const outermost = !this.db.inTransaction;
    try {
      const result = this.db.transaction(fn)();
      if (outermost) this.flush();
      return result;
    } catch (error: unknown) {
      if (outermost) this.pending.clear();
      throw error;
    }
  }

  private flush(): void {
    const pending = [...this.pending];
    this.pending.clear();
    for (const [experimentId, lastSequence] of pending) this.bus.publish(experimentId, lastSequence);
  }

  /** The journal mode SQLite reports (`wal` for a file store). */
  journalMode(): string {
    return String(this.db.pragma('journal_mode', { simple: true }));
  }

  /** The applied schema version (`PRAGMA user_version`). */
  schemaVersion(): number {
    return Number(this.db.pragma('user_version', { simple: true }));
  }

  /** Copies the WAL into the database file and truncates it (`PRAGMA wal_checkpoint(TRUNCATE)`). */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** Checkpoints and closes the database. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.bus.close();
    try {
      this.checkpoint();
    } finally {
      this.db.close();
    }
  }

  // ---------------------------------------------------------------- experiments

  /** Stores a new experiment and its runs in one transaction (events are appended by the caller). */
  insertExperiment(experiment: NewExperiment): void {
    const e = experiment.record;
    this.transaction(() => {
      this.sql(
        `INSERT INTO experiments (id, name, state, spec, resolved_spec, method_spec, settings, deviations,
           method_deviations, labels, priority, request_id, owner, create_time)
         VALUES (@id, @name, @state, @spec, @resolvedSpec, @methodSpec, @settings, @deviations, @methodDeviations,
           @labels, @priority, @requestId, @owner, @createTime)`
      ).run({
        id: e.id,
        name: e.name,
        state: e.state,
        spec: bytes(ExperimentSpec.encode(e.spec).finish()),
        resolvedSpec: bytes(ExperimentSpec.encode(e.resolvedSpec).finish()),
        methodSpec: JSON.stringify(e.methodSpec),
        settings: JSON.stringify(e.settings),
        deviations: JSON.stringify(e.deviations),
        methodDeviations: JSON.stringify(e.methodDeviations),
        labels: JSON.stringify(e.labels),
        priority: e.priority,
        requestId: e.requestId,
        owner: e.owner,
        createTime: e.createTime,
      });
      const insertRun = this.sql(
        `INSERT INTO runs (id, experiment_id, run_index, dataset_index, model_index, arm_index, seed, label, run_spec,
           state)
         VALUES (@id, @experimentId, @index, @datasetIndex, @modelIndex, @armIndex, @seed, @label, @runSpec, 'QUEUED')`
      );
      for (const run of experiment.runs) {
        insertRun.run({
          id: run.id,
          experimentId: e.id,
          index: run.index,
          datasetIndex: run.datasetIndex,
          modelIndex: run.modelIndex,
          armIndex: run.armIndex,
          seed: run.seed,
          label: run.label,
          runSpec: bytes(RunSpec.encode(run.runSpec).finish()),
        });
      }
    });
  }

  getExperiment(id: string): ExperimentRecord | undefined {
    const row = this.sql('SELECT * FROM experiments WHERE id = ?').get(id) as Row | undefined;
    return row ? experimentFromRow(row) : undefined;
  }

  /** The experiment, or `NotFoundError`. */
  requireExperiment(id: string): ExperimentRecord {
    const experiment = this.getExperiment(id);
    if (!experiment) throw new NotFoundError('experiment', id);
    return experiment;
  }

  getExperimentByRequestId(requestId: string): ExperimentRecord | undefined {
    const row = this.sql('SELECT * FROM experiments WHERE request_id = ?').get(requestId) as Row | undefined;
    return row ? experimentFromRow(row) : undefined;
  }

  /** Experiments matching `query`, newest first (create_time, then id, descending). */
  listExperiments(query: ExperimentQuery): ExperimentRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.states && query.states.length > 0) {
      where.push(`state IN (${query.states.map(() => '?').join(', ')})`);
      params.push(...query.states);
    }
    for (const [key, value] of Object.entries(query.labelSelector ?? {})) {
      where.push(`json_extract(labels, ?) IS ?`);
      params.push(`$."${key.replace(/"/g, '')}"`, value);
    }
    if (query.owner !== undefined) {
      where.push('owner = ?');
      params.push(query.owner);
    }
    if (query.namePrefix) {
      where.push('substr(name, 1, ?) = ?');
      params.push(query.namePrefix.length, query.namePrefix);
    }
    if (query.before) {
      where.push('(create_time < ? OR (create_time = ? AND id < ?))');
      params.push(query.before.createTime, query.before.createTime, query.before.id);
    }
    const rows = this.db
      .prepare(
        `SELECT * FROM experiments ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY create_time DESC, id DESC LIMIT ?`
      )
      .all(...params, query.limit) as Row[];
    return rows.map(experimentFromRow);
  }

  /** Unfinished experiments in scheduling order: priority (higher first), then submission order. */
  listActiveExperiments(): ExperimentRecord[] {
    const rows = this.sql(
      `SELECT * FROM experiments WHERE state IN ('QUEUED', 'RUNNING') ORDER BY priority DESC, create_time, rowid`
    ).all() as Row[];
    return rows.map(experimentFromRow);
  }

  /** Unfinished experiments with a time limit (limits.experiment_timeout_seconds or run_timeout_seconds). */
  listActiveExperimentsWithTimeLimits(): ExperimentRecord[] {
    const rows = this.sql(
      `SELECT * FROM experiments WHERE state IN ('QUEUED', 'RUNNING')
         AND (json_extract(settings, '$.limits.experimentTimeoutSeconds') > 0
           OR json_extract(settings, '$.limits.runTimeoutSeconds') > 0)`
    ).all() as Row[];
    return rows.map(experimentFromRow);
  }

  /** Ids of unfinished experiments none of whose runs is still queued or running (they await step 10). */
  listExperimentsAwaitingCompletion(): string[] {
    const rows = this.sql(
      `SELECT id FROM experiments e WHERE state IN ('QUEUED', 'RUNNING') AND NOT EXISTS (
         SELECT 1 FROM runs r WHERE r.experiment_id = e.id AND r.state IN ('QUEUED', 'RUNNING', 'REFORMING'))`
    ).all() as Row[];
    return rows.map((row) => str(row.id));
  }

  /** Number of QUEUED or RUNNING experiments. */
  countActiveExperiments(): number {
    const row = this.sql(`SELECT count(*) AS n FROM experiments WHERE state IN ('QUEUED', 'RUNNING')`).get() as Row;
    return num(row.n);
  }

  updateExperiment(id: string, patch: ExperimentPatch): void {
    const columns: Record<string, unknown> = {};
    if (patch.state !== undefined) columns.state = patch.state;
    if (patch.startTime !== undefined) columns.start_time = patch.startTime;
    if (patch.endTime !== undefined) columns.end_time = patch.endTime;
    if (patch.statusMessage !== undefined) columns.status_message = patch.statusMessage;
    this.update('experiments', 'id', id, columns);
  }

  private update(table: string, key: string, id: string, columns: Record<string, unknown>): void {
    const names = Object.keys(columns);
    if (names.length === 0) return;
    const result = this.sql(
      `UPDATE ${table} SET ${names.map((n) => `${n} = @${n}`).join(', ')} WHERE ${key} = @__id`
    ).run({ ...columns, __id: id });
    if (result.changes === 0) throw new Error(`${table} ${id}: no such row to update`);
  }

  // ---------------------------------------------------------------- runs

  getRun(id: string): RunRecord | undefined {
    const row = this.sql('SELECT * FROM runs WHERE id = ?').get(id) as Row | undefined;
    return row ? runFromRow(row) : undefined;
  }

  /** The runs of an experiment by index. */
  listRuns(experimentId: string): RunRecord[] {
    const rows = this.sql('SELECT * FROM runs WHERE experiment_id = ? ORDER BY run_index').all(experimentId) as Row[];
    return rows.map(runFromRow);
  }

  /** Runs in one of `states`, any experiment. */
  listRunsInStates(states: readonly RunStateName[]): RunRecord[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM runs WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY experiment_id, run_index`
      )
      .all(...states) as Row[];
    return rows.map(runFromRow);
  }

  countRuns(experimentId: string): RunStateCounts {
    const counts: RunStateCounts = { QUEUED: 0, RUNNING: 0, REFORMING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
    const rows = this.sql('SELECT state, count(*) AS n FROM runs WHERE experiment_id = ? GROUP BY state').all(
      experimentId
    ) as Row[];
    for (const row of rows) counts[str(row.state) as RunStateName] = num(row.n);
    return counts;
  }

  updateRun(id: string, patch: RunPatch): void {
    const columns: Record<string, unknown> = {};
    if (patch.state !== undefined) columns.state = patch.state;
    if (patch.phase !== undefined) columns.phase = phaseName(patch.phase);
    if (patch.worldSize !== undefined) columns.world_size = patch.worldSize;
    if (patch.generation !== undefined) columns.generation = patch.generation;
    if (patch.workerIds !== undefined) columns.worker_ids = JSON.stringify(patch.workerIds);
    if (patch.backend !== undefined) columns.backend = backendName(patch.backend);
    if (patch.restarts !== undefined) columns.restarts = patch.restarts;
    if (patch.failures !== undefined) columns.failures = patch.failures;
    if (patch.latestCheckpoint !== undefined) {
      columns.latest_checkpoint =
        patch.latestCheckpoint && bytes(CheckpointRef.encode(patch.latestCheckpoint).finish());
    }
    if (patch.progress !== undefined) {
      columns.progress = patch.progress && bytes(StepProgress.encode(patch.progress).finish());
    }
    if (patch.pretraining !== undefined) {
      columns.pretraining = patch.pretraining && bytes(PretrainingSummary.encode(patch.pretraining).finish());
    }
    if (patch.startTime !== undefined) columns.start_time = patch.startTime;
    if (patch.endTime !== undefined) columns.end_time = patch.endTime;
    if (patch.statusMessage !== undefined) columns.status_message = patch.statusMessage;
    this.update('runs', 'id', id, columns);
  }

  /** Appends a finished epoch's metrics to a run (Run.metrics). */
  appendRunMetrics(runId: string, metrics: EpochMetrics): void {
    this.sql(
      `INSERT INTO run_metrics (run_id, position, metrics)
       VALUES (?, (SELECT count(*) FROM run_metrics WHERE run_id = ?), ?)`
    ).run(runId, runId, bytes(EpochMetrics.encode(metrics).finish()));
  }

  listRunMetrics(runId: string): EpochMetrics[] {
    const rows = this.sql('SELECT metrics FROM run_metrics WHERE run_id = ? ORDER BY position').all(runId) as Row[];
    return rows.map((row) => EpochMetrics.decode(blob(row.metrics) ?? new Uint8Array()));
  }

  // ---------------------------------------------------------------- events

  /**
   * Appends an event to an experiment's stream with the next sequence number, in a transaction (joining the
   * caller's): the event and `last_sequence` are stored together, and the bus hears of it after the commit.
   */
  appendEvent(experimentId: string, runId: string, payload: EventPayload, time: number): ExperimentEvent {
    return this.transaction(() => {
      const row = this.sql('SELECT last_sequence FROM experiments WHERE id = ?').get(experimentId) as Row | undefined;
      if (!row) throw new NotFoundError('experiment', experimentId);
      const sequence = num(row.last_sequence) + 1;
      const event = ExperimentEvent.fromPartial({ experimentId, sequence, time: new Date(time), runId, payload });
      this.sql('UPDATE experiments SET last_sequence = ? WHERE id = ?').run(sequence, experimentId);
      this.sql(
        'INSERT INTO events (experiment_id, sequence, run_id, time, kind, payload) VALUES (?, ?, ?, ?, ?, ?)'
      ).run(experimentId, sequence, runId, time, payload.$case, bytes(ExperimentEvent.encode(event).finish()));
      this.pending.set(experimentId, sequence);
      return event;
    });
  }

  /** Up to `limit` events of an experiment with a sequence greater than `afterSequence`, in order. */
  listEvents(experimentId: string, afterSequence: number, limit = 256): ExperimentEvent[] {
    const rows = this.sql(
      'SELECT payload FROM events WHERE experiment_id = ? AND sequence > ? ORDER BY sequence LIMIT ?'
    ).all(experimentId, afterSequence, limit) as Row[];
    return rows.map((row) => ExperimentEvent.decode(blob(row.payload) ?? new Uint8Array()));
  }

  // ---------------------------------------------------------------- shard reports

  getShardReport(runId: string, generation: number, rank: number): ShardReportRecord | undefined {
    const row = this.sql('SELECT * FROM shard_reports WHERE run_id = ? AND generation = ? AND rank = ?').get(
      runId,
      generation,
      rank
    ) as Row | undefined;
    return row ? shardReportFromRow(row) : undefined;
  }

  /** The shards of one generation of a run that have reported, by rank. */
  listShardReports(runId: string, generation: number): ShardReportRecord[] {
    const rows = this.sql('SELECT * FROM shard_reports WHERE run_id = ? AND generation = ? ORDER BY rank').all(
      runId,
      generation
    ) as Row[];
    return rows.map(shardReportFromRow);
  }

  /** Creates or replaces a shard's report position and end. */
  putShardReport(record: ShardReportRecord): void {
    this.sql(
      `INSERT INTO shard_reports (run_id, generation, rank, worker_id, last_sequence, finished_state, failure, message)
       VALUES (@runId, @generation, @rank, @workerId, @lastSequence, @finishedState, @failure, @message)
       ON CONFLICT (run_id, generation, rank) DO UPDATE SET worker_id = excluded.worker_id,
         last_sequence = excluded.last_sequence, finished_state = excluded.finished_state,
         failure = excluded.failure, message = excluded.message`
    ).run({ ...record, failure: shardFailureName(record.failure) });
  }

  // ---------------------------------------------------------------- artifacts

  insertArtifact(artifact: ArtifactRecord): void {
    this.sql(
      `INSERT INTO artifacts (id, experiment_id, run_id, kind, name, media_type, size_bytes, sha256, path, create_time,
         checkpoint)
       VALUES (@id, @experimentId, @runId, @kind, @name, @mediaType, @sizeBytes, @sha256, @path, @createTime,
         @checkpoint)`
    ).run({
      ...artifact,
      kind: artifactKindName(artifact.kind),
      checkpoint: artifact.checkpoint && bytes(CheckpointRef.encode(artifact.checkpoint).finish()),
    });
  }

  getArtifact(id: string): ArtifactRecord | undefined {
    const row = this.sql('SELECT * FROM artifacts WHERE id = ?').get(id) as Row | undefined;
    return row ? artifactFromRow(row) : undefined;
  }

  /** The artifact stored under (experiment, run, kind, name), if any. */
  findArtifact(experimentId: string, runId: string, kind: ArtifactKind, name: string): ArtifactRecord | undefined {
    const row = this.sql(
      'SELECT * FROM artifacts WHERE experiment_id = ? AND run_id = ? AND kind = ? AND name = ?'
    ).get(experimentId, runId, artifactKindName(kind), name) as Row | undefined;
    return row ? artifactFromRow(row) : undefined;
  }

  /** Artifacts of a run (`runId` '' for the experiment's own), in creation order, optionally of some kinds only. */
  listArtifacts(experimentId: string, runId: string, kinds?: readonly ArtifactKind[]): ArtifactRecord[] {
    const kindFilter = kinds ? `AND kind IN (${kinds.map(() => '?').join(', ')})` : '';
    const rows = this.db
      .prepare(
        `SELECT * FROM artifacts WHERE experiment_id = ? AND run_id = ? ${kindFilter} ORDER BY create_time, rowid`
      )
      .all(experimentId, runId, ...(kinds ?? []).map(artifactKindName)) as Row[];
    return rows.map(artifactFromRow);
  }

  deleteArtifact(id: string): void {
    this.sql('DELETE FROM artifacts WHERE id = ?').run(id);
  }

  // ---------------------------------------------------------------- workers

  getWorker(workerId: string): WorkerRecord | undefined {
    const row = this.sql('SELECT * FROM workers WHERE worker_id = ?').get(workerId) as Row | undefined;
    return row ? workerFromRow(row) : undefined;
  }

  /** Workers by worker_id, optionally in some states only. */
  listWorkers(states?: readonly WorkerStateName[]): WorkerRecord[] {
    const filter = states && states.length > 0 ? `WHERE state IN (${states.map(() => '?').join(', ')})` : '';
    const rows = this.db.prepare(`SELECT * FROM workers ${filter} ORDER BY worker_id`).all(...(states ?? [])) as Row[];
    return rows.map(workerFromRow);
  }

  /** Creates or replaces a worker's registration. */
  putWorker(worker: WorkerRecord): void {
    this.sql(
      `INSERT INTO workers (worker_id, instance_id, lease_id, address, info, state, assigned_run_id, register_time,
         last_heartbeat)
       VALUES (@workerId, @instanceId, @leaseId, @address, @info, @state, @assignedRunId, @registerTime, @lastHeartbeat)
       ON CONFLICT (worker_id) DO UPDATE SET instance_id = excluded.instance_id, lease_id = excluded.lease_id,
         address = excluded.address, info = excluded.info, state = excluded.state,
         assigned_run_id = excluded.assigned_run_id, register_time = excluded.register_time,
         last_heartbeat = excluded.last_heartbeat`
    ).run({
      workerId: worker.workerId,
      instanceId: worker.instanceId,
      leaseId: worker.leaseId,
      address: worker.address,
      info: bytes(WorkerInfo.encode(worker.info).finish()),
      state: worker.state,
      assignedRunId: worker.assignedRunId,
      registerTime: worker.registerTime,
      lastHeartbeat: worker.lastHeartbeat,
    });
  }

  updateWorker(workerId: string, patch: WorkerPatch): void {
    const columns: Record<string, unknown> = {};
    if (patch.state !== undefined) columns.state = patch.state;
    if (patch.leaseId !== undefined) columns.lease_id = patch.leaseId;
    if (patch.assignedRunId !== undefined) columns.assigned_run_id = patch.assignedRunId;
    if (patch.lastHeartbeat !== undefined) columns.last_heartbeat = patch.lastHeartbeat;
    if (patch.info !== undefined) columns.info = bytes(WorkerInfo.encode(patch.info).finish());
    if (patch.principal !== undefined) columns.principal = patch.principal;
    this.update('workers', 'worker_id', workerId, columns);
  }

  deleteWorker(workerId: string): void {
    this.sql('DELETE FROM workers WHERE worker_id = ?').run(workerId);
  }
}

/**
 * Opens (creating when missing) the store `<dataDir>/coordinator.db`: WAL journal, `synchronous = NORMAL`,
 * foreign keys on, a 5 s busy timeout, and the schema migrated to {@link SCHEMA_VERSION}. Before anything is
 * written it proves the file: SQLite's `quick_check`, a known schema, and not empty (or missing) while the
 * artifacts directory holds experiments; otherwise it throws StoreIntegrityError (the coordinator exits 2).
 */
export function openStore(dataDir: string, options: OpenStoreOptions = {}): Store {
  if (!options.readonly) mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, STORE_FILE_NAME);
  // A zero-length file is an empty database to SQLite: as suspicious as a missing one beside stored artifacts.
  const fresh = !existsSync(file) || statSync(file).size === 0;
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: options.readonly ?? false });
  } catch (error: unknown) {
    throw new StoreIntegrityError(
      file,
      'damaged',
      `${file} cannot be opened: ${toError(error).message}; ${RESTORE_HINT}`,
      {
        cause: error,
      }
    );
  }
  try {
    db.pragma('busy_timeout = 5000');
    checkStore(db, file, {
      check: options.check ?? true,
      fresh,
      artifactsDir: options.artifactsDir ?? path.join(dataDir, 'artifacts'),
    });
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    const version = Number(db.pragma('user_version', { simple: true }));
    if (!options.readonly) {
      for (let v = version; v < SCHEMA_VERSION; v += 1) {
        db.transaction(() => {
          db.exec(MIGRATIONS[v] ?? '');
          db.pragma(`user_version = ${v + 1}`);
        })();
      }
    }
  } catch (error: unknown) {
    db.close();
    // SQLITE_NOTADB / SQLITE_CORRUPT from any pragma: the file is not (or no longer) a database.
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && /^SQLITE_(NOTADB|CORRUPT)/.test(code)) {
      throw new StoreIntegrityError(file, 'damaged', `${file} is damaged: ${toError(error).message}; ${RESTORE_HINT}`, {
        cause: error,
      });
    }
    throw error;
  }
  return new Store(db, file);
}
