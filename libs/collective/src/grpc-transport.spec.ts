import { mkdtempSync, readFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { Client, credentials, Metadata, Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { CollectiveService, type SendChunksRequest, type SendChunksResponse } from '@supwalsh/proto';
import { createTestPki } from '@supwalsh/security/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { CollectiveArgumentError, CollectiveProtocolError, CollectiveTimeoutError, PeerFailedError } from './errors.js';
import {
  COLLECTIVE_METADATA,
  createCollectiveServer,
  createRing,
  type CollectiveServer,
  type RingOptions,
} from './grpc-transport.js';
import type { Collective } from './ring-collective.js';
import { raiseServerFlowControlWindow } from './server-flow-control.js';
import { firstBitDifference, float32SumBound, float64AbsSum, float64Sum, randomFloats } from './test-support.js';

const openRings: Collective[] = [];
const openServers: CollectiveServer[] = [];
afterEach(async () => {
  // All ranks close together (a lone close waits for its left neighbour's), then the servers go.
  await Promise.all(openRings.splice(0).map((ring) => ring.close()));
  await Promise.all(openServers.splice(0).map((server) => server.shutdown()));
});

async function servers(n: number): Promise<CollectiveServer[]> {
  const list = await Promise.all(Array.from({ length: n }, () => createCollectiveServer()));
  openServers.push(...list);
  return list;
}

function join(list: CollectiveServer[], rank: number, options: Partial<RingOptions> = {}): Promise<Collective> {
  return createRing({
    rank,
    worldSize: list.length,
    peers: list.map((s) => s.address),
    runId: 'spec-run',
    server: list[rank],
    ...options,
  }).then((ring) => {
    openRings.push(ring);
    return ring;
  });
}

describe('createRing over gRPC (in one process)', () => {
  it('forms a ring even when a rank joins late, and all-reduces through it', async () => {
    const list = await servers(3);
    const early = [join(list, 0), join(list, 1)];
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rings = await Promise.all([...early, join(list, 2)]);
    const inputs = rings.map((_, r) => randomFloats(10_001, r));
    const results = await Promise.all(rings.map((ring, r) => ring.allReduce(Float32Array.from(inputs[r]!))));
    const expected = Float32Array.from(inputs[0]!, (x, i) =>
      Math.fround(Math.fround(x + inputs[1]![i]!) + inputs[2]![i]!)
    );
    // segment 0 is accumulated 0, 1, 2 (first third of the buffer)
    expect(Array.from(results[0]!.subarray(0, 100))).toEqual(Array.from(expected.subarray(0, 100)));
    expect(Array.from(results[2]!)).toEqual(Array.from(results[0]!));
  });

  it('fails with CollectiveTimeoutError naming the neighbour that never joins', async () => {
    const list = await servers(2);
    const start = performance.now();
    await expect(join(list, 0, { connectTimeoutMs: 400 })).rejects.toMatchObject({
      name: 'CollectiveTimeoutError',
      operation: 'connect',
      peerRank: 1,
    });
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it('fails every rank with a typed error within the timeout when one rank stalls', async () => {
    const list = await servers(3);
    const rings = await Promise.all([0, 1, 2].map((r) => join(list, r, { timeoutMs: 300 })));
    const start = performance.now();
    // rank 2 never calls: ranks 0 and 1 stall
    const outcomes = await Promise.allSettled([
      rings[0]!.allReduce(new Float32Array(64)),
      rings[1]!.allReduce(new Float32Array(64)),
    ]);
    expect(performance.now() - start).toBeLessThan(5_000);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as Error;
      expect(reason instanceof CollectiveTimeoutError || reason instanceof PeerFailedError, reason.message).toBe(true);
    }
    // the idle rank hears of it too and refuses the next call
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(rings[2]!.state).toBe('FAILED');
    await expect(rings[2]!.barrier()).rejects.toBeInstanceOf(PeerFailedError);
  });

  it('closes every rank gracefully and quickly when all close together', async () => {
    const list = await servers(3);
    const rings = await Promise.all([0, 1, 2].map((r) => join(list, r)));
    await Promise.all(rings.map((ring) => ring.allReduce(new Float32Array(1000))));
    const start = performance.now();
    await Promise.all(rings.map((ring) => ring.close()));
    expect(performance.now() - start).toBeLessThan(4_000);
    expect(rings.map((ring) => ring.state)).toEqual(['CLOSED', 'CLOSED', 'CLOSED']);
  });

  it('runs the README usage example on two ranks', async () => {
    const worker = async (rank: number, peersReady: Promise<string[]>, server: CollectiveServer) => {
      const peers = await peersReady;
      const ring = await createRing({ server, rank, worldSize: 2, peers, runId: 'run-42', generation: 1 });
      const gradients = new Float32Array([rank + 1, 10]);
      await ring.allReduce(gradients, { op: 'sum', step: 1 });
      const buckets = [new Float32Array(5).fill(rank), new Float32Array(3).fill(1)];
      await Promise.all(buckets.map((b) => ring.allReduce(b)));
      const weights = rank === 0 ? new Float32Array([3, 1, 4]) : new Float32Array(3);
      await ring.broadcast(weights, 0);
      await ring.barrier();
      await ring.close();
      return { gradients, buckets, weights };
    };
    const list = await servers(2);
    const peers = Promise.resolve(list.map((s) => s.address)); // the coordinator's rendezvous
    const [a, b] = await Promise.all([worker(0, peers, list[0]!), worker(1, peers, list[1]!)]);
    for (const result of [a, b]) {
      expect(Array.from(result.gradients)).toEqual([3, 20]);
      expect(Array.from(result.buckets[0]!)).toEqual([1, 1, 1, 1, 1]);
      expect(Array.from(result.buckets[1]!)).toEqual([2, 2, 2]);
      expect(Array.from(result.weights)).toEqual([3, 1, 4]);
    }
  });

  it('needs no server for world size 1', async () => {
    const ring = await createRing({ rank: 0, worldSize: 1, peers: ['unused:0'], runId: 'solo' });
    const buffer = new Float32Array([1, 2, 3]);
    await expect(ring.allReduce(buffer, { op: 'mean' })).resolves.toEqual(new Float32Array([1, 2, 3]));
    await ring.barrier();
    await ring.close();
  });

  it('rejects bad arguments with a message naming them', async () => {
    const base = { worldSize: 2, peers: ['a:1', 'b:2'], runId: 'r' };
    await expect(createRing({ ...base, rank: 2 })).rejects.toThrow(/rank must be an integer in 0 … 1; got 2/);
    await expect(createRing({ ...base, rank: 0, peers: ['a:1'] })).rejects.toThrow(/peers must list 2 addresses/);
    await expect(createRing({ ...base, rank: 0, generation: 0 })).rejects.toThrow(/generation must be an integer ≥ 1/);
    await expect(createRing({ ...base, rank: 0 })).rejects.toBeInstanceOf(CollectiveArgumentError); // no server
  });
});

describe('the Collective server', () => {
  function openStream(address: string, metadata: Record<string, string>): Promise<ServiceError | null> {
    const client = new Client(address, credentials.createInsecure());
    const md = new Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    return new Promise((resolve) => {
      const call = client.makeClientStreamRequest<SendChunksRequest, SendChunksResponse>(
        CollectiveService.sendChunks.path,
        CollectiveService.sendChunks.requestSerialize,
        CollectiveService.sendChunks.responseDeserialize,
        md,
        {},
        (error) => {
          client.close();
          resolve(error ?? null);
        }
      );
      call.on('error', () => undefined);
    });
  }

  it('refuses a stream without routing metadata (INVALID_ARGUMENT) or of an older generation (FAILED_PRECONDITION)', async () => {
    const list = await servers(2);
    await Promise.all([join(list, 0, { generation: 2 }), join(list, 1, { generation: 2 })]);
    const noMetadata = await openStream(list[0]!.address, {});
    expect(noMetadata).toMatchObject({ code: status.INVALID_ARGUMENT });
    const stale = await openStream(list[0]!.address, {
      [COLLECTIVE_METADATA.runId]: 'spec-run',
      [COLLECTIVE_METADATA.generation]: '1',
      [COLLECTIVE_METADATA.sourceRank]: '1',
    });
    expect(stale).toMatchObject({ code: status.FAILED_PRECONDITION });
    expect(stale?.details).toMatch(/generation 1 of run spec-run is not the current one \(2\)/);
  });
});

describe('raiseServerFlowControlWindow', () => {
  it('advertises the window to every connecting client, per stream and per connection', async () => {
    const window = 8 << 20;
    const server = new Server();
    expect(raiseServerFlowControlWindow(server, window)).toBe(true);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)))
    );
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      await new Promise<void>((resolve) => {
        const check = () => {
          if (session.remoteSettings.initialWindowSize === window && (session.state.remoteWindowSize ?? 0) >= window) {
            resolve();
          } else setTimeout(check, 10);
        };
        check();
      });
    } finally {
      session.destroy();
      server.forceShutdown();
    }
  });
});

describe("createRing with dataPath 'http2' (the sending side writes HTTP/2 itself)", () => {
  const http2Path = { dataPath: 'http2' } as const;

  it('all-reduces sizes 0, 1, n−1, n+1 and multi-chunk: float64 sum within float32 rounding, identical bits', async () => {
    const list = await servers(3);
    const rings = await Promise.all([0, 1, 2].map((r) => join(list, r, { ...http2Path, chunkBytes: 4096 })));
    for (const [i, size] of [0, 1, 2, 4, 3 * 1024 + 7, 100_003].entries()) {
      const inputs = rings.map((_, r) => randomFloats(size, 97 * i + r));
      const results = await Promise.all(rings.map((ring, r) => ring.allReduce(Float32Array.from(inputs[r]!))));
      const exact = float64Sum(inputs);
      const scale = float64AbsSum(inputs);
      for (const result of results) {
        expect(result.length).toBe(size);
        expect(firstBitDifference(result, results[0]!)).toBe(-1);
      }
      for (let k = 0; k < size; k++) {
        expect(Math.abs(results[0]![k]! - exact[k]!)).toBeLessThanOrEqual(float32SumBound(3, scale[k]!));
      }
    }
  });

  it('interoperates with grpc-js senders in one ring (same wire protocol)', async () => {
    const list = await servers(3);
    const rings = await Promise.all(
      [0, 1, 2].map((r) => join(list, r, { dataPath: r === 1 ? 'grpc-js' : 'http2', chunkBytes: 64 << 10 }))
    );
    const inputs = rings.map((_, r) => randomFloats(300_001, r + 11));
    const results = await Promise.all(rings.map((ring, r) => ring.allReduce(Float32Array.from(inputs[r]!))));
    for (const result of results) expect(firstBitDifference(result, results[0]!)).toBe(-1);
    const weights = new Float32Array([1, 2, 3]);
    const received = await Promise.all(
      rings.map((ring, r) => ring.broadcast(r === 2 ? weights : new Float32Array(3), 2))
    );
    for (const result of received) expect(Array.from(result)).toEqual([1, 2, 3]);
    await Promise.all(rings.map((ring) => ring.barrier()));
  });

  it('rejects mismatched messages with CollectiveProtocolError on the receiver and fails every rank', async () => {
    const list = await servers(2);
    const rings = await Promise.all([0, 1].map((r) => join(list, r, http2Path)));
    const outcomes = await Promise.allSettled(
      rings.map((ring, r) => ring.allReduce(new Float32Array(1000), { step: r + 1 })) // ranks disagree on the step
    );
    const reasons = outcomes.map((o) => (o as PromiseRejectedResult).reason as Error);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(reasons.some((e) => e instanceof CollectiveProtocolError)).toBe(true);
    for (const e of reasons) expect(e instanceof CollectiveProtocolError || e instanceof PeerFailedError).toBe(true);
    expect(rings.map((ring) => ring.state)).toEqual(['FAILED', 'FAILED']);
  });

  it('fails fast with a typed error naming the right neighbour when it never listens, as the grpc-js path does', async () => {
    const list = await servers(1);
    const dead = await createCollectiveServer();
    const deadAddress = dead.address;
    await dead.shutdown(); // nobody listens there any more
    for (const dataPath of ['grpc-js', 'http2'] as const) {
      const start = performance.now();
      const error = await createRing({
        dataPath,
        rank: 0,
        worldSize: 2,
        peers: [list[0]!.address, deadAddress],
        runId: `spec-run-${dataPath}`,
        server: list[0],
        connectTimeoutMs: 500,
      }).catch((e: unknown) => e as Error);
      expect(performance.now() - start).toBeLessThan(2_000);
      // UNAVAILABLE is retried until the next backoff would pass the deadline, then reported as the peer's failure
      expect(error instanceof CollectiveTimeoutError || error instanceof PeerFailedError, String(error)).toBe(true);
      expect(error).toMatchObject({ peerRank: 1 });
    }
  });

  it('fails the survivors with PeerFailedError when a rank is gone mid-operation', async () => {
    const list = await servers(3);
    const rings = await Promise.all([0, 1, 2].map((r) => join(list, r, { ...http2Path, chunkBytes: 64 << 10 })));
    const start = performance.now();
    const pending = Promise.allSettled([0, 1].map((r) => rings[r]!.allReduce(new Float32Array(4 << 20))));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await list[2]!.shutdown(); // rank 2's server aborts its ring: both neighbours hear of it
    const outcomes = await pending;
    expect(performance.now() - start).toBeLessThan(5_000);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ name: 'PeerFailedError', peerRank: 2 });
    }
  });

  it.skipIf(lacks('openssl'))(
    'runs over mutual TLS with the same channel credentials as the grpc-js path',
    async () => {
      const pki = createTestPki(mkdtempSync(path.join(os.tmpdir(), 'collective-tls-')));
      const [ca, cert, key] = [pki.ca, pki.node.cert, pki.node.key].map((file) => readFileSync(file));
      const serverCredentials = ServerCredentials.createSsl(ca!, [{ private_key: key!, cert_chain: cert! }], true);
      const clientCredentials = credentials.createSsl(ca!, key!, cert!);
      const list = await Promise.all(
        [0, 1].map(() => createCollectiveServer({ serverCredentials, clientCredentials }))
      );
      openServers.push(...list);
      const rings = await Promise.all([0, 1].map((r) => join(list, r, http2Path)));
      const results = await Promise.all(rings.map((ring, r) => ring.allReduce(new Float32Array(70_000).fill(r + 1))));
      for (const result of results) expect(result.every((x) => x === 3)).toBe(true);
    }
  );
});
