import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, type BackendChoice } from '@supwalsh/engine';
import { tlsFilesFrom, type TlsFiles } from '@supwalsh/security';
import { WorkerArgumentError } from './errors.js';

/** The worker's command-line configuration (`main.ts`). */
export interface WorkerOptions {
  /** `host:port` to bind. */
  listen: string;
  /** `host:port` others reach the worker at; unset: derived from `listen` and the bound port. */
  advertise?: string;
  /** Worker id; unset: `<hostname>-<port>`. */
  id?: string;
  /** Coordinator `host:port`; unset: the worker serves but does not register. */
  coordinator?: string;
  dataDir: string;
  cacheDir?: string;
  labels: Record<string, string>;
  backend: BackendChoice;
  /** Compute threads (wasm pool); unset: `SUPWALSH_THREADS`, else the cores the process may use (`initEngine`). */
  threads?: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** PEM files for mutual TLS (all three or none), read by main.ts. */
  tls: TlsFiles;
  /** A token file whose first token the worker sends to the coordinator; unset: `SUPWALSH_TOKEN(_FILE)`. */
  tokenFile?: string;
  /** `host:port` of a plaintext server with only grpc.health.v1 (Kubernetes probes); unset: none. */
  healthListen?: string;
  /** How long the main thread may not run before the health port reads NOT_SERVING (ms). */
  healthStallMs?: number;
  help: boolean;
}

/** Default `--listen`. */
export const DEFAULT_LISTEN = '127.0.0.1:50061';

/** The flags, their environment variables and defaults (also the `--help` text). */
export const WORKER_USAGE = `Usage: node services/worker/dist/main.js [options]

  --listen host:port       address to bind (port 0: any)          env SUPWALSH_LISTEN       default ${DEFAULT_LISTEN}
  --advertise host:port    address peers and the coordinator use  env SUPWALSH_ADVERTISE    default: listen host, bound port
  --id ID                  worker id [A-Za-z0-9._-]{1,128}        env SUPWALSH_WORKER_ID    default <hostname>-<port>
  --coordinator host:port  coordinator to register with           env SUPWALSH_COORDINATOR  default: none (not registered)
  --data-dir DIR           data directory (mirrors the coordinator's) env SUPWALSH_DATA_DIR default ~/.cache/supwalsh/data
  --cache-dir DIR          preprocessed dataset cache             env SUPWALSH_CACHE_DIR    default ~/.cache/supwalsh/datasets
  --label key=value        label for workers.selector (repeatable) env SUPWALSH_WORKER_LABELS (k=v,k=v)
  --backend NAME           auto | tensorflow | wasm | cpu         env SUPWALSH_BACKEND      default auto
  --threads N              compute threads of this process, 1–256 env SUPWALSH_THREADS      default: the cores it may use (cgroup quota)
  --log-level LEVEL        debug | info | warn | error            env SUPWALSH_LOG_LEVEL    default info
  --tls-cert FILE          PEM certificate (server and client)    env SUPWALSH_TLS_CERT     default: plaintext
  --tls-key FILE           PEM private key of --tls-cert          env SUPWALSH_TLS_KEY
  --tls-ca FILE            cluster CA: peers must show a certificate it signed   env SUPWALSH_TLS_CA
  --token-file FILE        worker token for the coordinator (first field of the first line; a token of role worker)  env SUPWALSH_TOKEN_FILE (or SUPWALSH_TOKEN)
  --health-listen host:port  plaintext grpc.health.v1 only, for probes, served from its own thread  env SUPWALSH_HEALTH_LISTEN  default: none
  --health-stall-ms N      health reads NOT_SERVING once the main thread has not run for N ms  env SUPWALSH_HEALTH_STALL_MS  default 120000
  --help                   this text
`;

/** Parses the command line (`argv` without node and the script) over the environment; flags win. */
export function parseWorkerOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env
): WorkerOptions {
  const fn = 'worker';
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        listen: { type: 'string' },
        advertise: { type: 'string' },
        id: { type: 'string' },
        coordinator: { type: 'string' },
        'data-dir': { type: 'string' },
        'cache-dir': { type: 'string' },
        label: { type: 'string', multiple: true },
        backend: { type: 'string' },
        threads: { type: 'string' },
        'log-level': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-ca': { type: 'string' },
        'token-file': { type: 'string' },
        'health-listen': { type: 'string' },
        'health-stall-ms': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error: unknown) {
    throw new WorkerArgumentError(fn, 'argv', `${(error as Error).message}\n\n${WORKER_USAGE}`);
  }
  const pick = (flag: string | undefined, name: string) => flag ?? (env[name] || undefined);
  const backend = pick(values.backend, 'SUPWALSH_BACKEND') ?? 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(backend)) {
    throw new WorkerArgumentError(fn, '--backend', `must be one of ${BACKEND_CHOICES.join(', ')}; got ${backend}`);
  }
  const threadsText = pick(values.threads, 'SUPWALSH_THREADS')?.trim();
  const threads = threadsText === undefined ? undefined : Number(threadsText);
  if (threads !== undefined && (!/^\d+$/.test(threadsText!) || threads < 1 || threads > 256)) {
    throw new WorkerArgumentError(fn, '--threads', `must be an integer from 1 to 256; got ${threadsText}`);
  }
  const logLevel = pick(values['log-level'], 'SUPWALSH_LOG_LEVEL') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new WorkerArgumentError(fn, '--log-level', `must be debug, info, warn or error; got ${logLevel}`);
  }
  const labelArgs = values.label ?? (env['SUPWALSH_WORKER_LABELS'] ? env['SUPWALSH_WORKER_LABELS'].split(',') : []);
  const labels: Record<string, string> = {};
  for (const entry of labelArgs) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new WorkerArgumentError(fn, '--label', `must be key=value; got ${JSON.stringify(entry)}`);
    labels[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim();
  }
  const dataDir =
    pick(values['data-dir'], 'SUPWALSH_DATA_DIR') ?? path.join(os.homedir(), '.cache', 'supwalsh', 'data');
  const healthListen = pick(values['health-listen'], 'SUPWALSH_HEALTH_LISTEN');
  if (healthListen !== undefined && !/^.+:\d{1,5}$/.test(healthListen)) {
    throw new WorkerArgumentError(fn, '--health-listen', `must be host:port; got ${JSON.stringify(healthListen)}`);
  }
  const stallText = pick(values['health-stall-ms'], 'SUPWALSH_HEALTH_STALL_MS');
  if (stallText !== undefined && (!/^\d+$/.test(stallText) || Number(stallText) < 1000)) {
    throw new WorkerArgumentError(
      fn,
      '--health-stall-ms',
      `must be an integer of milliseconds ≥ 1000; got ${JSON.stringify(stallText)}`
    );
  }
  const optional = <K extends string>(key: K, value: string | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;
  return {
    listen: pick(values.listen, 'SUPWALSH_LISTEN') ?? DEFAULT_LISTEN,
    ...optional('advertise', pick(values.advertise, 'SUPWALSH_ADVERTISE')),
    ...optional('id', pick(values.id, 'SUPWALSH_WORKER_ID')),
    ...optional('coordinator', pick(values.coordinator, 'SUPWALSH_COORDINATOR')),
    dataDir: path.resolve(dataDir),
    ...optional('cacheDir', pick(values['cache-dir'], 'SUPWALSH_CACHE_DIR')),
    labels,
    backend: backend as BackendChoice,
    ...(threads === undefined ? {} : { threads }),
    logLevel: logLevel as WorkerOptions['logLevel'],
    tls: tlsFilesFrom({ cert: values['tls-cert'], key: values['tls-key'], ca: values['tls-ca'] }, env),
    ...optional('tokenFile', values['token-file']),
    ...optional('healthListen', healthListen),
    ...(stallText === undefined ? {} : { healthStallMs: Number(stallText) }),
    help: values.help ?? false,
  };
}

/** The default worker id `<hostname>-<port>`, with characters outside [A-Za-z0-9._-] replaced by `-`. */
export function defaultWorkerId(port: number, hostname: string = os.hostname()): string {
  return `${hostname}-${port}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 128);
}
