// Online backup of the coordinator's store (`nx run coordinator:backup -- --out FILE`, `supwalsh-coordinator backup`): SQLite's backup API through
// better-sqlite3's `db.backup()`, page by page while the coordinator keeps serving, into a temporary file that is
// checked (quick_check, schema, counts) before it is renamed to FILE. Restoring is an operator's step:
// deploy/README.md, "Backup and restore".
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseCommandArgs, USAGE_EXIT_CODE, type CliIo } from '@supwalsh/cli';
import Database from 'better-sqlite3';
import { DEFAULT_DATA_DIR } from './coordinator-options.js';
import { StoreIntegrityError, toError } from './errors.js';
import { openStore, STORE_FILE_NAME } from './store.js';

/** What {@link backupStore} wrote. */
export interface BackupSummary {
  /** The backup file (absolute). */
  readonly file: string;
  readonly bytes: number;
  readonly schemaVersion: number;
  readonly experiments: number;
  readonly artifacts: number;
  readonly events: number;
}

/** Options of {@link backupStore}. */
export interface BackupOptions {
  /** The coordinator's data directory (holding `coordinator.db`). */
  readonly dataDir: string;
  /** Where to write the copy; refused when it exists unless `overwrite`. */
  readonly out: string;
  /** Replace an existing `out`. @default false */
  readonly overwrite?: boolean;
  /** Called as pages are copied (0 to 1). */
  readonly onProgress?: (fraction: number) => void;
}

const count = (db: Database.Database, table: string): number =>
  Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);

/**
 * Copies the live store into `out` with SQLite's online backup API (readers and the coordinator's writes go on; a
 * write during the copy makes SQLite restart it, so the copy is one consistent snapshot), then proves the copy:
 * `quick_check` ok, the same schema version, and opening it as a store succeeds. Written to `<out>.partial` first
 * and renamed, so `out` is only ever a whole, checked backup. Throws StoreIntegrityError when the source store is
 * itself damaged (the backup would carry the damage).
 */
export async function backupStore(options: BackupOptions): Promise<BackupSummary> {
  const source = path.join(options.dataDir, STORE_FILE_NAME);
  const out = path.resolve(options.out);
  if (!existsSync(source)) throw new Error(`no store to back up: ${source} does not exist`);
  if (existsSync(out) && !options.overwrite) {
    throw new Error(`--out ${out} already exists; choose another file or pass --overwrite`);
  }
  if (path.resolve(source) === out) throw new Error(`--out must not be the store itself (${source})`);
  // Read-only: openStore checks the source (quick_check, schema) and changes nothing in it; closing it does not
  // checkpoint the live coordinator's WAL either.
  const store = openStore(options.dataDir, { readonly: true });
  const partial = `${out}.partial`;
  rmSync(partial, { force: true });
  try {
    await store.db.backup(partial, {
      progress: ({ totalPages, remainingPages }) => {
        options.onProgress?.(totalPages === 0 ? 1 : 1 - remainingPages / totalPages);
        return 256; // pages per step: small steps keep the coordinator's writes waiting briefly
      },
    });
  } catch (error: unknown) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    store.db.close();
  }
  let summary: Omit<BackupSummary, 'file' | 'bytes'>;
  const copy = new Database(partial, { fileMustExist: true });
  try {
    // One self-contained file (no -wal beside it); the coordinator that restores it switches back to WAL.
    copy.pragma('journal_mode = DELETE');
    const check = (copy.pragma('quick_check') as Record<string, unknown>[]).map((r) => String(Object.values(r)[0]));
    if (check.join() !== 'ok') {
      throw new StoreIntegrityError(partial, 'damaged', `the backup ${partial} fails quick_check: ${check.join('; ')}`);
    }
    summary = {
      schemaVersion: Number(copy.pragma('user_version', { simple: true })),
      experiments: count(copy, 'experiments'),
      artifacts: count(copy, 'artifacts'),
      events: count(copy, 'events'),
    };
  } catch (error: unknown) {
    copy.close();
    rmSync(partial, { force: true });
    throw error;
  }
  copy.close();
  renameSync(partial, out);
  return { file: out, bytes: statSync(out).size, ...summary };
}

/** Usage of the backup command. */
export const BACKUP_USAGE = `usage: nx run coordinator:backup -- --out <file> [--data-dir <dir>] [--overwrite]
       (or supwalsh-coordinator backup …)

Copies the coordinator's store (<data-dir>/coordinator.db) into <file> with SQLite's online backup API while the
coordinator runs, then checks the copy. Artifacts are files: copy <data-dir>/artifacts alongside (deploy/README.md,
"Backup and restore").

  --out <file>       the backup file (or $SUPWALSH_OUT; required; refused if it exists, unless --overwrite)
  --data-dir <dir>   the coordinator's data directory (or $SUPWALSH_DATA_DIR)              default ${DEFAULT_DATA_DIR}
  --overwrite        replace an existing <file> (or $SUPWALSH_OVERWRITE=1)
  -h, --help         print this and exit

Exit codes: 0 written, 1 failed (the message says why), 2 usage error.
`;

/** Where the backup command writes and reads its variables (the CLI's `CliIo`). */
export type BackupIo = CliIo;

/**
 * The backup command (`supwalsh-coordinator backup`, `nx run coordinator:backup`): parses its flags (each also
 * read from its `SUPWALSH_*` variable), runs {@link backupStore}, prints what it wrote.
 * Exit codes: 0 written, 1 failed (the message says why), 2 bad usage.
 */
export async function backupCommand(argv: readonly string[], io: BackupIo): Promise<number> {
  const args = parseCommandArgs(
    'backup',
    BACKUP_USAGE,
    argv,
    {
      out: { type: 'string' },
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      overwrite: { type: 'boolean' },
    },
    io
  );
  if ('exitCode' in args) return args.exitCode;
  const { out, 'data-dir': dataDir = DEFAULT_DATA_DIR, overwrite } = args.values;
  if (!out) {
    io.stderr.write(`supwalsh backup: --out is required\n\n${BACKUP_USAGE}`);
    return USAGE_EXIT_CODE;
  }
  try {
    const summary = await backupStore({ dataDir, out, overwrite });
    io.stdout.write(
      `backup written: ${summary.file} (${summary.bytes} bytes, schema ${summary.schemaVersion}, ` +
        `${summary.experiments} experiments, ${summary.artifacts} artifacts, ${summary.events} events)\n`
    );
    return 0;
  } catch (error: unknown) {
    io.stderr.write(`backup failed: ${toError(error).message}\n`);
    return 1;
  }
}
