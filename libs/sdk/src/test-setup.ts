/** Helpers shared by this project's specs (not exported from the package). */
import type { ServerCredentials } from '@grpc/grpc-js';
import { afterEach } from 'vitest';
import type { SupWalshClientOptions } from './client-options.js';
import { type FakeCoordinator, type FakeCoordinatorServer, startFakeCoordinator } from './fake-coordinator.js';
import { SupWalshClient } from './supwalsh-client.js';

/** Quick, exact retries for specs: 5, 10, 20, … ms. */
export const FAST_RETRY = { initialBackoffMs: 5, maxBackoffMs: 100, multiplier: 2, jitter: 0 } as const;

const servers: FakeCoordinatorServer[] = [];
const clients: SupWalshClient[] = [];

/** Registers the teardown: every client is closed, then every fake server shut down (waiting for connections). */
export function closeAfterEach(): void {
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(servers.splice(0).map((server) => server.shutdown()));
  });
}

/** A fake coordinator and a client of it (fast retries unless `options` says otherwise). */
export async function connect(
  options: SupWalshClientOptions = {},
  serverCredentials?: ServerCredentials
): Promise<{ fake: FakeCoordinator; client: SupWalshClient; address: string; server: FakeCoordinatorServer }> {
  const server = await startFakeCoordinator(undefined, serverCredentials);
  servers.push(server);
  const client = new SupWalshClient({
    address: server.address,
    ...options,
    retry: { ...FAST_RETRY, ...options.retry },
  });
  clients.push(client);
  return { fake: server.fake, client, address: server.address, server };
}

/** Resolves once `condition` holds (polling every 5 ms), or rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Collects an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}
