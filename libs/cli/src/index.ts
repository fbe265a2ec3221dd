/**
 * @supwalsh/cli — `supwalsh`, the light command line beside the SDK: `submit` (to a running coordinator), `watch`,
 * `list`, `cancel` and `download`, on `@supwalsh/sdk`, `@supwalsh/spec` and `@supwalsh/proto` only (no TF.js, no
 * SQLite). Every command answers `--help`, exits 2 on a usage error and reads every flag `--name` also from
 * `$SUPWALSH_NAME`. The coordinator's own CLI (`supwalsh-coordinator`: serve, worker, backup, submit on an
 * embedded local cluster) runs these same commands.
 * @module
 */
export {
  envName,
  nonNegativeInteger,
  parseCommandArgs,
  USAGE_EXIT_CODE,
  type FlagSpec,
  type ParsedArgs,
} from './args.js';
export { CLIENT_COMMANDS, CLIENT_COMMANDS_USAGE, CLIENT_USAGE } from './client-commands.js';
export {
  CANCEL_USAGE,
  cancelCommand,
  clientOptions,
  CONNECT_USAGE,
  DOWNLOAD_USAGE,
  downloadCommand,
  downloadReport,
  formatRunResults,
  LIST_USAGE,
  listCommand,
  LOCAL_SUBMIT_USAGE,
  SUBMIT_USAGE,
  submitCommand,
  WATCH_USAGE,
  watchCommand,
  type CliIo,
  type LocalClusterHandle,
  type SubmitCommandOptions,
} from './commands.js';
export { CliUsageError } from './errors.js';
export { duration, type ProgressStream } from '@supwalsh/spec';
export { createEventPrinter, experimentStateName } from './event-printer.js';
export { runCli, type CliCommand } from './run-cli.js';
