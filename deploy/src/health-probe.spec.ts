import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './kustomize.js';

const PROBE = path.join(REPO_ROOT, 'deploy/docker/health-probe.mjs');
const run = promisify(execFile);

/** Runs the probe as the images' HEALTHCHECK does (node, no shell); resolves to its exit code. */
async function probe(argv: string[], env: Record<string, string> = {}): Promise<number> {
  try {
    await run(process.execPath, [PROBE, ...argv], { env: { ...process.env, ...env }, timeout: 20_000 });
    return 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw error;
  }
}

describe('deploy/docker/health-probe.mjs', () => {
  const server = new grpc.Server();
  const health = new HealthImplementation({ '': 'SERVING', 'supwalsh.v1.Coordinator': 'SERVING' });
  let address = '';

  beforeAll(async () => {
    health.addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound)
      )
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });

  it('exits 0 when the server is SERVING', async () => {
    expect(await probe([address])).toBe(0);
    expect(await probe([address, 'supwalsh.v1.Coordinator'])).toBe(0);
    expect(await probe([], { SUPWALSH_HEALTH_PROBE_ADDRESS: address })).toBe(0);
  });

  it('exits 1 when the server is NOT_SERVING or does not know the service', async () => {
    health.setStatus('', 'NOT_SERVING');
    try {
      expect(await probe([address])).toBe(1);
    } finally {
      health.setStatus('', 'SERVING');
    }
    expect(await probe([address, 'no.such.Service'])).toBe(1);
  });

  it('exits 1 when nothing answers', async () => {
    const closed = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      closed.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound)
      )
    );
    closed.forceShutdown();
    expect(await probe([`127.0.0.1:${port}`], { SUPWALSH_HEALTH_PROBE_TIMEOUT_MS: '2000' })).toBe(1);
  });
});
