import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogLevel } from '@supwalsh/proto';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupCommand, backupStore } from './backup.js';
import { StoreIntegrityError, type StoreProblem } from './errors.js';
import { SCHEMA_VERSION } from './schema.js';
import { openStore, STORE_FILE_NAME, type Store } from './store.js';

const log = (message: string) => ({
  $case: 'log' as const,
  value: { level: LogLevel.LOG_LEVEL_INFO, message, code: '', workerId: '', rank: undefined },
});

/** Stores `n` experiments with `eventsEach` events of ~400 bytes each (enough pages to damage some). */
function fill(store: Store, n: number, eventsEach: number): void {
  for (let i = 0; i < n; i += 1) {
    const id = `exp-${String(i).padStart(12, '0')}`;
    store.db
      .prepare(
        `INSERT INTO experiments (id, name, state, spec, resolved_spec, method_spec, settings, deviations,
           method_deviations, labels, priority, owner, create_time)
         VALUES (?, ?, 'QUEUED', x'', x'', '{}', '{}', '[]', '[]', '{}', 0, '', ?)`
      )
      .run(id, `experiment ${i}`, Date.now());
    store.transaction(() => {
      for (let e = 0; e < eventsEach; e += 1) store.appendEvent(id, '', log(`event ${e} `.padEnd(400, 'x')), 1);
    });
  }
}

/** A deterministic byte stream (xorshift32), so a damaged file is the same on every run. */
function noise(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function refusal(fn: () => unknown): StoreIntegrityError {
  try {
    fn();
  } catch (error: unknown) {
    if (error instanceof StoreIntegrityError) return error;
    throw error;
  }
  throw new Error('expected a StoreIntegrityError, but the store opened');
}

function expectRefused(dataDir: string, problem: StoreProblem, message: RegExp): void {
  const error = refusal(() => openStore(dataDir).close());
  expect(error.problem).toBe(problem);
  expect(error.file).toBe(path.join(dataDir, STORE_FILE_NAME));
  expect(error.message).toContain(path.join(dataDir, STORE_FILE_NAME));
  expect(error.message).toMatch(message);
}

describe('a store that proves itself on opening', () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-integrity-'));
  });

  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const file = () => path.join(dataDir, STORE_FILE_NAME);
  const orphanArtifacts = () => {
    mkdirSync(path.join(dataDir, 'artifacts', 'exp-aaaaaaaaaaaa', '_experiment'), { recursive: true });
    writeFileSync(path.join(dataDir, 'artifacts', 'exp-aaaaaaaaaaaa', '_experiment', 'report.md'), '# report\n');
  };

  it('opens a new or empty store when no artifacts are stored', () => {
    openStore(dataDir).close();
    expect(openStore(dataDir).schemaVersion()).toBe(SCHEMA_VERSION);
    const other = path.join(dataDir, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, STORE_FILE_NAME), '');
    const store = openStore(other);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    store.close();
  });

  it('refuses a zero-length or missing database beside stored artifacts', () => {
    orphanArtifacts();
    writeFileSync(file(), '');
    expectRefused(dataDir, 'empty-beside-artifacts', /is empty or missing, but .*artifacts holds stored experiments/);
    expect(statSync(file()).size).toBe(0); // nothing was written into it
    expectRefused(dataDir, 'empty-beside-artifacts', /exp-aaaaaaaaaaaa/);
    const separate = path.join(dataDir, 'elsewhere');
    mkdirSync(path.join(separate, 'exp-bbbbbbbbbbbb'), { recursive: true });
    const error = refusal(() => openStore(path.join(dataDir, 'fresh'), { artifactsDir: separate }));
    expect(error.problem).toBe('empty-beside-artifacts');
  });

  it('refuses a database with random bytes written into its pages, naming the file', () => {
    const store = openStore(dataDir);
    fill(store, 4, 200);
    store.close();
    const size = statSync(file()).size;
    expect(size).toBeGreaterThan(64 * 4096);
    // Overwrite the middle of a few pages past the first (the header page stays intact: SQLite opens the file).
    const fd = openSync(file(), 'r+');
    for (const page of [3, 20, 40]) writeSync(fd, noise(page, 1024), 0, 1024, page * 4096 + 1000);
    closeSync(fd);
    expectRefused(dataDir, 'damaged', /is damaged.*restore the latest backup/);
  });

  it('refuses a file that is not a database, and a schema it did not write', () => {
    writeFileSync(file(), noise(7, 8192));
    expectRefused(dataDir, 'damaged', /is damaged|cannot be opened/);

    writeFileSync(file(), '');
    const foreign = new Database(file());
    foreign.exec('CREATE TABLE photos (id INTEGER PRIMARY KEY, blob BLOB)');
    foreign.close();
    expectRefused(dataDir, 'unknown-schema', /holds tables \(photos\) but no supwalsh schema version/);

    writeFileSync(file(), '');
    openStore(dataDir).close();
    const newer = new Database(file());
    newer.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    newer.close();
    expectRefused(dataDir, 'newer-schema', new RegExp(`schema version ${SCHEMA_VERSION + 5}, newer than`));

    const missing = new Database(file());
    missing.pragma(`user_version = ${SCHEMA_VERSION}`);
    missing.exec('DROP TABLE workers');
    missing.close();
    expectRefused(dataDir, 'unknown-schema', /lacks the tables workers/);
  });

  it('makes the coordinator exit 2 with a message naming the file instead of serving a damaged store', () => {
    writeFileSync(file(), noise(11, 16384));
    const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
    if (!existsSync(main)) throw new Error(`build the coordinator first (nx run coordinator:build): ${main}`);
    const result = spawnSync(process.execPath, [main, '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, OTEL_SDK_DISABLED: 'true', SUPWALSH_METRICS_PORT: '0' },
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`refusing to start: ${file()}`);
  });
});

describe('the online backup', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-backup-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('copies a live store that is being written, and the copy restores as a store', async () => {
    const live = path.join(root, 'live');
    const store = openStore(live);
    fill(store, 3, 300); // well over the 256 pages copied per step: the copy takes several steps
    const out = path.join(root, 'backups', 'coordinator-1.db');
    mkdirSync(path.dirname(out));
    let writes = 0;
    const summary = await backupStore({
      dataDir: live,
      out,
      onProgress: (fraction) => {
        // The coordinator keeps writing while the backup runs: SQLite restarts the copy, which then holds it.
        if (fraction < 1 && writes < 2) {
          store.appendEvent('exp-000000000000', '', log(`written during the backup ${writes}`), 2);
          writes += 1;
        }
      },
    });
    expect(writes).toBeGreaterThan(0);
    const expectedEvents = 3 * 300 + writes;
    expect(summary).toMatchObject({ file: out, schemaVersion: SCHEMA_VERSION, experiments: 3, events: expectedEvents });
    expect(existsSync(`${out}.partial`)).toBe(false);
    expect(existsSync(`${out}-wal`)).toBe(false);

    // Restore (deploy/README.md): the backup becomes <data-dir>/coordinator.db of a stopped coordinator.
    const restored = path.join(root, 'restored');
    mkdirSync(restored);
    copyFileSync(out, path.join(restored, STORE_FILE_NAME));
    const copy = openStore(restored);
    expect(copy.journalMode()).toBe('wal');
    expect(copy.listEvents('exp-000000000000', 0, 1000)).toEqual(store.listEvents('exp-000000000000', 0, 1000));
    expect(copy.getExperiment('exp-000000000002')?.name).toBe('experiment 2');
    copy.close();
    store.close();
  });

  it('runs as a command: usage errors exit 2, an existing file is kept, a written backup exits 0', async () => {
    const live = path.join(root, 'live');
    const store = openStore(live);
    fill(store, 1, 5);
    const io = () => {
      const out = { stdout: '', stderr: '' };
      return {
        out,
        io: {
          stdout: { write: (t: string) => (out.stdout += t) },
          stderr: { write: (t: string) => (out.stderr += t) },
          env: { SUPWALSH_DATA_DIR: live },
        },
      };
    };
    const usage = io();
    expect(await backupCommand([], usage.io)).toBe(2);
    expect(usage.out.stderr).toMatch(/--out is required/);
    const target = path.join(root, 'b.db');
    const ok = io();
    expect(await backupCommand(['--out', target], ok.io)).toBe(0);
    expect(ok.out.stdout).toMatch(/backup written: .*b\.db .*1 experiments, 0 artifacts, 5 events/);
    const again = io();
    expect(await backupCommand(['--out', target], again.io)).toBe(1);
    expect(again.out.stderr).toMatch(/already exists/);
    store.close();
  });
});
