/** Base of every error @supwalsh/security throws on purpose. */
export abstract class SecurityError extends Error {}

/**
 * Thrown when a TLS setting is unusable: a PEM file that is missing, unreadable or not a certificate / private key,
 * a key that does not belong to its certificate, or a certificate given without its key (or the other way round).
 * The message names the flag (`--tls-cert`) or variable and the path; never any key material.
 */
export class TlsConfigError extends SecurityError {
  override readonly name = 'TlsConfigError';
  constructor(
    /** The flag or environment variable (`--tls-key`, `SUPWALSH_TLS_CA`). */
    readonly option: string,
    /** The file, when the problem is a file. */
    readonly path: string | undefined,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(`${option}${path === undefined ? '' : ` (${path})`}: ${message}`, options);
  }
}

/**
 * Thrown when a bearer-token file cannot be used: missing, unreadable, or holding no token. The message names the
 * flag or variable and the path; never a token.
 */
export class TokenFileError extends SecurityError {
  override readonly name = 'TokenFileError';
  constructor(
    /** The flag or environment variable (`--token-file`, `SUPWALSH_TOKEN_FILE`). */
    readonly option: string,
    readonly path: string,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(`${option} (${path}): ${message}`, options);
  }
}

/** Thrown when a bearer token given to a client cannot be sent: empty or holding white space. Never shows it. */
export class TokenError extends SecurityError {
  override readonly name = 'TokenError';
  constructor(
    /** Where the token came from (`token`, `SUPWALSH_TOKEN`). */
    readonly option: string,
    message: string
  ) {
    super(`${option}: the bearer token ${message}`);
  }
}

/**
 * Thrown when a path that must stay inside a directory (a dataset root under the data directory) leaves it:
 * absolute, `..` above the directory, or through a symbolic link that points outside.
 */
export class PathEscapeError extends SecurityError {
  override readonly name = 'PathEscapeError';
  constructor(
    /** The field or argument the path came from (`datasets[0].root`). */
    readonly field: string,
    /** The path as given. */
    readonly given: string,
    message: string
  ) {
    super(message.startsWith(field) ? message : `${field} ${message}`);
  }
}

/** Normalises anything thrown into an Error (catch variables are `unknown`). */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
