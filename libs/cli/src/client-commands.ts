import { cancelCommand, downloadCommand, listCommand, SUBMIT_USAGE, submitCommand, watchCommand } from './commands.js';
import type { CliCommand } from './run-cli.js';

/** The client commands, by name: what `supwalsh` runs, and what the coordinator's CLI runs for the same names. */
export const CLIENT_COMMANDS: Readonly<Record<string, CliCommand>> = {
  submit: (argv, io) => submitCommand(argv, io),
  watch: watchCommand,
  list: listCommand,
  cancel: cancelCommand,
  download: downloadCommand,
};

/** One line per client command, for a usage text. */
export const CLIENT_COMMANDS_USAGE = `  submit     submit a spec and follow it to the end:  submit --spec <file> [--detach] [--out <dir>]
  watch      stream an experiment's events:           watch <experiment id> [--after <sequence>]
  list       list experiments
  cancel     cancel an experiment:                    cancel <experiment id> [--reason <text>]
  download   download an experiment's report:         download <experiment id> [--out <dir>] [--runs]`;

export const CLIENT_USAGE = `usage: supwalsh <command> [options]

commands:
${CLIENT_COMMANDS_USAGE}

Every command answers --help and takes --coordinator <host:port> (or $SUPWALSH_COORDINATOR) and the connection
flags --token, --token-file, --tls-ca and --tls; every flag --name is also read from $SUPWALSH_NAME.
Exit codes: 0 done, 1 failed, 2 usage error.

${SUBMIT_USAGE}`;
