import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { LIVENESS_SERVICE, startHealthThread, type HealthThread } from './health-thread.js';

const SERVICES = ['', 'supwalsh.v1.Worker'];

/** One Check answer the prober saw: when it was asked (ms since the epoch), the status, how long the answer took. */
interface Answer {
  readonly at: number;
  readonly status: string;
  readonly ms: number;
}

// A prober in another process: asks Check every 100 ms for `durationMs` and prints one JSON line per answer. The
// test's own thread is the one that gets blocked, so the prober cannot live in it.
const PROBER = `
import grpc from '@grpc/grpc-js';
import health from 'grpc-health-check';
const [address, durationMs, service] = process.argv.slice(1);
const Client = grpc.makeClientConstructor(health.service, 'grpc.health.v1.Health');
const client = new Client(address, grpc.credentials.createInsecure());
const end = Date.now() + Number(durationMs);
const ask = () => {
  const at = Date.now();
  client.Check({ service }, { deadline: at + 2000 }, (error, response) => {
    console.log(JSON.stringify({ at, status: error ? 'ERROR ' + error.code : response.status, ms: Date.now() - at }));
    if (Date.now() < end) setTimeout(ask, 100);
    else client.close();
  });
};
ask();
`;

function probe(
  address: string,
  durationMs: number,
  service = 'supwalsh.v1.Worker'
): { first: Promise<void>; answers: Promise<Answer[]> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', PROBER, address, String(durationMs), service], {
    cwd: import.meta.dirname,
  });
  let out = '';
  let err = '';
  let resolveFirst: () => void;
  const first = new Promise<void>((resolve) => (resolveFirst = resolve));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('\n')) resolveFirst();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const answers = new Promise<Answer[]>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0
        ? resolve(
            out
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l) as Answer)
          )
        : reject(new Error(`the prober exited with ${code}: ${err}`))
    )
  );
  return { first, answers };
}

/** Keeps this thread (the test's main thread) busy without yielding, as a long synchronous training step does. */
function blockFor(ms: number): { start: number; end: number } {
  const start = Date.now();
  while (Date.now() - start < ms) {
    // spin
  }
  return { start, end: Date.now() };
}

let thread: HealthThread | undefined;
afterEach(async () => {
  await thread?.stop();
  thread = undefined;
});

describe('the health thread', () => {
  it(
    'answers SERVING at once while the main thread is blocked, until the block outlasts stallMs',
    { timeout: 60_000 },
    async () => {
      thread = await startHealthThread({ listen: '127.0.0.1:0', services: SERVICES, stallMs: 2500, beatMs: 100 });
      thread.setStatus('SERVING');
      const prober = probe(thread.address, 9000);
      const liveness = probe(thread.address, 9000, LIVENESS_SERVICE);
      await Promise.all([prober.first, liveness.first]);
      await new Promise((resolve) => setTimeout(resolve, 300)); // a fresh heartbeat before the block
      const block = blockFor(5000);
      const answers = await prober.answers;

      const during = answers.filter((a) => a.at >= block.start && a.at + a.ms <= block.end);
      expect(during.length, JSON.stringify(answers)).toBeGreaterThanOrEqual(10);
      // Answered quickly although the main thread never ran: the answers come from the thread.
      for (const a of during) expect(a.ms, JSON.stringify(a)).toBeLessThan(1000);
      const early = during.filter((a) => a.at + a.ms < block.start + 1500);
      const late = during.filter((a) => a.at > block.start + 3500);
      expect(early.length).toBeGreaterThan(0);
      expect(late.length).toBeGreaterThan(0);
      expect(new Set(early.map((a) => a.status))).toEqual(new Set(['SERVING']));
      expect(new Set(late.map((a) => a.status))).toEqual(new Set(['NOT_SERVING']));
      // Once the main thread runs again its heartbeat brings SERVING back.
      const after = answers.filter((a) => a.at > block.end + 1000);
      expect(after.length).toBeGreaterThan(0);
      expect(new Set(after.map((a) => a.status))).toEqual(new Set(['SERVING']));
      // The liveness service says the same of a stalled main thread.
      const live = await liveness.answers;
      const liveLate = live.filter((a) => a.at > block.start + 3500 && a.at + a.ms <= block.end);
      expect(liveLate.length).toBeGreaterThan(0);
      expect(new Set(liveLate.map((a) => a.status))).toEqual(new Set(['NOT_SERVING']));
      const liveEarly = live.filter((a) => a.at >= block.start && a.at + a.ms < block.start + 1500);
      expect(new Set(liveEarly.map((a) => a.status))).toEqual(new Set(['SERVING']));
    }
  );

  it(
    'reports what the main thread sets (NOT_SERVING while draining) and stops listening when stopped',
    { timeout: 30_000 },
    async () => {
      thread = await startHealthThread({ listen: '127.0.0.1:0', services: SERVICES, stallMs: 60_000 });
      const starting = probe(thread.address, 0);
      expect((await starting.answers)[0]!.status).toBe('NOT_SERVING');
      thread.setStatus('SERVING');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await probe(thread.address, 0).answers)[0]!.status).toBe('SERVING');
      thread.setStatus('NOT_SERVING');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await probe(thread.address, 0).answers)[0]!.status).toBe('NOT_SERVING');
      // Draining is not dead: the liveness service stays SERVING.
      expect((await probe(thread.address, 0, LIVENESS_SERVICE).answers)[0]!.status).toBe('SERVING');
      const address = thread.address;
      await thread.stop();
      expect((await probe(address, 0).answers)[0]!.status).toMatch(/^ERROR 14$/); // UNAVAILABLE
    }
  );

  it('rejects with the reason when it cannot listen', async () => {
    await expect(startHealthThread({ listen: '256.0.0.1:1', services: SERVICES })).rejects.toThrow(
      /cannot serve health on 256\.0\.0\.1:1/
    );
  });
});
