#!/usr/bin/env node
// `nx run coordinator:backup -- --out FILE`: the online backup of the store (src/backup.ts), as its own entry point
// until the `supwalsh` CLI (cli.ts) dispatches a `backup` command to backupCommand itself.
import { backupCommand } from './backup.js';

backupCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
);
