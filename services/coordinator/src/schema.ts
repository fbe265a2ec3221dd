/**
 * The coordinator's SQLite schema, as an ordered list of migrations. `PRAGMA user_version` holds the number of
 * migrations applied; `openStore` applies the missing ones in one transaction each. Never edit a released
 * migration: append a new one.
 *
 * Conventions: times are integer milliseconds since the Unix epoch; enum columns hold the proto value's short name
 * (`RUNNING`, `TRAINING`, `WASM`, `CHECKPOINT`); messages are protobuf binary (`BLOB`) of the named proto type;
 * lists and maps the coordinator reads as a whole are JSON (`TEXT`).
 */
export const MIGRATIONS: readonly string[] = [
  // 1: issue 6.
  `
  CREATE TABLE experiments (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    spec              BLOB NOT NULL,          -- supwalsh.v1.ExperimentSpec as submitted
    resolved_spec     BLOB NOT NULL,          -- supwalsh.v1.ExperimentSpec, every default applied
    method_spec       TEXT NOT NULL,          -- @supwalsh/method ResolvedExperimentSpec (JSON)
    settings          TEXT NOT NULL,          -- @supwalsh/wire ServiceSettings (JSON)
    deviations        TEXT NOT NULL,          -- proto field paths differing from the preset (JSON array)
    method_deviations TEXT NOT NULL,          -- the same as "path: value (preset: value)" (JSON array)
    labels            TEXT NOT NULL,          -- JSON object
    priority          INTEGER NOT NULL,
    request_id        TEXT UNIQUE,            -- SubmitExperimentRequest.request_id; NULL when none
    owner             TEXT NOT NULL DEFAULT '',
    create_time       INTEGER NOT NULL,
    start_time        INTEGER,
    end_time          INTEGER,
    status_message    TEXT NOT NULL DEFAULT '',
    last_sequence     INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX experiments_by_time ON experiments (create_time DESC, id DESC);
  CREATE INDEX experiments_by_state ON experiments (state, priority DESC, create_time);

  CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    experiment_id     TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    run_index         INTEGER NOT NULL,
    dataset_index     INTEGER NOT NULL,
    model_index       INTEGER NOT NULL,
    arm_index         INTEGER NOT NULL,
    seed              INTEGER NOT NULL,
    label             TEXT NOT NULL,
    run_spec          BLOB NOT NULL,          -- supwalsh.v1.RunSpec (backend as submitted; chosen at start)
    state             TEXT NOT NULL
                      CHECK (state IN ('QUEUED', 'RUNNING', 'REFORMING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    phase             TEXT NOT NULL DEFAULT 'UNSPECIFIED',
    world_size        INTEGER NOT NULL DEFAULT 0,   -- of the latest ring (Run.world_size shows it while RUNNING)
    generation        INTEGER NOT NULL DEFAULT 0,
    worker_ids        TEXT NOT NULL DEFAULT '[]',   -- the latest ring by rank (JSON array)
    backend           TEXT NOT NULL DEFAULT 'UNSPECIFIED',
    restarts          INTEGER NOT NULL DEFAULT 0,
    latest_checkpoint BLOB,                   -- supwalsh.v1.CheckpointRef
    progress          BLOB,                   -- supwalsh.v1.StepProgress
    pretraining       BLOB,                   -- supwalsh.v1.PretrainingSummary
    start_time        INTEGER,
    end_time          INTEGER,
    status_message    TEXT NOT NULL DEFAULT '',
    UNIQUE (experiment_id, run_index)
  );

  CREATE TABLE run_metrics (
    run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position          INTEGER NOT NULL,       -- 0, 1, … in report order
    metrics           BLOB NOT NULL,          -- supwalsh.v1.EpochMetrics
    PRIMARY KEY (run_id, position)
  ) WITHOUT ROWID;

  CREATE TABLE events (
    experiment_id     TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    sequence          INTEGER NOT NULL,       -- 1, 2, … per experiment, no gaps
    run_id            TEXT NOT NULL DEFAULT '',
    time              INTEGER NOT NULL,
    kind              TEXT NOT NULL,          -- the payload case, e.g. stepProgress
    payload           BLOB NOT NULL,          -- the whole supwalsh.v1.ExperimentEvent
    PRIMARY KEY (experiment_id, sequence)
  ) WITHOUT ROWID;

  CREATE TABLE shard_reports (
    run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    generation        INTEGER NOT NULL,
    rank              INTEGER NOT NULL,
    worker_id         TEXT NOT NULL,
    last_sequence     INTEGER NOT NULL DEFAULT 0,   -- highest ShardReport.sequence stored (the ack)
    finished_state    TEXT CHECK (finished_state IN ('SUCCEEDED', 'FAILED', 'ABORTED')),
    failure           TEXT NOT NULL DEFAULT 'UNSPECIFIED',
    message           TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, generation, rank)
  ) WITHOUT ROWID;

  CREATE TABLE artifacts (
    id                TEXT PRIMARY KEY,
    experiment_id     TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    run_id            TEXT NOT NULL DEFAULT '',     -- '' for experiment-level artifacts
    kind              TEXT NOT NULL,
    name              TEXT NOT NULL,
    media_type        TEXT NOT NULL,
    size_bytes        INTEGER NOT NULL,
    sha256            TEXT NOT NULL,
    path              TEXT NOT NULL,                -- relative to the artifacts directory
    create_time       INTEGER NOT NULL,
    checkpoint        BLOB,                         -- supwalsh.v1.CheckpointRef, for CHECKPOINT
    UNIQUE (experiment_id, run_id, kind, name)
  );
  CREATE INDEX artifacts_by_run ON artifacts (run_id, kind);

  CREATE TABLE workers (
    worker_id         TEXT PRIMARY KEY,
    instance_id       TEXT NOT NULL,
    lease_id          TEXT NOT NULL,
    address           TEXT NOT NULL,
    info              BLOB NOT NULL,          -- supwalsh.v1.WorkerInfo as registered, shards as last reported
    state             TEXT NOT NULL CHECK (state IN ('IDLE', 'BUSY', 'DRAINING', 'LOST')),
    assigned_run_id   TEXT,                   -- the run whose shard it runs or is stopping
    register_time     INTEGER NOT NULL,
    last_heartbeat    INTEGER NOT NULL
  );
  `,
  // 2: issue 7 — breaks of a run's ring that count against limits.max_run_restarts (restarts also counts hand-overs).
  `
  ALTER TABLE runs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
  `,
  // 3: hardening — the principal that registered a worker id; only it may report and upload for that worker.
  `
  ALTER TABLE workers ADD COLUMN principal TEXT NOT NULL DEFAULT '';
  CREATE INDEX experiments_by_owner ON experiments (owner, create_time DESC, id DESC);
  `,
];

/** Tables every schema version from 1 on has (openStore refuses a store that lacks one: an unknown schema). */
export const SCHEMA_TABLES: readonly string[] = [
  'experiments',
  'runs',
  'run_metrics',
  'events',
  'shard_reports',
  'artifacts',
  'workers',
];

/** The schema version this build writes (the number of migrations). */
export const SCHEMA_VERSION = MIGRATIONS.length;
