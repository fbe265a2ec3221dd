import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import {
  createChannelCredentials,
  readTlsFiles,
  resolveClientToken,
  SecurityError,
  TLS_OPTIONS,
} from '@supwalsh/security';
import { InvalidArgumentError } from './errors.js';

/** Environment variable with the coordinator's `host:port`, read when `address` is not given. */
export const COORDINATOR_ADDRESS_ENV = 'SUPWALSH_COORDINATOR';

/** Address used when neither `address` nor `SUPWALSH_COORDINATOR` is set: a coordinator on this machine. */
export const DEFAULT_COORDINATOR_ADDRESS = '127.0.0.1:50051';

/** Where the SDK reports what it does. Nothing is logged without one; the token is never logged. */
export interface SupWalshLogger {
  /** Each call attempt, stream (re)connection and resume position. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Each retry (code, attempt, delay) and each stream resumed after a failure. */
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** Deadlines, in milliseconds. Every attempt of a call gets its own. */
export interface DeadlineOptions {
  /**
   * Deadline of each attempt of `get`, `list` (each page) and `cancel`.
   * @default 10000
   */
  unaryMs?: number;
  /**
   * Deadline of each attempt of `submit` (validation and storage of the spec).
   * @default 30000
   */
  submitMs?: number;
  /**
   * A `watch` stream that delivers no event for this long is cancelled and resumed from the last event. The
   * coordinator sends no heartbeats, so a quiet experiment (a long epoch with `omitStepProgress`) delivers
   * nothing for a long time: 0 means no idle deadline (the stream stays open until the experiment ends).
   * @default 0
   */
  watchIdleMs?: number;
  /**
   * The longest coordinator outage a `watch` rides out: while the coordinator is unreachable (restarting, being
   * rescheduled) the watch keeps reconnecting with backoff (`retry`, capped at `retry.maxBackoffMs`) and resumes
   * from the last event it yielded; only when it has received nothing for this long does it give up, with an error
   * whose `lastSequence` says where to resume. Replaces `retry.maxAttempts` for watches.
   * @default 120000 (2 minutes)
   */
  watchOutageMs?: number;
  /**
   * A `downloadArtifact` stream that delivers no chunk for this long is cancelled and resumed from the byte
   * offset reached. 0 means no idle deadline.
   * @default 60000
   */
  downloadIdleMs?: number;
}

/**
 * Retries of UNAVAILABLE, RESOURCE_EXHAUSTED and ABORTED (and, for streams, of an idle or broken stream): the
 * n-th retry waits `min(maxBackoffMs, initialBackoffMs × multiplier^(n−1))`, scaled by a random factor in
 * `[1 − jitter, 1 + jitter]`.
 */
export interface RetryOptions {
  /**
   * Attempts in all, the first included; 1 turns retries off. For a stream, attempts since the last message
   * received: a stream that made progress starts counting again.
   * @default 5
   */
  maxAttempts?: number;
  /**
   * Wait before the first retry, in milliseconds.
   * @default 100
   */
  initialBackoffMs?: number;
  /**
   * Longest wait between attempts, in milliseconds.
   * @default 5000
   */
  maxBackoffMs?: number;
  /**
   * Growth of the wait from one retry to the next.
   * @default 2
   */
  multiplier?: number;
  /**
   * Relative random spread of each wait, 0–1 (0: exact waits).
   * @default 0.2
   */
  jitter?: number;
}

/** PEM files for {@link SupWalshClientOptions.tls}. */
export interface TlsFileOptions {
  /** The CA the coordinator's certificate is checked against. @default the system's root certificates */
  caFile?: string;
  /** A client certificate (mutual TLS), with `keyFile`. */
  certFile?: string;
  /** The private key of `certFile`. */
  keyFile?: string;
}

/** How to reach the coordinator, and how calls behave. Every field is optional. */
export interface SupWalshClientOptions {
  /**
   * The coordinator's `host:port` (any grpc-js target: `dns:///coordinator.example:50051`, …).
   * @default process.env.SUPWALSH_COORDINATOR ?? '127.0.0.1:50051'
   */
  address?: string;
  /**
   * Channel credentials, e.g. `credentials.createSsl()` from `@grpc/grpc-js`; wins over `tls`.
   * @default from `tls`, else plaintext
   */
  credentials?: ChannelCredentials;
  /**
   * TLS to the coordinator: `true` verifies it against the system's root certificates; an object names PEM files:
   * `caFile` (the CA that signed the coordinator's certificate) and, for mutual TLS, `certFile` + `keyFile`.
   * `false` forces plaintext. The coordinator's certificate must cover the host name or address dialled.
   * @default `{ caFile: SUPWALSH_TLS_CA }` when that variable is set (with `SUPWALSH_TLS_CERT` / `SUPWALSH_TLS_KEY`
   * when both are set), else plaintext
   */
  tls?: boolean | TlsFileOptions;
  /**
   * Bearer token sent as `authorization: Bearer <token>` metadata on every call (every attempt): a string, or a
   * function called before each attempt (to refresh it). Never logged.
   * @default the first token of `tokenFile`, else `SUPWALSH_TOKEN`, else the first token of the file
   * `SUPWALSH_TOKEN_FILE` names, else none (no authorization metadata)
   */
  token?: string | (() => string | Promise<string>);
  /**
   * A token file (one token per line, `#` comments); its first token is sent. Read once, by the constructor.
   * @default none
   */
  tokenFile?: string;
  /** Deadlines per kind of call. */
  deadlines?: DeadlineOptions;
  /** Retry policy of every call. */
  retry?: RetryOptions;
  /**
   * grpc-js channel options (`grpc.keepalive_time_ms`, `grpc.max_receive_message_length`, …), merged over the
   * SDK's (`grpc.primary_user_agent: 'supwalsh-sdk'`).
   * @default {}
   */
  channelOptions?: ChannelOptions;
  /**
   * Receives debug and warning messages.
   * @default undefined (silent)
   */
  logger?: SupWalshLogger;
}

/** The default deadlines, in milliseconds (see {@link DeadlineOptions}). */
export const DEFAULT_DEADLINES: Readonly<Required<DeadlineOptions>> = Object.freeze({
  unaryMs: 10_000,
  submitMs: 30_000,
  watchIdleMs: 0,
  watchOutageMs: 120_000,
  downloadIdleMs: 60_000,
});

/** The default retry policy (see {@link RetryOptions}). */
export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = Object.freeze({
  maxAttempts: 5,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
  multiplier: 2,
  jitter: 0.2,
});

/** Options with every default applied and checked. */
export interface ResolvedClientOptions {
  address: string;
  /** From `credentials`, `tls` or `SUPWALSH_TLS_*`. */
  credentials: ChannelCredentials;
  /** From `token`, `tokenFile`, `SUPWALSH_TOKEN` or `SUPWALSH_TOKEN_FILE`. */
  token: SupWalshClientOptions['token'];
  deadlines: Required<DeadlineOptions>;
  retry: Required<RetryOptions>;
}

function check(ok: boolean, field: string, valid: string, value: unknown): void {
  if (!ok) {
    throw new InvalidArgumentError(`${field} must be ${valid}, got ${JSON.stringify(value)} (SupWalshClient options)`, {
      field,
    });
  }
}

/** Applies the defaults to `options` and checks every number; throws InvalidArgumentError naming the option. */
export function resolveClientOptions(
  options: SupWalshClientOptions,
  env: NodeJS.ProcessEnv = process.env
): ResolvedClientOptions {
  const address = options.address ?? env[COORDINATOR_ADDRESS_ENV] ?? DEFAULT_COORDINATOR_ADDRESS;
  check(typeof address === 'string' && address.trim() !== '', 'address', 'a non-empty host:port', address);
  const deadlines = { ...DEFAULT_DEADLINES, ...definedOnly(options.deadlines) };
  for (const key of ['unaryMs', 'submitMs'] as const) {
    check(Number.isFinite(deadlines[key]) && deadlines[key] > 0, `deadlines.${key}`, 'a number > 0', deadlines[key]);
  }
  for (const key of ['watchIdleMs', 'watchOutageMs', 'downloadIdleMs'] as const) {
    check(Number.isFinite(deadlines[key]) && deadlines[key] >= 0, `deadlines.${key}`, 'a number ≥ 0', deadlines[key]);
  }
  const retry = { ...DEFAULT_RETRY, ...definedOnly(options.retry) };
  check(
    Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1,
    'retry.maxAttempts',
    'an integer ≥ 1',
    retry.maxAttempts
  );
  check(
    Number.isFinite(retry.initialBackoffMs) && retry.initialBackoffMs >= 0,
    'retry.initialBackoffMs',
    'a number ≥ 0',
    retry.initialBackoffMs
  );
  check(
    Number.isFinite(retry.maxBackoffMs) && retry.maxBackoffMs >= retry.initialBackoffMs,
    'retry.maxBackoffMs',
    'a number ≥ retry.initialBackoffMs',
    retry.maxBackoffMs
  );
  check(
    Number.isFinite(retry.multiplier) && retry.multiplier >= 1,
    'retry.multiplier',
    'a number ≥ 1',
    retry.multiplier
  );
  check(retry.jitter >= 0 && retry.jitter <= 1, 'retry.jitter', 'a number in [0, 1]', retry.jitter);
  return {
    address,
    deadlines,
    retry,
    credentials: resolveCredentials(options, env),
    token: resolveToken(options, env),
  };
}

/** Turns a @supwalsh/security file error into InvalidArgumentError naming the option. */
function readingOption<T>(field: string, read: () => T): T {
  try {
    return read();
  } catch (error: unknown) {
    if (!(error instanceof SecurityError)) throw error;
    throw new InvalidArgumentError(`${field}: ${error.message} (SupWalshClient options)`, { field, cause: error });
  }
}

function resolveCredentials(options: SupWalshClientOptions, env: NodeJS.ProcessEnv): ChannelCredentials {
  if (options.credentials) return options.credentials;
  let tls = options.tls;
  if (tls === undefined && env[TLS_OPTIONS.ca.env]) {
    const cert = env[TLS_OPTIONS.cert.env];
    const key = env[TLS_OPTIONS.key.env];
    tls = { caFile: env[TLS_OPTIONS.ca.env], ...(cert && key ? { certFile: cert, keyFile: key } : {}) };
  }
  if (!tls) return createChannelCredentials(undefined);
  if (tls === true) return createChannelCredentials(undefined, { systemRoots: true });
  const files = tls;
  const material = readingOption('tls', () =>
    readTlsFiles({
      ...(files.caFile ? { ca: { path: files.caFile, option: 'tls.caFile' } } : {}),
      ...(files.certFile ? { cert: { path: files.certFile, option: 'tls.certFile' } } : {}),
      ...(files.keyFile ? { key: { path: files.keyFile, option: 'tls.keyFile' } } : {}),
    })
  );
  return createChannelCredentials(material, { systemRoots: true });
}

function resolveToken(options: SupWalshClientOptions, env: NodeJS.ProcessEnv): SupWalshClientOptions['token'] {
  if (options.token !== undefined) return options.token;
  return readingOption('tokenFile', () => resolveClientToken({ tokenFile: options.tokenFile, env }));
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
