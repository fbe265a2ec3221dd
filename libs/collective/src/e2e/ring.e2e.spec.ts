import { afterEach, describe, expect, it } from 'vitest';
import { firstBitDifference, float32SumBound, float64AbsSum, float64Sum, randomFloats } from '../test-support.js';
import { startRingCluster, type RingCluster } from './ring-cluster.js';
import type { WorkerReply } from './ring-worker.js';

type Done = Extract<WorkerReply, { type: 'done' }>;
type Failed = Extract<WorkerReply, { type: 'failed' }>;

let cluster: RingCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

function expectDone(replies: WorkerReply[]): Done[] {
  for (const reply of replies) expect(reply, JSON.stringify(reply).slice(0, 300)).toMatchObject({ type: 'done' });
  return replies as Done[];
}

// Both data paths of the sending side (RingOptions.dataPath); the receiving side is the same grpc-js server.
for (const dataPath of ['grpc-js', 'http2'] as const) {
  describe(`ring of worker processes over gRPC on loopback (data path ${dataPath})`, () => {
    for (const worldSize of [1, 2, 3, 4, 5]) {
      const sizes = [...new Set([0, 1, Math.max(0, worldSize - 1), worldSize + 1, (1 << 20) + 3])]; // 1 Mi + 3 elements
      it(`all-reduces sizes ${sizes.join(', ')} on ${worldSize} process(es): float64 sum within float32 rounding, identical bits on every rank`, async () => {
        cluster = await startRingCluster(worldSize, { chunkBytes: 256 << 10, dataPath });
        for (const [i, size] of sizes.entries()) {
          const seeds = Array.from({ length: worldSize }, (_, r) => 7919 * worldSize + 31 * i + r);
          const replies = expectDone(
            await Promise.all(
              seeds.map((seed, rank) =>
                cluster!.run({ type: 'allReduce', size, seed, returnResult: true }, [rank]).then((r) => r[0]!)
              )
            )
          );
          const inputs = seeds.map((seed) => randomFloats(size, seed));
          const exact = float64Sum(inputs);
          const scale = float64AbsSum(inputs);
          const results = replies.map((r) => r.result ?? new Float32Array(0));
          for (const [rank, result] of results.entries()) {
            expect(result.length).toBe(size);
            expect(firstBitDifference(result, results[0]!), `rank ${rank} vs rank 0, size ${size}`).toBe(-1);
          }
          let worst = 0;
          for (let k = 0; k < size; k++) {
            const excess = Math.abs(results[0]![k]! - exact[k]!) - float32SumBound(worldSize, scale[k]!);
            worst = Math.max(worst, excess);
          }
          expect(worst, `size ${size}: beyond the float32 bound`).toBeLessThanOrEqual(0);
        }
      });
    }

    it('broadcasts from every root and passes a barrier on 3 processes', async () => {
      cluster = await startRingCluster(3, { chunkBytes: 64 << 10, dataPath });
      for (let root = 0; root < 3; root++) {
        const replies = expectDone(await cluster.run({ type: 'broadcast', size: 100_003, seed: root, root }));
        const expected = randomFloats(100_003, root);
        for (const r of replies) expect(firstBitDifference(r.result!, expected)).toBe(-1);
      }
      expectDone(await cluster.run({ type: 'barrier' }));
    });

    it('fails every surviving rank fast with PeerFailedError when a worker is killed (kill -9) mid-operation', async () => {
      const worldSize = 4;
      const victim = 2;
      cluster = await startRingCluster(worldSize, { chunkBytes: 64 << 10, timeoutMs: 30_000, dataPath });
      const survivors = [0, 1, 3];
      const pending = cluster.run({ type: 'allReduce', size: 16 << 20, seed: 1, returnResult: false }, survivors);
      await cluster.started(survivors);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const killedAt = performance.now();
      cluster.workers[victim]!.kill('SIGKILL');
      const replies = await pending;
      const failedWithin = (performance.now() - killedAt) / 1000;
      expect(failedWithin, 'every survivor failed within bounded time').toBeLessThan(10);
      for (const reply of replies) {
        expect(reply, JSON.stringify(reply)).toMatchObject({ type: 'failed', name: 'PeerFailedError' });
      }
      // The victim's neighbours see it go; the rank across the ring hears of it from theirs (ABORT / trailer).
      for (const reply of replies) expect((reply as Failed).peerRank).toBe(victim);
      console.log(
        `survivors failed ${(failedWithin * 1000).toFixed(0)} ms after the kill: ${replies.map((r) => (r as Failed).message).join(' | ')}`
      );
    });
  });
}
