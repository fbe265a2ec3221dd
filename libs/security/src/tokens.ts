import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Metadata } from '@grpc/grpc-js';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { TokenError, TokenFileError, toError } from './errors.js';
import { isRole, PRINCIPAL_NAME, ROLES, type Principal, type Role } from './principals.js';

/** Environment variable with a client's bearer token. */
export const TOKEN_ENV = 'SUPWALSH_TOKEN';
/**
 * Environment variable with the path of a token file (the coordinator: accepted tokens; clients and workers: the
 * first line's token, its first field).
 */
export const TOKEN_FILE_ENV = 'SUPWALSH_TOKEN_FILE';
/** Shorter tokens work but are easier to guess; the coordinator warns about them. */
export const MIN_RECOMMENDED_TOKEN_LENGTH = 16;
/** The metadata key bearer tokens travel in (`authorization: Bearer <token>`). */
export const AUTHORIZATION_METADATA_KEY = 'authorization';

/** One line of a token file: a token and the principal it authenticates. */
export interface TokenEntry {
  readonly token: string;
  readonly principal: Principal;
  /**
   * The line held only the token (the format before roles): it authenticates a client named after the token's
   * digest. The coordinator warns about such lines.
   */
  readonly bare: boolean;
}

/** The principal name of a bare token line: `token-` and 12 hex digits of the token's SHA-256 (not the token). */
export function bareTokenPrincipalName(token: string): string {
  return `token-${createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12)}`;
}

/**
 * The entries of a token file: one per line, `<token> <principal> <role>` separated by white space (role `client`,
 * `worker` or `admin`); a line holding only `<token>` is a client named by {@link bareTokenPrincipalName} (and
 * `bare`). Blank lines and lines starting with `#` are ignored. Throws {@link TokenFileError} (naming `option`, the
 * path and the line, never a token) when the file cannot be read or holds no token, when a line has two or more
 * than three fields, an unknown role or a bad principal name, when a token appears twice, or when one principal is
 * given two roles.
 */
export function readTokenFile(path: string, option = '--token-file'): TokenEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : toError(error).message;
    throw new TokenFileError(option, path, `cannot read the file: ${why}`, { cause: error });
  }
  const entries: TokenEntry[] = [];
  const roles = new Map<string, Role>();
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fail = (why: string): never => {
      throw new TokenFileError(option, path, `line ${i + 1}: ${why}`);
    };
    const fields = line.split(/\s+/);
    if (fields.length === 2 || fields.length > 3) {
      fail(`expected "<token> <principal> <role>" (or a bare "<token>"), got ${fields.length} fields`);
    }
    const [token = '', name, role] = fields;
    if (seen.has(token)) fail('the token appears on an earlier line too');
    seen.add(token);
    if (name === undefined || role === undefined) {
      entries.push({ token, principal: { name: bareTokenPrincipalName(token), role: 'client' }, bare: true });
      return;
    }
    if (!PRINCIPAL_NAME.test(name)) {
      fail(`the principal must be 1–128 characters from [A-Za-z0-9._@:+=-], got ${JSON.stringify(name)}`);
    }
    if (!isRole(role)) fail(`the role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`);
    const earlier = roles.get(name);
    if (earlier !== undefined && earlier !== role) {
      fail(`principal ${name} has role ${earlier} on an earlier line; a principal has one role`);
    }
    roles.set(name, role as Role);
    entries.push({ token, principal: { name, role: role as Role }, bare: false });
  });
  if (entries.length === 0) {
    throw new TokenFileError(
      option,
      path,
      'holds no token (one "<token> <principal> <role>" per line; blank lines and # comments are ignored)'
    );
  }
  return entries;
}

/** Accepted bearer tokens, kept as SHA-256 digests and compared in constant time, each with its principal. */
export interface TokenSet {
  /** Number of tokens. */
  readonly size: number;
  /** Number of tokens shorter than {@link MIN_RECOMMENDED_TOKEN_LENGTH}. */
  readonly short: number;
  /** Number of bare token lines (no principal or role: clients named after the token's digest). */
  readonly bare: number;
  /**
   * The principal `presented` authenticates, or undefined. Both sides are hashed first and every stored token is
   * compared, so neither the time taken nor an early exit tells an attacker how much of a token (or its length)
   * was right.
   */
  authenticate(presented: string): Principal | undefined;
  /** Whether `presented` is one of the tokens (`authenticate(presented) !== undefined`). */
  verify(presented: string): boolean;
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * A {@link TokenSet} of `entries` (the token strings themselves are not kept). A plain string is a bare token: a
 * client named by {@link bareTokenPrincipalName}.
 */
export function createTokenSet(entries: readonly (TokenEntry | string)[]): TokenSet {
  const normalized = entries.map((e) =>
    typeof e === 'string'
      ? { token: e, principal: { name: bareTokenPrincipalName(e), role: 'client' as const }, bare: true }
      : e
  );
  const stored = normalized.map((e) => ({ digest: digest(e.token), principal: Object.freeze({ ...e.principal }) }));
  const authenticate = (presented: string): Principal | undefined => {
    const candidate = digest(presented);
    let found: Principal | undefined;
    for (const s of stored) {
      // No early exit: every digest is compared whatever matched.
      if (timingSafeEqual(s.digest, candidate)) found = s.principal;
    }
    return found;
  };
  return {
    size: stored.length,
    short: normalized.filter((e) => e.token.length < MIN_RECOMMENDED_TOKEN_LENGTH).length,
    bare: normalized.filter((e) => e.bare).length,
    authenticate,
    verify: (presented) => authenticate(presented) !== undefined,
  };
}

/** What a call's `authorization` metadata holds. */
export type Authorization =
  | { readonly kind: 'none' }
  /** Present but not `Bearer <token>` (another scheme, no token, white space inside the token). */
  | { readonly kind: 'malformed'; readonly why: string }
  | { readonly kind: 'bearer'; readonly token: string };

/** Reads the `authorization` metadata of a call (scheme case-insensitive; surrounding white space ignored). */
export function authorizationOf(metadata: Metadata): Authorization {
  const values = metadata.get(AUTHORIZATION_METADATA_KEY);
  if (values.length === 0) return { kind: 'none' };
  const [value] = values;
  if (values.length > 1 || typeof value !== 'string') {
    return { kind: 'malformed', why: 'the authorization metadata must be sent once, as text' };
  }
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(value);
  if (match?.[1]) return { kind: 'bearer', token: match[1] };
  return /^\s*Bearer\b/i.test(value)
    ? { kind: 'malformed', why: 'the bearer token is empty or contains white space' }
    : { kind: 'malformed', why: 'the authorization metadata must be "Bearer <token>"' };
}

/**
 * The bearer token of a call's metadata (`authorization: Bearer <token>`, scheme case-insensitive), or undefined
 * when there is none or the header has another form.
 */
export function bearerTokenOf(metadata: Metadata): string | undefined {
  const authorization = authorizationOf(metadata);
  return authorization.kind === 'bearer' ? authorization.token : undefined;
}

/**
 * Throws {@link TokenError} naming `option` when `token` cannot be sent as a bearer token: empty, or holding white
 * space (a token never does; HTTP/2 drops or rejects such a header, and the server would then see no token).
 */
export function checkBearerToken(token: string, option = 'token'): void {
  if (token === '') throw new TokenError(option, 'is empty');
  if (/\s/.test(token)) {
    const where = /^\s|\s$/.test(token) ? 'leading or trailing white space' : 'white space';
    throw new TokenError(option, `contains ${where}; tokens never do (check how it was copied)`);
  }
}

/**
 * A client interceptor that adds `authorization: Bearer <token>` to every call's metadata. Throws
 * {@link TokenError} when the token cannot be sent ({@link checkBearerToken}).
 */
export function createBearerTokenInterceptor(token: string, option = 'token'): Interceptor {
  checkBearerToken(token, option);
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(AUTHORIZATION_METADATA_KEY, `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

/** Where {@link resolveClientToken} looks. */
export interface ClientTokenSources {
  /** An explicit token file (`--token-file`); its first line's token (first field) is used. */
  readonly tokenFile?: string | undefined;
  /** `SUPWALSH_TOKEN` and `SUPWALSH_TOKEN_FILE` are read from it. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * A client's bearer token: the first token of `tokenFile` (`--token-file`), else `SUPWALSH_TOKEN`, else the first
 * token of the file `SUPWALSH_TOKEN_FILE` names; undefined when none is set. Throws {@link TokenFileError}.
 */
export function resolveClientToken(sources: ClientTokenSources): string | undefined {
  if (sources.tokenFile) return readTokenFile(sources.tokenFile, '--token-file')[0]?.token;
  const token = sources.env[TOKEN_ENV]?.trim();
  if (token) return token;
  const file = sources.env[TOKEN_FILE_ENV];
  return file ? readTokenFile(file, TOKEN_FILE_ENV)[0]?.token : undefined;
}
