#!/usr/bin/env node
// `supwalsh` command line (nx run coordinator:<command>): argument dispatch and signals only; the commands are in
// cli/commands.ts. `serve` and `worker` run the coordinator's and the worker's own processes.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKER_MAIN } from '@supwalsh/worker';
import {
  cancelCommand,
  downloadCommand,
  listCommand,
  SUBMIT_USAGE,
  submitCommand,
  watchCommand,
  type CliIo,
} from './cli/commands.js';

const USAGE = `usage: nx run coordinator:<command> -- [options]   (or node services/coordinator/dist/cli.js <command>)

commands:
  submit     submit a spec and follow it to the end (embedded local cluster without --coordinator)
  serve      run a coordinator (see --help)
  worker     run a worker process (see --help)
  watch      stream an experiment's events:      watch <experiment id> [--after <sequence>]
  list       list experiments
  cancel     cancel an experiment:               cancel <experiment id> [--reason <text>]
  download   download an experiment's report:    download <experiment id> [--out <dir>] [--runs]

Every command answers --help. Every command but serve and worker takes --coordinator <host:port> and the
connection flags --token, --token-file, --tls-ca and --tls; every flag --name is also read from $SUPWALSH_NAME.
Exit codes: 0 done, 1 failed, 2 usage error.

${SUBMIT_USAGE}`;

/** Runs a service's own entry point in this terminal, forwarding signals. */
function runProcess(main: string, args: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, [main, ...args], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const controller = new AbortController();
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal };
  if (command !== 'serve' && command !== 'worker') {
    process.once('SIGINT', () => {
      process.stderr.write('\ncancelling… (Ctrl-C again to quit at once)\n');
      controller.abort();
      process.once('SIGINT', () => process.exit(130));
    });
  }
  switch (command) {
    case 'submit':
      return submitCommand(rest, io);
    case 'watch':
      return watchCommand(rest, io);
    case 'list':
      return listCommand(rest, io);
    case 'cancel':
      return cancelCommand(rest, io);
    case 'download':
      return downloadCommand(rest, io);
    case 'serve':
      return runProcess(path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js'), rest);
    case 'worker':
      return runProcess(WORKER_MAIN, rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
);
