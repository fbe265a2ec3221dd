#!/usr/bin/env node
// `supwalsh`, the light command line (the bin of @supwalsh/cli): the client commands against a running coordinator.
// The processes themselves (serve, worker, backup) and the embedded local cluster are in @supwalsh/coordinator's
// own bin, `supwalsh-coordinator` (nx run coordinator:<command>).
import { CLIENT_COMMANDS, CLIENT_USAGE } from './client-commands.js';
import { runCli } from './run-cli.js';

process.exitCode = await runCli(process.argv.slice(2), CLIENT_COMMANDS, CLIENT_USAGE);
