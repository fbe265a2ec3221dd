import { parseArgs } from 'node:util';

/** One flag of a command: a string or a boolean, also read from `SUPWALSH_<FLAG>` (see {@link envName}). */
export type FlagSpec = { readonly type: 'string'; readonly default?: string } | { readonly type: 'boolean' };

/** What a command's arguments are: flag values and positionals, or the exit code to return at once. */
export type ParsedArgs<F extends Record<string, FlagSpec>> =
  | {
      readonly values: { [K in keyof F]: F[K] extends { type: 'boolean' } ? boolean : string | undefined };
      readonly positionals: string[];
    }
  | { readonly exitCode: number };

/** Exit code of a usage error (a bad flag, a missing argument): the command did nothing. */
export const USAGE_EXIT_CODE = 2;

/** The variable a flag is also read from: `--token-file` → `SUPWALSH_TOKEN_FILE`. */
export function envName(flag: string): string {
  return `SUPWALSH_${flag.toUpperCase().replace(/-/g, '_')}`;
}

const TRUE = new Set(['1', 'true', 'yes']);
const FALSE = new Set(['0', 'false', 'no', '']);

interface Out {
  write(text: string): unknown;
}

/**
 * Parses a command's arguments strictly. `--help`/`-h` prints `usage` and returns exit code 0; an unknown flag, a
 * missing value, a bad boolean variable or too many positionals prints a one-line reason and `usage` to stderr and
 * returns 2. A flag not given is read from its `SUPWALSH_*` variable (flags win), then from its default.
 */
export function parseCommandArgs<F extends Record<string, FlagSpec>>(
  command: string,
  usage: string,
  argv: readonly string[],
  flags: F,
  io: { readonly stdout: Out; readonly stderr: Out; readonly env: NodeJS.ProcessEnv },
  maxPositionals = 0
): ParsedArgs<F> {
  const fail = (reason: string): { exitCode: number } => {
    io.stderr.write(`supwalsh ${command}: ${reason}\n\n${usage}`);
    return { exitCode: USAGE_EXIT_CODE };
  };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(Object.entries(flags).map(([name, spec]) => [name, { type: spec.type }])),
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error: unknown) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values['help'] === true) {
    io.stdout.write(usage);
    return { exitCode: 0 };
  }
  if (parsed.positionals.length > maxPositionals) {
    return fail(`unexpected argument ${JSON.stringify(parsed.positionals[maxPositionals])}`);
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(flags)) {
    const given = parsed.values[name];
    const variable = envName(name);
    const fromEnv = io.env[variable];
    if (spec.type === 'boolean') {
      if (given !== undefined) values[name] = given;
      else if (fromEnv === undefined) values[name] = false;
      else if (TRUE.has(fromEnv.trim().toLowerCase())) values[name] = true;
      else if (FALSE.has(fromEnv.trim().toLowerCase())) values[name] = false;
      else return fail(`${variable} must be 1, true, 0 or false, got ${JSON.stringify(fromEnv)}`);
    } else {
      values[name] = given ?? (fromEnv || undefined) ?? spec.default;
    }
  }
  return { values: values as never, positionals: parsed.positionals };
}

/** A non-negative integer flag, or a usage error naming it (`--after must be …`). */
export function nonNegativeInteger(flag: string, text: string | undefined, fallback: number): number | string {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    return `--${flag} must be a non-negative integer, got ${JSON.stringify(text)}`;
  }
  return Number(text);
}
