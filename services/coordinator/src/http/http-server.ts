import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  DASHBOARD_ASSETS_DIR,
  EXPERIMENT_STATE_NAMES,
  type ExperimentPage,
  type ExperimentStateName,
  type LiveEvent,
  type Principal,
  type SessionInfo,
  type WorkerList,
} from '@supwalsh/dashboard';
import { ArtifactKind } from '@supwalsh/proto';
import { artifactAbsolutePath } from '../artifacts.js';
import type { CoordinatorContext } from '../context.js';
import {
  CoordinatorError,
  DrainingError,
  InvalidArgumentError,
  LimitExceededError,
  NotFoundError,
  QueueFullError,
  toError,
  WrongStateError,
} from '../errors.js';
import { cancelExperiment } from '../experiments.js';
import { isTerminalExperimentState } from '../states.js';
import type { ExperimentRecord } from '../store.js';
import {
  LOCAL_ADMIN,
  parseCookies,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  sessionCookie,
  SessionStore,
  type DashboardAuth,
} from './http-auth.js';
import { formatSse, mergeProgress, toLiveEvent } from './live-events.js';
import { experimentDetail, experimentRow, workerView } from './views.js';

/**
 * The page's Content-Security-Policy: scripts, styles and data only from the coordinator itself, no inline script,
 * no eval (Vega runs with its expression interpreter), no framing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Largest request body the API reads (a token, a cancel reason). */
const MAX_BODY_BYTES = 16 * 1024;
/** Experiments read from the store per query while a page is filled with those the caller may see. */
const SCAN_BATCH = 200;
/** Stored events read per query by a live stream. */
const EVENT_BATCH = 1000;
/** Comment line sent on an idle live stream so that proxies keep it open. */
const KEEPALIVE_MS = 15_000;

/** What {@link startDashboardServer} needs. */
export interface DashboardServerOptions {
  readonly ctx: CoordinatorContext;
  /** `host:port`; port 0 picks a free one. */
  readonly listen: string;
  readonly auth: DashboardAuth;
  /** Serve HTTPS with this certificate and key (the coordinator's own). @default plain HTTP */
  readonly tls?: { readonly cert: Uint8Array; readonly key: Uint8Array } | undefined;
  /** The built page. @default @supwalsh/dashboard's DASHBOARD_ASSETS_DIR */
  readonly assetsDir?: string;
  /**
   * A live stream sends at most one message per this many milliseconds (step progress merged in between), so a
   * run's progress reaches the page a few times a second however often its workers report. @default 250
   */
  readonly liveIntervalMs?: number;
}

/** A running dashboard server. */
export interface DashboardServerHandle {
  readonly port: number;
  /** The page's address, e.g. `http://127.0.0.1:8080/`. */
  readonly url: string;
  /** Ends live streams, stops accepting connections and closes the rest. Idempotent. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  if (error instanceof InvalidArgumentError) return 400;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof WrongStateError) return 409;
  if (error instanceof LimitExceededError || error instanceof QueueFullError) return 429;
  if (error instanceof DrainingError) return 503;
  return 500;
}

/**
 * The coordinator's dashboard over HTTP(S): the built page as static files and the JSON API it reads (see
 * services/coordinator/README.md, Dashboard), with the same principals, roles and owners as the gRPC API. The live
 * stream of an experiment is server-sent events read from the same stored event stream as WatchExperiment: the
 * event id is the stored sequence, so `Last-Event-ID` resumes with no gap and no duplicate.
 */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServerHandle> {
  const { ctx, auth } = options;
  const { store, logger } = ctx;
  const secure = options.tls !== undefined;
  const assetsDir = path.resolve(options.assetsDir ?? DASHBOARD_ASSETS_DIR);
  const liveIntervalMs = options.liveIntervalMs ?? 250;
  const sessions = new SessionStore(ctx.clock);
  const streams = new Set<() => void>();
  const streamsPerExperiment = new Map<string, number>();
  let indexHtml: Buffer | undefined;
  try {
    indexHtml = await readFile(path.join(assetsDir, 'index.html'));
  } catch {
    logger.warn('the dashboard page is not built: its API is served, the page is not', { assetsDir });
  }

  const principalOf = (req: IncomingMessage): Principal | undefined => {
    if (!auth.authenticate) return LOCAL_ADMIN;
    const id = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    return id ? sessions.get(id) : undefined;
  };
  const requirePrincipal = (req: IncomingMessage): Principal => {
    const principal = principalOf(req);
    if (!principal) throw new HttpError(401, 'sign in with a token first (POST /api/session)');
    return principal;
  };
  /** The experiment when `principal` may see it; others' experiments are "not found", as over gRPC. */
  const visibleExperiment = (principal: Principal, id: string): ExperimentRecord => {
    const experiment = store.getExperiment(id);
    if (!experiment || !auth.canAccessExperiment(principal, experiment.owner))
      throw new NotFoundError('experiment', id);
    return experiment;
  };

  const routes: {
    method: string;
    pattern: RegExp;
    handler: (req: IncomingMessage, res: ServerResponse, match: RegExpExecArray, url: URL) => Promise<void> | void;
  }[] = [
    { method: 'GET', pattern: /^\/api\/session$/, handler: (req, res) => getSession(req, res) },
    { method: 'POST', pattern: /^\/api\/session$/, handler: (req, res) => login(req, res) },
    { method: 'DELETE', pattern: /^\/api\/session$/, handler: (req, res) => logout(req, res) },
    { method: 'GET', pattern: /^\/api\/experiments$/, handler: (req, res, _m, url) => listExperiments(req, res, url) },
    {
      method: 'GET',
      pattern: /^\/api\/experiments\/([A-Za-z0-9._-]+)$/,
      handler: (req, res, m) => {
        const principal = requirePrincipal(req);
        const experiment = visibleExperiment(principal, m[1]!);
        json(res, 200, experimentDetail(experiment, store, true));
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/experiments\/([A-Za-z0-9._-]+)\/events$/,
      handler: (req, res, m) => liveStream(req, res, m[1]!),
    },
    {
      method: 'POST',
      pattern: /^\/api\/experiments\/([A-Za-z0-9._-]+)\/cancel$/,
      handler: (req, res, m) => cancel(req, res, m[1]!),
    },
    {
      method: 'GET',
      pattern: /^\/api\/artifacts\/([A-Za-z0-9._-]+)$/,
      handler: (req, res, m) => download(req, res, m[1]!),
    },
    {
      method: 'GET',
      pattern: /^\/api\/workers$/,
      handler: (req, res) => {
        const principal = requirePrincipal(req);
        const now = ctx.clock();
        const showAddress = auth.canSeeWorkerAddresses(principal);
        const body: WorkerList = {
          workers: store.listWorkers().map((w) => workerView(w, now, showAddress)),
          time: now,
        };
        json(res, 200, body);
      },
    },
  ];

  function getSession(req: IncomingMessage, res: ServerResponse): void {
    const body: SessionInfo = { principal: requirePrincipal(req), tokenRequired: auth.authenticate !== undefined };
    json(res, 200, body);
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonBody(req);
    const token = typeof body['token'] === 'string' ? body['token'].trim() : '';
    if (!token)
      throw new HttpError(400, 'token is required: the body must be {"token": "<a token of the token file>"}');
    if (!auth.authenticate) {
      json(res, 200, { principal: LOCAL_ADMIN, tokenRequired: false } satisfies SessionInfo);
      return;
    }
    const principal = auth.authenticate(token);
    if (!principal) {
      logger.warn('dashboard sign-in refused: unknown token', { remote: req.socket.remoteAddress });
      throw new HttpError(401, 'the token is not valid');
    }
    if (principal.role === 'worker') {
      logger.warn('dashboard sign-in refused: a worker token', { principal: principal.name });
      throw new HttpError(403, 'a worker token cannot use the dashboard: sign in with a client or admin token');
    }
    const id = sessions.create(principal);
    res.setHeader('Set-Cookie', sessionCookie(id, { secure, maxAgeS: Math.floor(SESSION_TTL_MS / 1000) }));
    logger.info('dashboard sign-in', { principal: principal.name, role: principal.role });
    json(res, 200, { principal, tokenRequired: true } satisfies SessionInfo);
  }

  function logout(req: IncomingMessage, res: ServerResponse): void {
    const id = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (id) sessions.delete(id);
    res.setHeader('Set-Cookie', sessionCookie('', { secure, maxAgeS: 0 }));
    res.writeHead(204).end();
  }

  function listExperiments(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const principal = requirePrincipal(req);
    const states = url.searchParams.getAll('state').map((s) => {
      const name = EXPERIMENT_STATE_NAMES.find((n) => n === s.toUpperCase());
      if (!name)
        throw new InvalidArgumentError(
          'state',
          `state must be one of ${EXPERIMENT_STATE_NAMES.join(', ')}, got ${JSON.stringify(s)}`
        );
      return name;
    });
    const sizeText = url.searchParams.get('pageSize') ?? '50';
    const pageSize = Number(sizeText);
    if (!/^\d+$/.test(sizeText) || pageSize < 1 || pageSize > 500) {
      throw new InvalidArgumentError(
        'pageSize',
        `pageSize must be an integer from 1 to 500, got ${JSON.stringify(sizeText)}`
      );
    }
    let before = decodePageToken(url.searchParams.get('pageToken') ?? '', states);
    const visible: ExperimentRecord[] = [];
    // Keyset scan: the owner rule is a function, so the page is filled from batches in time order.
    // The first query reads just one page (what an admin needs); later ones read more at a time.
    let limit = pageSize + 1;
    scan: for (;;) {
      const rows = store.listExperiments({ states, before, limit });
      for (const row of rows) {
        before = { createTime: row.createTime, id: row.id };
        if (!auth.canAccessExperiment(principal, row.owner)) continue;
        visible.push(row);
        if (visible.length > pageSize) break scan;
      }
      if (rows.length < limit) break;
      limit = Math.max(limit, SCAN_BATCH);
    }
    const page = visible.slice(0, pageSize);
    const last = page.at(-1);
    const body: ExperimentPage = {
      experiments: page.map((e) => experimentRow(e, store)),
      nextPageToken: visible.length > pageSize && last ? encodePageToken(last, states) : '',
    };
    json(res, 200, body);
  }

  async function cancel(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const principal = requirePrincipal(req);
    const body = await readJsonBody(req);
    visibleExperiment(principal, id);
    const reason = typeof body['reason'] === 'string' ? body['reason'] : '';
    cancelExperiment(ctx, { experimentId: id, reason: reason || `cancelled by ${principal.name} on the dashboard` });
    logger.info('experiment cancelled on the dashboard', { experimentId: id, principal: principal.name });
    json(res, 200, experimentDetail(store.requireExperiment(id), store, true));
  }

  async function download(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const principal = requirePrincipal(req);
    const artifact = store.getArtifact(id);
    if (!artifact || artifact.kind === ArtifactKind.ARTIFACT_KIND_CHECKPOINT) throw new NotFoundError('artifact', id);
    visibleExperiment(principal, artifact.experimentId);
    const file = artifactAbsolutePath(ctx.artifactsDir, artifact.path);
    try {
      await stat(file);
    } catch (error: unknown) {
      throw new NotFoundError('artifact', id, `its file is gone (${toError(error).message})`);
    }
    res.writeHead(200, {
      'Content-Type': artifact.mediaType || 'application/octet-stream',
      'Content-Length': String(artifact.sizeBytes),
      // The name is the artifact's validated name; quoted, and in RFC 5987 form for anything beyond ASCII.
      'Content-Disposition': `attachment; filename="${artifact.name.replace(/[^\x20-\x7e]|"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(artifact.name)}`,
      'Cache-Control': 'private, no-store',
    });
    await new Promise<void>((resolve) => {
      const stream = createReadStream(file, { end: Math.max(0, artifact.sizeBytes - 1) });
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      stream.on('close', resolve);
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    });
  }

  /** Server-sent events of one experiment, from `Last-Event-ID` (or the start) until it ends. */
  function liveStream(req: IncomingMessage, res: ServerResponse, id: string): void {
    const principal = requirePrincipal(req);
    const experiment = visibleExperiment(principal, id);
    const resumeText = String(req.headers['last-event-id'] ?? '0').trim() || '0';
    const resume = Number(resumeText);
    if (!/^\d+$/.test(resumeText) || resume > experiment.lastSequence) {
      throw new InvalidArgumentError(
        'Last-Event-ID',
        `Last-Event-ID must be an event id of this experiment's stream (0 to ${experiment.lastSequence}), got ${JSON.stringify(resumeText)}`
      );
    }
    const open = streamsPerExperiment.get(id) ?? 0;
    const max = ctx.settings.maxWatchersPerExperiment;
    if (open >= max) {
      throw new LimitExceededError(
        '--max-watchers-per-experiment',
        max,
        `experiment ${id} already has ${open} open live streams on the dashboard; close one or retry later`
      );
    }
    streamsPerExperiment.set(id, open + 1);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    let cursor = resume;
    let gone = false;
    let dirty = true;
    let wake: (() => void) | undefined;
    const poke = () => {
      dirty = true;
      wake?.();
    };
    const stop = () => {
      gone = true;
      poke();
    };
    const unsubscribe = store.bus.subscribe(id, poke);
    const unsubscribeClose = store.bus.onClose(stop);
    streams.add(stop);
    res.on('close', stop);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const loop = async () => {
      while (!gone) {
        if (!dirty) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        dirty = false;
        const events: LiveEvent[] = [];
        let last = cursor;
        // Everything stored so far, in batches, becomes one message: a catch-up is as compact as a live update.
        for (;;) {
          const batch = store.listEvents(id, last, EVENT_BATCH);
          for (const event of batch) {
            last = event.sequence;
            const live = toLiveEvent(event);
            if (live) events.push(live);
          }
          if (batch.length < EVENT_BATCH) break;
        }
        const current = store.getExperiment(id);
        const end = !current || (isTerminalExperimentState(current.state) && last >= current.lastSequence);
        if (last > cursor || end) {
          cursor = last;
          const ok = res.write(formatSse({ sequence: cursor, events: mergeProgress(events), ...(end ? { end } : {}) }));
          if (!ok) await new Promise((resolve) => res.once('drain', resolve));
        }
        if (end) break;
        await sleep(liveIntervalMs);
      }
    };
    loop()
      .catch((error: unknown) =>
        logger.error('dashboard live stream failed', { experimentId: id, error: toError(error).message })
      )
      .finally(() => {
        clearInterval(keepalive);
        unsubscribe();
        unsubscribeClose();
        streams.delete(stop);
        const left = (streamsPerExperiment.get(id) ?? 1) - 1;
        if (left > 0) streamsPerExperiment.set(id, left);
        else streamsPerExperiment.delete(id);
        res.end();
      });
  }

  async function serveStatic(res: ServerResponse, pathname: string, head: boolean): Promise<void> {
    if (pathname.startsWith('/assets/')) {
      const file = path.resolve(assetsDir, `.${pathname}`);
      if (!file.startsWith(path.join(assetsDir, 'assets') + path.sep)) throw new HttpError(404, 'not found');
      let size: number;
      try {
        const info = await stat(file);
        if (!info.isFile()) throw new Error('not a file');
        size = info.size;
      } catch {
        throw new HttpError(404, `no asset ${pathname}`);
      }
      res.writeHead(200, {
        'Content-Type': contentType(file),
        'Content-Length': String(size),
        // Vite puts a content hash in every asset's name.
        'Cache-Control': 'public, max-age=31536000, immutable',
      });
      if (head) return void res.end();
      createReadStream(file).pipe(res);
      return;
    }
    if (!indexHtml) throw new HttpError(503, 'the dashboard page is not built: run `npx nx run dashboard:build`');
    // Every other path is a page of the single-page app (/, /experiments/<id>, /workers).
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(indexHtml.byteLength),
      'Cache-Control': 'no-cache',
    });
    res.end(head ? undefined : indexHtml);
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    if (secure) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const method = req.method ?? 'GET';
    try {
      if (!url.pathname.startsWith('/api/')) {
        if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} is not allowed here`);
        await serveStatic(res, url.pathname, method === 'HEAD');
        return;
      }
      res.setHeader('Cache-Control', 'no-store');
      if (method !== 'GET' && method !== 'HEAD') checkSameOrigin(req, secure);
      const candidates = routes.filter((r) => r.pattern.test(url.pathname));
      const route = candidates.find((r) => r.method === method || (method === 'HEAD' && r.method === 'GET'));
      if (!route) {
        if (candidates.length > 0) throw new HttpError(405, `${method} is not allowed on ${url.pathname}`);
        throw new HttpError(404, `no API ${url.pathname}`);
      }
      await route.handler(req, res, route.pattern.exec(url.pathname)!, url);
    } catch (error: unknown) {
      const status = statusOf(error);
      if (status === 500) logger.error('dashboard request failed', { path: url.pathname, error: toError(error).stack });
      const message =
        error instanceof HttpError || error instanceof CoordinatorError
          ? error.message
          : 'internal error (see the coordinator log)';
      if (res.headersSent) res.destroy();
      else json(res, status, { error: message });
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const server = options.tls
    ? https.createServer({ cert: Buffer.from(options.tls.cert), key: Buffer.from(options.tls.key) }, listener)
    : http.createServer(listener);
  const host = options.listen.slice(0, options.listen.lastIndexOf(':'));
  const requestedPort = Number(options.listen.slice(options.listen.lastIndexOf(':') + 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(requestedPort, host.replace(/^\[|\]$/g, ''), () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  const url = `${secure ? 'https' : 'http'}://${shownHost}:${port}/`;
  logger.info('dashboard listening', { url, tls: secure, tokens: auth.authenticate !== undefined });

  let closing: Promise<void> | undefined;
  return {
    port,
    url,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const stop of [...streams]) stop();
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      })),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Requests that change something must come from the page itself: a JSON body (a cross-site form cannot send one
 * without a CORS preflight, which is never granted) and, when the browser says, the same origin. The session
 * cookie is SameSite=Strict too.
 */
function checkSameOrigin(req: IncomingMessage, secure: boolean): void {
  const type = String(req.headers['content-type'] ?? '');
  if (req.method !== 'DELETE' && !/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'the body must be JSON (Content-Type: application/json)');
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `${secure ? 'https' : 'http'}://${req.headers.host}`) {
    throw new HttpError(403, 'cross-origin requests are refused');
  }
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body must be at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'the body must be a JSON object');
}

function encodePageToken(last: ExperimentRecord, states: readonly ExperimentStateName[]): string {
  return Buffer.from(JSON.stringify({ t: last.createTime, i: last.id, s: [...states].sort() })).toString('base64url');
}

function decodePageToken(
  token: string,
  states: readonly ExperimentStateName[]
): { createTime: number; id: string } | undefined {
  if (!token) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      t?: unknown;
      i?: unknown;
      s?: unknown;
    };
    if (
      typeof parsed.t === 'number' &&
      typeof parsed.i === 'string' &&
      JSON.stringify(parsed.s) === JSON.stringify([...states].sort())
    ) {
      return { createTime: parsed.t, id: parsed.i };
    }
  } catch {
    // fall through
  }
  throw new InvalidArgumentError(
    'pageToken',
    'pageToken must be the nextPageToken of a previous page with the same state filter'
  );
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

function contentType(file: string): string {
  return CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';
}
