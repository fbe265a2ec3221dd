import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Metadata } from '@grpc/grpc-js';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { TokenFileError, toError } from './errors.js';

/** Environment variable with a client's bearer token. */
export const TOKEN_ENV = 'SUPWALSH_TOKEN';
/** Environment variable with the path of a token file (the coordinator: accepted tokens; clients: the first). */
export const TOKEN_FILE_ENV = 'SUPWALSH_TOKEN_FILE';
/** Shorter tokens work but are easier to guess; the coordinator warns about them. */
export const MIN_RECOMMENDED_TOKEN_LENGTH = 16;
/** The metadata key bearer tokens travel in (`authorization: Bearer <token>`). */
export const AUTHORIZATION_METADATA_KEY = 'authorization';

/**
 * The tokens of a token file: one per line, surrounding white space trimmed; blank lines and lines starting
 * with `#` are ignored. Throws {@link TokenFileError} (naming `option` and the path, never a token) when the file
 * cannot be read or holds no token, or when a token contains white space.
 */
export function readTokenFile(path: string, option = '--token-file'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : toError(error).message;
    throw new TokenFileError(option, path, `cannot read the file: ${why}`, { cause: error });
  }
  const tokens: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (/\s/.test(line)) throw new TokenFileError(option, path, `line ${i + 1}: a token must not contain white space`);
    tokens.push(line);
  });
  if (tokens.length === 0) {
    throw new TokenFileError(option, path, 'holds no token (one per line; blank lines and # comments are ignored)');
  }
  return tokens;
}

/** Accepted bearer tokens, kept as SHA-256 digests and compared in constant time. */
export interface TokenSet {
  /** Number of tokens. */
  readonly size: number;
  /** Number of tokens shorter than {@link MIN_RECOMMENDED_TOKEN_LENGTH}. */
  readonly short: number;
  /**
   * Whether `presented` is one of the tokens. Both sides are hashed first and every stored token is compared, so
   * neither the time taken nor an early exit tells an attacker how much of a token (or its length) was right.
   */
  verify(presented: string): boolean;
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** A {@link TokenSet} of `tokens` (the strings themselves are not kept). */
export function createTokenSet(tokens: readonly string[]): TokenSet {
  const digests = tokens.map(digest);
  return {
    size: digests.length,
    short: tokens.filter((t) => t.length < MIN_RECOMMENDED_TOKEN_LENGTH).length,
    verify(presented) {
      const candidate = digest(presented);
      let match = false;
      for (const d of digests) match = timingSafeEqual(d, candidate) || match;
      return match;
    },
  };
}

/**
 * The bearer token of a call's metadata (`authorization: Bearer <token>`, scheme case-insensitive), or undefined
 * when there is none or the header has another form.
 */
export function bearerTokenOf(metadata: Metadata): string | undefined {
  const [value] = metadata.get(AUTHORIZATION_METADATA_KEY);
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

/** A client interceptor that adds `authorization: Bearer <token>` to every call's metadata. */
export function createBearerTokenInterceptor(token: string): Interceptor {
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
  /** An explicit token file (`--token-file`); its first token is used. */
  readonly tokenFile?: string | undefined;
  /** `SUPWALSH_TOKEN` and `SUPWALSH_TOKEN_FILE` are read from it. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * A client's bearer token: the first token of `tokenFile` (`--token-file`), else `SUPWALSH_TOKEN`, else the first
 * token of the file `SUPWALSH_TOKEN_FILE` names; undefined when none is set. Throws {@link TokenFileError}.
 */
export function resolveClientToken(sources: ClientTokenSources): string | undefined {
  if (sources.tokenFile) return readTokenFile(sources.tokenFile, '--token-file')[0];
  const token = sources.env[TOKEN_ENV]?.trim();
  if (token) return token;
  const file = sources.env[TOKEN_FILE_ENV];
  return file ? readTokenFile(file, TOKEN_FILE_ENV)[0] : undefined;
}
