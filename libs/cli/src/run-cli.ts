import type { CliIo } from './commands.js';

/** One command of a `supwalsh` command line: its arguments after the command name, and where it writes. */
export type CliCommand = (argv: readonly string[], io: CliIo) => Promise<number>;

/**
 * Runs `argv` (`<command> [args]`) through `commands`: `help`, `--help` and `-h` print `usage` (exit 0), no command
 * prints it with exit 2, an unknown one names it (exit 2). Ctrl-C aborts `io.signal` once (commands cancel what
 * they follow), a second Ctrl-C exits at once. Commands in `ownSignals` (processes that forward signals
 * themselves) get no handler. An error a command throws is one line on stderr, exit 1.
 */
export async function runCli(
  argv: readonly string[],
  commands: Readonly<Record<string, CliCommand>>,
  usage: string,
  ownSignals: readonly string[] = []
): Promise<number> {
  const [command, ...rest] = argv;
  const controller = new AbortController();
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal };
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(usage);
    return command === undefined ? 2 : 0;
  }
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (!run) {
    process.stderr.write(`unknown command "${command}"\n\n${usage}`);
    return 2;
  }
  if (!ownSignals.includes(command)) {
    process.once('SIGINT', () => {
      process.stderr.write('\ncancelling… (Ctrl-C again to quit at once)\n');
      controller.abort();
      process.once('SIGINT', () => process.exit(130));
    });
  }
  try {
    return await run(rest, io);
  } catch (error: unknown) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
