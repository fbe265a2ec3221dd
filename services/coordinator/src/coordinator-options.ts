import path from 'node:path';
import { parseArgs } from 'node:util';
import type { CoordinatorSettings } from './context.js';
import { ConfigError } from './errors.js';
import { isLogLevelName, type LogLevelName } from './logger.js';

/** Address the coordinator binds by default. */
export const DEFAULT_LISTEN = '0.0.0.0:50051';
/** Data directory by default (the store, artifacts and datasets live under it). */
export const DEFAULT_DATA_DIR = './supwalsh-data';
/** Artifacts directory inside the data directory by default. */
export const DEFAULT_ARTIFACTS_SUBDIR = 'artifacts';

/** The coordinator process's configuration (flags over `SUPWALSH_*` environment variables over defaults). */
export interface CoordinatorConfig {
  /** @default '0.0.0.0:50051' */
  readonly listen: string;
  /** @default './supwalsh-data' (resolved) */
  readonly dataDir: string;
  /** @default '<dataDir>/artifacts' */
  readonly artifactsDir: string;
  /** @default the repository's `proto/` */
  readonly protoDir: string | undefined;
  /** @default 'info' */
  readonly logLevel: LogLevelName;
  readonly settings: Partial<CoordinatorSettings>;
  /** `--help` was given. */
  readonly help: boolean;
}

/** Usage text of the coordinator's `main.ts`. */
export const COORDINATOR_USAGE = `Usage: node services/coordinator/dist/main.js [options]

  --listen HOST:PORT            address to serve on (SUPWALSH_LISTEN; default ${DEFAULT_LISTEN})
  --data-dir DIR                store, artifacts and datasets (SUPWALSH_DATA_DIR; default ${DEFAULT_DATA_DIR})
  --artifacts-dir DIR           artifacts (SUPWALSH_ARTIFACTS_DIR; default <data-dir>/${DEFAULT_ARTIFACTS_SUBDIR})
  --proto-dir DIR               .proto files for server reflection (SUPWALSH_PROTO_DIR; default the repository's proto/)
  --log-level LEVEL             debug, info, warn or error (SUPWALSH_LOG_LEVEL; default info)
  --heartbeat-interval-ms N     worker heartbeat interval (SUPWALSH_HEARTBEAT_INTERVAL_MS; default 2000)
  --lease-ttl-ms N              worker lease length (SUPWALSH_LEASE_TTL_MS; default 10000)
  --max-active-experiments N    queued + running experiments accepted (SUPWALSH_MAX_ACTIVE_EXPERIMENTS; default 1000)
  --help                        print this and exit
`;

const INTEGER_OPTIONS = {
  'heartbeat-interval-ms': { env: 'SUPWALSH_HEARTBEAT_INTERVAL_MS', key: 'heartbeatIntervalMs', min: 100 },
  'lease-ttl-ms': { env: 'SUPWALSH_LEASE_TTL_MS', key: 'leaseTtlMs', min: 500 },
  'max-active-experiments': { env: 'SUPWALSH_MAX_ACTIVE_EXPERIMENTS', key: 'maxActiveExperiments', min: 1 },
} as const;

function integer(option: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(option, `must be an integer of at least ${min}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * Reads the coordinator's configuration from command-line flags and `SUPWALSH_*` environment variables (flags
 * win). Throws ConfigError naming the flag or variable for a bad value or an unknown flag.
 */
export function parseCoordinatorConfig(argv: readonly string[], env: NodeJS.ProcessEnv = {}): CoordinatorConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        'data-dir': { type: 'string' },
        'artifacts-dir': { type: 'string' },
        'proto-dir': { type: 'string' },
        'log-level': { type: 'string' },
        'heartbeat-interval-ms': { type: 'string' },
        'lease-ttl-ms': { type: 'string' },
        'max-active-experiments': { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (error: unknown) {
    throw new ConfigError('arguments', error instanceof Error ? error.message : String(error));
  }
  const pick = (flag: string, variable: string): [string, string] | undefined => {
    const fromFlag = values[flag];
    if (typeof fromFlag === 'string') return [`--${flag}`, fromFlag];
    const fromEnv = env[variable];
    return fromEnv ? [variable, fromEnv] : undefined;
  };
  const listen = pick('listen', 'SUPWALSH_LISTEN');
  if (listen && !/^.+:\d{1,5}$/.test(listen[1])) {
    throw new ConfigError(listen[0], `must be HOST:PORT, got ${JSON.stringify(listen[1])}`);
  }
  const dataDir = path.resolve(pick('data-dir', 'SUPWALSH_DATA_DIR')?.[1] ?? DEFAULT_DATA_DIR);
  const artifactsDir = path.resolve(
    pick('artifacts-dir', 'SUPWALSH_ARTIFACTS_DIR')?.[1] ?? path.join(dataDir, DEFAULT_ARTIFACTS_SUBDIR)
  );
  const logLevel = pick('log-level', 'SUPWALSH_LOG_LEVEL');
  if (logLevel && !isLogLevelName(logLevel[1])) {
    throw new ConfigError(logLevel[0], `must be debug, info, warn or error, got ${JSON.stringify(logLevel[1])}`);
  }
  const settings: Record<string, number> = {};
  for (const [flag, { env: variable, key, min }] of Object.entries(INTEGER_OPTIONS)) {
    const given = pick(flag, variable);
    if (given) settings[key] = integer(given[0], given[1], min);
  }
  const protoDir = pick('proto-dir', 'SUPWALSH_PROTO_DIR')?.[1];
  return {
    listen: listen?.[1] ?? DEFAULT_LISTEN,
    dataDir,
    artifactsDir,
    protoDir: protoDir ? path.resolve(protoDir) : undefined,
    logLevel: (logLevel?.[1] as LogLevelName | undefined) ?? 'info',
    settings: settings as Partial<CoordinatorSettings>,
    help: values.help === true,
  };
}
