#!/usr/bin/env node
// `npm run experiment -- --spec <file>`: configuration and signals only; the command is experiment-command.ts.
import { experimentCommand } from './experiment-command.js';

const controller = new AbortController();
process.once('SIGINT', () => {
  process.stderr.write('\nstopping after the current step (Ctrl-C again to quit at once)…\n');
  controller.abort(new Error('cancelled by the user (SIGINT)'));
  process.once('SIGINT', () => process.exit(130));
});
process.exitCode = await experimentCommand(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
