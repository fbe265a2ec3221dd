#!/usr/bin/env node
// `supwalsh-coordinator`, the coordinator package's command line (nx run coordinator:<command>): the client commands
// of @supwalsh/cli (the light `supwalsh`), plus what needs this package — `submit` on an embedded local cluster,
// `serve` (the coordinator process), `worker` (a worker process) and `backup` (the store, online).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CLIENT_COMMANDS,
  CLIENT_COMMANDS_USAGE,
  CliUsageError,
  LOCAL_SUBMIT_USAGE,
  runCli,
  submitCommand,
  type CliCommand,
  type CliIo,
} from '@supwalsh/cli';
import type { ExperimentResult } from '@supwalsh/method';
import { formatResultsTable, summarizeRuns } from '@supwalsh/report';
import { runResultFromJson } from '@supwalsh/wire';
import { WORKER_MAIN } from '@supwalsh/worker';
import { backupCommand } from './backup.js';
import { startLocalCluster } from './cli/local-cluster.js';
import { StoreIntegrityError } from './errors.js';

const USAGE = `usage: nx run coordinator:<command> -- [options]   (or supwalsh-coordinator <command>: dist/cli.js)

commands:
${CLIENT_COMMANDS_USAGE}
             (submit without --coordinator: an embedded coordinator + --local N worker processes)
  serve      run a coordinator (see --help)
  worker     run a worker process (see --help)
  backup     online backup of a coordinator's store: backup --out <file> [--data-dir <dir>]

Every command answers --help. The client commands take --coordinator <host:port> and the connection flags
--token, --token-file, --tls-ca and --tls; every flag --name is also read from $SUPWALSH_NAME.
The client commands alone, without TF.js or SQLite: the \`supwalsh\` bin of @supwalsh/cli.
Exit codes: 0 done, 1 failed, 2 usage error.

${LOCAL_SUBMIT_USAGE}`;

/** Runs a service's own entry point in this terminal, forwarding signals. */
function runProcess(main: string, args: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, [main, ...args], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

/** The paper's table from the downloaded results.json (what the local cluster's submit prints). */
async function printResultsTable(_experiment: unknown, outDir: string, io: CliIo): Promise<void> {
  try {
    const result = JSON.parse(await fs.readFile(path.join(outDir, 'results.json'), 'utf8')) as ExperimentResult;
    result.runs.forEach((r) => runResultFromJson(JSON.stringify(r)));
    io.stdout.write(`\n${formatResultsTable(summarizeRuns(result))}\n`);
  } catch {
    io.stderr.write(`no results table: ${path.join(outDir, 'results.json')} is missing or unreadable\n`);
  }
}

/** `submit`: the client command with the embedded local cluster and the paper's table. */
const submit: CliCommand = (argv, io) =>
  submitCommand(argv, io, {
    startLocalCluster: async ({ workers, dataDir, onDashboard }) => {
      try {
        return await startLocalCluster({ workers, dataDir, cacheDir: path.join(dataDir, 'cache'), onDashboard });
      } catch (error: unknown) {
        // A damaged store (or one from a newer coordinator) is the user's to fix: the message says how.
        if (error instanceof StoreIntegrityError) throw new CliUsageError(error.message, { cause: error });
        throw error;
      }
    },
    printResults: printResultsTable,
  });

const here = path.dirname(fileURLToPath(import.meta.url));

process.exitCode = await runCli(
  process.argv.slice(2),
  {
    ...CLIENT_COMMANDS,
    submit,
    serve: (argv) => runProcess(path.join(here, 'main.js'), argv),
    worker: (argv) => runProcess(WORKER_MAIN, argv),
    backup: backupCommand,
  },
  USAGE,
  ['serve', 'worker']
);
