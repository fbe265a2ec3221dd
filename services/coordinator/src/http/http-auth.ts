import { randomBytes } from 'node:crypto';
import type { Principal } from '@supwalsh/dashboard';
import { LOCAL_PRINCIPAL } from '@supwalsh/security';

/** Every caller when no token file is configured (local and dev clusters): the gRPC API's local principal. */
export const LOCAL_ADMIN: Principal = LOCAL_PRINCIPAL;

/**
 * How the dashboard authenticates and authorizes, the same rules as the gRPC API (the principals contract). The
 * coordinator wires its token set and its auth policy in here; tests inject their own.
 */
export interface DashboardAuth {
  /**
   * The principal a bearer token stands for, or undefined for an unknown token (compared in constant time by the
   * token set). Undefined when no token file is configured: every caller is {@link LOCAL_ADMIN}.
   */
  readonly authenticate?: ((token: string) => Principal | undefined) | undefined;
  /** Whether `principal` may see, watch, download and cancel an experiment owned by `owner`. */
  readonly canAccessExperiment: (principal: Principal, owner: string) => boolean;
  /** Whether `principal` may see workers' addresses. */
  readonly canSeeWorkerAddresses: (principal: Principal) => boolean;
}

/** Name of the session cookie. */
export const SESSION_COOKIE = 'supwalsh_session';
/** How long a session lasts after its login. @default 12 h */
export const SESSION_TTL_MS = 12 * 3600_000;
/** Most sessions held at once; the oldest is dropped beyond it (a flood of logins cannot grow memory). */
export const MAX_SESSIONS = 10_000;

interface Session {
  readonly principal: Principal;
  readonly expires: number;
}

/**
 * Sessions of the dashboard: a token is exchanged once (`POST /api/session`) for a random id held in an HttpOnly
 * cookie, because EventSource cannot send a bearer header and tokens never go into URLs. In memory: a restarted
 * coordinator asks for the token again.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly clock: () => number,
    private readonly ttlMs = SESSION_TTL_MS,
    private readonly max = MAX_SESSIONS
  ) {}

  /** A new session id for `principal` (32 random bytes, base64url). */
  create(principal: Principal): string {
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { principal, expires: this.clock() + this.ttlMs });
    while (this.sessions.size > this.max) this.sessions.delete(this.sessions.keys().next().value!);
    return id;
  }

  /** The principal of a live session, or undefined (unknown or expired ids are forgotten). */
  get(id: string): Principal | undefined {
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (session.expires <= this.clock()) {
      this.sessions.delete(id);
      return undefined;
    }
    return session.principal;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** The cookies of a `Cookie` header (later duplicates lose). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

/** The `Set-Cookie` value of a session (HttpOnly, SameSite=Strict, Secure under TLS); `maxAgeS` 0 clears it. */
export function sessionCookie(id: string, options: { secure: boolean; maxAgeS: number }): string {
  return [
    `${SESSION_COOKIE}=${id}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${options.maxAgeS}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}
