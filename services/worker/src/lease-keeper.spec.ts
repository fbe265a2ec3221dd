import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCoordinator, type FakeCoordinator } from './e2e/fake-coordinator.js';

const FIXTURE = path.resolve(import.meta.dirname, '../dist/e2e/blocked-worker.js');

describe('the lease keeper', () => {
  let coordinator: FakeCoordinator;
  beforeAll(async () => {
    coordinator = await startFakeCoordinator({ heartbeatIntervalMs: 200 });
  });
  afterAll(async () => {
    await coordinator.close();
  });

  it('keeps heartbeating while the main thread is blocked for twenty intervals', { timeout: 30_000 }, async () => {
    // The child blocks its own main thread; the fake coordinator here stays responsive.
    // 4 s blocked at a 200 ms interval: about 20 beats when the keeper thread gets a core; at least 6 when the test
    // runs beside other CPU-heavy test processes on a 2-core machine (it starves the child's threads, not the keeper).
    const child = spawn(process.execPath, [FIXTURE, coordinator.address, '4000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const beats = coordinator.heartbeats.filter((h) => h.workerId === 'blocked');
    // The main thread sent none of these: it was blocked the whole time.
    expect(beats.length).toBeGreaterThanOrEqual(6);
    expect(new Set(beats.map((b) => b.leaseId)).size).toBe(1);
    expect(out.split('\n').filter((l) => l.includes('"type":"sent"')).length).toBe(beats.length);
  });
});
