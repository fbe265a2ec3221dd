import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  createTokenSet,
  readTlsFiles,
  readTokenFile,
  TOKEN_FILE_ENV,
  tlsFilesFrom,
  type TlsFiles,
} from '@supwalsh/security';
import type { CoordinatorSettings } from './context.js';
import { ConfigError } from './errors.js';
import { isLogLevelName, type LogLevelName } from './logger.js';
import type { CoordinatorSecurity } from './server.js';

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
  /** PEM files (`--tls-cert`, `--tls-key`, `--tls-ca`), read by main.ts. @default none: plaintext */
  readonly tls: TlsFiles;
  /** Accepted client bearer tokens, one per line (`--token-file`). @default none */
  readonly tokenFile: { readonly path: string; readonly option: string } | undefined;
  /** `host:port` of the plaintext health-only server (`--health-listen`). @default none */
  readonly healthListen: string | undefined;
  /** `host:port` of the web dashboard (`--http-listen`); port 0 picks a free one. @default none: no dashboard */
  readonly httpListen: string | undefined;
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
  --max-queued-experiments N    queued experiments accepted (SUPWALSH_MAX_QUEUED_EXPERIMENTS; default 500)
  --max-watchers-per-experiment N  open WatchExperiment streams per experiment (SUPWALSH_MAX_WATCHERS_PER_EXPERIMENT; default 64)
  --max-spec-bytes N            largest encoded spec (SUPWALSH_MAX_SPEC_BYTES; default 262144)
  --max-runs-per-experiment N   most runs a spec may expand to (SUPWALSH_MAX_RUNS_PER_EXPERIMENT; default 1024)
  --max-message-bytes N         largest gRPC message received (SUPWALSH_MAX_MESSAGE_BYTES; default 8388608)
  --tls-cert FILE               PEM certificate: serve TLS (SUPWALSH_TLS_CERT; with --tls-key)
  --tls-key FILE                PEM private key of --tls-cert (SUPWALSH_TLS_KEY)
  --tls-ca FILE                 cluster CA (PEM): workers must present a certificate it signed (SUPWALSH_TLS_CA)
  --token-file FILE             accepted client bearer tokens, one per line (SUPWALSH_TOKEN_FILE)
  --health-listen HOST:PORT     plaintext server with only grpc.health.v1, for probes (SUPWALSH_HEALTH_LISTEN)
  --http-listen HOST:PORT       web dashboard, HTTPS with --tls-cert (SUPWALSH_HTTP_LISTEN; port 0: a free one, logged)
  --help                        print this and exit
`;

const INTEGER_OPTIONS = {
  'heartbeat-interval-ms': { env: 'SUPWALSH_HEARTBEAT_INTERVAL_MS', key: 'heartbeatIntervalMs', min: 100 },
  'lease-ttl-ms': { env: 'SUPWALSH_LEASE_TTL_MS', key: 'leaseTtlMs', min: 500 },
  'max-active-experiments': { env: 'SUPWALSH_MAX_ACTIVE_EXPERIMENTS', key: 'maxActiveExperiments', min: 1 },
  'max-queued-experiments': { env: 'SUPWALSH_MAX_QUEUED_EXPERIMENTS', key: 'maxQueuedExperiments', min: 1 },
  'max-watchers-per-experiment': {
    env: 'SUPWALSH_MAX_WATCHERS_PER_EXPERIMENT',
    key: 'maxWatchersPerExperiment',
    min: 1,
  },
  'max-spec-bytes': { env: 'SUPWALSH_MAX_SPEC_BYTES', key: 'maxSpecBytes', min: 1024 },
  'max-runs-per-experiment': { env: 'SUPWALSH_MAX_RUNS_PER_EXPERIMENT', key: 'maxRunsPerExperiment', min: 1 },
  // An artifact upload chunk (1 MiB from the workers) and its header must fit.
  'max-message-bytes': { env: 'SUPWALSH_MAX_MESSAGE_BYTES', key: 'maxMessageBytes', min: 2 << 20 },
} as const;

/** `host:port` with a port from 0 to 65535. */
function isHostPort(text: string): boolean {
  const match = /^.+:(\d{1,5})$/.exec(text);
  return match !== null && Number(match[1]) <= 65_535;
}

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
        ...Object.fromEntries(Object.keys(INTEGER_OPTIONS).map((flag) => [flag, { type: 'string' as const }])),
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-ca': { type: 'string' },
        'token-file': { type: 'string' },
        'health-listen': { type: 'string' },
        'http-listen': { type: 'string' },
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
  if (listen && !isHostPort(listen[1])) {
    throw new ConfigError(listen[0], `must be HOST:PORT with a port from 0 to 65535, got ${JSON.stringify(listen[1])}`);
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
  const healthListen = pick('health-listen', 'SUPWALSH_HEALTH_LISTEN');
  if (healthListen && !isHostPort(healthListen[1])) {
    throw new ConfigError(
      healthListen[0],
      `must be HOST:PORT with a port from 0 to 65535, got ${JSON.stringify(healthListen[1])}`
    );
  }
  const httpListen = pick('http-listen', 'SUPWALSH_HTTP_LISTEN');
  if (httpListen && !/^.+:\d{1,5}$/.test(httpListen[1])) {
    throw new ConfigError(httpListen[0], `must be HOST:PORT, got ${JSON.stringify(httpListen[1])}`);
  }
  const tokenFile = pick('token-file', TOKEN_FILE_ENV);
  const text = (flag: string) => (typeof values[flag] === 'string' ? values[flag] : undefined);
  return {
    listen: listen?.[1] ?? DEFAULT_LISTEN,
    dataDir,
    artifactsDir,
    protoDir: protoDir ? path.resolve(protoDir) : undefined,
    logLevel: (logLevel?.[1] as LogLevelName | undefined) ?? 'info',
    settings: settings as Partial<CoordinatorSettings>,
    tls: tlsFilesFrom({ cert: text('tls-cert'), key: text('tls-key'), ca: text('tls-ca') }, env),
    tokenFile: tokenFile ? { option: tokenFile[0], path: path.resolve(tokenFile[1]) } : undefined,
    healthListen: healthListen?.[1],
    httpListen: httpListen?.[1],
    help: values.help === true,
  };
}

/**
 * Reads the configuration's TLS files and token file (for `createCoordinatorServer`'s `security`). Throws
 * @supwalsh/security's `TlsConfigError` or `TokenFileError`, naming the flag or variable and the path.
 */
export function readCoordinatorSecurity(config: Pick<CoordinatorConfig, 'tls' | 'tokenFile'>): CoordinatorSecurity {
  const tls = readTlsFiles(config.tls);
  const tokens = config.tokenFile
    ? createTokenSet(readTokenFile(config.tokenFile.path, config.tokenFile.option))
    : undefined;
  return { tls, tokens };
}
