import { ATTR, METRIC_NAMES, SPAN_NAMES } from '@supwalsh/telemetry';
import { createInMemoryTelemetry } from '@supwalsh/telemetry/testing';
import { describe, expect, it } from 'vitest';
import type { CollectiveOptions } from './collective-options.js';
import type { RingMessage } from './communicator.js';
import {
  CollectiveArgumentError,
  CollectiveClosedError,
  CollectiveProtocolError,
  CollectiveTimeoutError,
  PeerFailedError,
} from './errors.js';
import { FP16_SUBNORMAL_HALF_ULP, UNIT_ROUNDOFF } from './half-precision.js';
import { createMemoryRing, type MemoryRingOptions } from './memory-communicator.js';
import { createCollective, type Collective } from './ring-collective.js';
import { partition } from './segments.js';
import { firstBitDifference, float32SumBound, float64AbsSum, float64Sum, randomFloats } from './test-support.js';

function ring(worldSize: number, options: Partial<CollectiveOptions> = {}, memory: MemoryRingOptions = {}) {
  const memoryRing = createMemoryRing(worldSize, memory);
  const collectives = memoryRing.communicators.map((c) => createCollective(c, { runId: 'run-1', ...options }));
  return { ...memoryRing, collectives };
}

/** Runs `fn` on every rank at once and returns the per-rank results. */
function onAll<T>(collectives: Collective[], fn: (c: Collective, rank: number) => Promise<T>): Promise<T[]> {
  return Promise.all(collectives.map((c, rank) => fn(c, rank)));
}

/** The protocol's own reduction order, replayed in float32: segment k accumulates ranks k, k+1, …, k−1. */
function ringOrderSum(inputs: Float32Array[]): Float32Array {
  const n = inputs.length;
  const out = new Float32Array(inputs[0]!.length);
  for (const [k, segment] of partition(out.length, n).entries()) {
    for (let i = segment.offset; i < segment.offset + segment.length; i++) {
      let acc = inputs[k]![i]!;
      for (let j = 1; j < n; j++) acc = Math.fround(acc + inputs[(k + j) % n]![i]!);
      out[i] = acc;
    }
  }
  return out;
}

const WORLD_SIZES = [1, 2, 3, 4, 5];

describe('allReduce over the in-memory ring', () => {
  for (const n of WORLD_SIZES) {
    const sizes = [...new Set([0, 1, Math.max(0, n - 1), n + 1, 1000])];
    it(`sums sizes ${sizes.join(', ')} on ${n} rank(s) to the float64 sum within float32 rounding, bit-identical on every rank`, async () => {
      const { collectives } = ring(n, { chunkBytes: 64 }); // 16 elements per chunk: many chunks per segment
      for (const size of sizes) {
        const inputs = Array.from({ length: n }, (_, r) => randomFloats(size, 1000 * n + 10 * size + r));
        const buffers = inputs.map((x) => Float32Array.from(x));
        const results = await onAll(collectives, (c, r) => c.allReduce(buffers[r]!));
        const exact = float64Sum(inputs);
        const scale = float64AbsSum(inputs);
        for (let r = 0; r < n; r++) {
          expect(results[r], 'in place').toBe(buffers[r]);
          expect(firstBitDifference(results[r]!, results[0]!), `rank ${r} vs rank 0, size ${size}`).toBe(-1);
        }
        for (let i = 0; i < size; i++) {
          expect(Math.abs(results[0]![i]! - exact[i]!)).toBeLessThanOrEqual(float32SumBound(n, scale[i]!));
        }
        expect(firstBitDifference(results[0]!, ringOrderSum(inputs)), 'fixed reduction order').toBe(-1);
      }
    });
  }

  it('gives the same bits for the same inputs every time, whatever the chunk size', async () => {
    const inputs = Array.from({ length: 4 }, (_, r) => randomFloats(777, r + 1));
    const runs: Float32Array[] = [];
    for (const chunkBytes of [4, 100, 1 << 20]) {
      const { collectives } = ring(4, { chunkBytes });
      const [first] = await onAll(collectives, (c, r) => c.allReduce(Float32Array.from(inputs[r]!)));
      runs.push(first!);
    }
    expect(firstBitDifference(runs[0]!, runs[1]!)).toBe(-1);
    expect(firstBitDifference(runs[0]!, runs[2]!)).toBe(-1);
  });

  it('averages with op "mean" (the sum divided by the world size, once, by the segment owner)', async () => {
    const { collectives } = ring(3, { chunkBytes: 32 });
    const inputs = Array.from({ length: 3 }, (_, r) => randomFloats(50, 7 + r));
    const results = await onAll(collectives, (c, r) => c.allReduce(Float32Array.from(inputs[r]!), { op: 'mean' }));
    const sum = ringOrderSum(inputs);
    expect(
      firstBitDifference(
        results[0]!,
        sum.map((v) => v / 3)
      )
    ).toBe(-1);
    expect(firstBitDifference(results[2]!, results[0]!)).toBe(-1);
  });

  it('keeps several operations in flight and matches each result to its own call', async () => {
    const { collectives } = ring(3, { chunkBytes: 40 });
    const sizes = [300, 7, 0, 129];
    const inputs = sizes.map((size, b) => Array.from({ length: 3 }, (_, r) => randomFloats(size, 100 * b + r)));
    const results = await onAll(collectives, (c, r) =>
      Promise.all(sizes.map((_, b) => c.allReduce(Float32Array.from(inputs[b]![r]!))))
    );
    sizes.forEach((_, b) => {
      for (let r = 0; r < 3; r++) expect(firstBitDifference(results[r]![b]!, ringOrderSum(inputs[b]!))).toBe(-1);
    });
  });

  for (const compression of ['fp16', 'bf16'] as const) {
    it(`keeps ${compression} wire compression within its documented error bound, bit-identical on every rank`, async () => {
      const n = 4;
      const scale = compression === 'fp16' ? 100 : 1e30; // bf16 keeps float32's range
      const { collectives } = ring(n, { chunkBytes: 256 });
      const inputs = Array.from({ length: n }, (_, r) => randomFloats(4099, 31 * r + 5, scale));
      const results = await onAll(collectives, (c, r) => c.allReduce(Float32Array.from(inputs[r]!), { compression }));
      const exact = float64Sum(inputs);
      const abs = float64AbsSum(inputs);
      const u = UNIT_ROUNDOFF[compression];
      let worst = 0;
      for (let i = 0; i < exact.length; i++) {
        // n roundings to the wire format, n−1 float32 additions (README: "Compression")
        const bound = 1.01 * (n * u + (n - 1) * 2 ** -24) * abs[i]! + n * FP16_SUBNORMAL_HALF_ULP;
        const error = Math.abs(results[0]![i]! - exact[i]!);
        expect(error).toBeLessThanOrEqual(bound);
        worst = Math.max(worst, error / abs[i]!);
      }
      expect(worst).toBeGreaterThan(0); // it did compress
      for (let r = 1; r < n; r++) expect(firstBitDifference(results[r]!, results[0]!)).toBe(-1);
    });
  }

  it('rejects arguments outside their range with a message naming them', () => {
    const { collectives } = ring(2);
    const c = collectives[0]!;
    expect(() => c.allReduce([1, 2] as unknown as Float32Array)).toThrow(CollectiveArgumentError);
    expect(() => c.allReduce(new Float32Array(1), { op: 'max' as 'sum' })).toThrow(
      /options\.op must be 'sum' or 'mean'/
    );
    expect(() => c.allReduce(new Float32Array(1), { compression: 'int8' as 'fp16' })).toThrow(/compression/);
    expect(() => c.broadcast(new Float32Array(1), 2)).toThrow(/root must be an integer in 0 … 1; got 2/);
    const memory = createMemoryRing(1);
    expect(() => createCollective(memory.communicators[0]!, { runId: 'r', chunkBytes: 2 })).toThrow(/chunkBytes/);
  });
});

describe('broadcast and barrier over the in-memory ring', () => {
  for (const n of WORLD_SIZES) {
    it(`copies the root's buffer to every rank, from each root, on ${n} rank(s)`, async () => {
      const { collectives } = ring(n, { chunkBytes: 16 });
      for (let root = 0; root < n; root++) {
        for (const size of [0, 1, n + 1, 101]) {
          const source = randomFloats(size, root * 7 + size);
          const buffers = collectives.map((_, r) => (r === root ? Float32Array.from(source) : new Float32Array(size)));
          const results = await onAll(collectives, (c, r) => c.broadcast(buffers[r]!, root));
          for (const result of results) expect(firstBitDifference(result, source)).toBe(-1);
        }
      }
    });
  }

  it('does not let any rank out of a barrier before the last one has entered', async () => {
    const { collectives } = ring(4);
    const entered: number[] = [];
    const left: number[] = [];
    await onAll(collectives, async (c, r) => {
      await new Promise((resolve) => setTimeout(resolve, 20 * r));
      entered.push(r);
      await c.barrier();
      left.push(r);
      expect(entered).toHaveLength(4);
    });
    expect(left).toHaveLength(4);
  });
});

describe('faults over the in-memory ring', () => {
  const message = (over: Partial<RingMessage>): RingMessage => ({
    runId: 'run-1',
    generation: 1,
    sequence: 1,
    phaseStep: 0,
    kind: 'reduce_scatter',
    senderRank: 0,
    rootRank: 0,
    ringStep: 0,
    chunk: 0,
    lastChunk: true,
    offset: 0,
    length: 2,
    totalLength: 4,
    encoding: 'f32',
    data: new Uint8Array(8),
    ...over,
  });

  const tampered: [string, Partial<RingMessage>, RegExp][] = [
    ['a wrong run', { runId: 'other-run' }, /runId is other-run, expected run-1/],
    ['a wrong generation', { generation: 3 }, /generation is 3, expected 1/],
    ['a wrong training step', { phaseStep: 7 }, /phaseStep is 7, expected 0/],
    ['a wrong ring step', { ringStep: 9 }, /ringStep is 9/],
    ['a wrong size', { length: 1, data: new Uint8Array(4) }, /length is 1, expected 2/],
    ['a wrong offset', { offset: 1 }, /offset is 1, expected 0/],
    ['a wrong kind', { kind: 'broadcast' }, /kind is broadcast, expected reduce_scatter or all_gather/],
    ['a wrong sender', { senderRank: 1 }, /senderRank is 1, expected 0/],
    ['a size that disagrees with the data', { data: new Uint8Array(7) }, /data\.byteLength is 7, expected 8/],
    ['a different buffer length', { totalLength: 5 }, /totalLength is 5, expected 4/],
  ];
  for (const [what, change, pattern] of tampered) {
    it(`rejects a message with ${what} without reducing it, and fails every rank`, async () => {
      const { collectives } = ring(
        2,
        {},
        {
          intercept: (from, m) => (from === 0 ? { ...m, ...change } : m),
        }
      );
      const inputs = [new Float32Array([1, 2, 3, 4]), new Float32Array([10, 20, 30, 40])];
      const outcomes = await Promise.allSettled(collectives.map((c, r) => c.allReduce(inputs[r]!)));
      const [r0, r1] = outcomes;
      expect(r1).toMatchObject({ status: 'rejected', reason: expect.any(CollectiveProtocolError) });
      expect(String((r1 as PromiseRejectedResult).reason)).toMatch(pattern);
      expect(r0).toMatchObject({ status: 'rejected', reason: expect.any(PeerFailedError) });
      expect(Array.from(inputs[1]!), 'rank 1 reduced nothing').toEqual([10, 20, 30, 40]);
      expect(collectives[1]!.state).toBe('FAILED');
      await expect(collectives[1]!.barrier(), 'later calls fail at once').rejects.toBeInstanceOf(
        CollectiveProtocolError
      );
    });
  }

  it('rejects messages of an operation that has already finished, and duplicates', async () => {
    const { collectives, inject } = ring(2);
    await onAll(collectives, (c) => c.allReduce(new Float32Array(4)));
    inject(1, message({ sequence: 1 }));
    await expect(collectives[1]!.allReduce(new Float32Array(4))).rejects.toThrow(/sequence is 1 \(already finished\)/);

    const second = ring(2);
    const pending = second.collectives[1]!.allReduce(new Float32Array(4));
    second.inject(1, message({ chunk: 5 }));
    second.inject(1, message({ chunk: 5 }));
    await expect(pending).rejects.toThrow(/chunk is 5 of reduce_scatter step 0 again/);
  });

  it('fails every other rank with PeerFailedError naming the dead rank when one dies mid-operation', async () => {
    let sent = 0;
    const memory = createMemoryRing(5, {
      intercept: (from, m) => {
        if (from !== 2) return m;
        if (++sent === 3) memory.kill(2); // after a few chunks
        return sent >= 3 ? null : m;
      },
    });
    const collectives = memory.communicators.map((c) => createCollective(c, { runId: 'run-1', chunkBytes: 16 }));
    const start = performance.now();
    collectives[2]!.allReduce(randomFloats(500, 2)).catch(() => undefined);
    const survivors = [0, 1, 3, 4];
    const outcomes = await Promise.allSettled(survivors.map((r) => collectives[r]!.allReduce(randomFloats(500, r))));
    expect(performance.now() - start).toBeLessThan(5_000);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(PeerFailedError) });
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ peerRank: 2, peerAddress: 'memory:2' });
    }
    await collectives[2]!.close();
  });

  it('rejects every rank within bounded time (typed error, never a hang) when a rank stalls', async () => {
    const { collectives } = ring(4, { timeoutMs: 150 }, { intercept: (from, m) => (from === 1 ? null : m) });
    const start = performance.now();
    const outcomes = await Promise.allSettled(collectives.map((c, r) => c.allReduce(randomFloats(64, r))));
    expect(performance.now() - start).toBeLessThan(5_000);
    const reasons = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error) : null));
    expect(reasons.every((e) => e instanceof CollectiveTimeoutError || e instanceof PeerFailedError)).toBe(true);
    const r = reasons.findIndex((e) => e instanceof CollectiveTimeoutError);
    expect(r).toBeGreaterThanOrEqual(0);
    expect(reasons[r], 'waiting for its left neighbour').toMatchObject({
      peerRank: (r + 3) % 4,
      operation: 'allReduce',
      timeoutMs: 150,
    });
  });

  it('rejects pending operations with CollectiveClosedError on close()', async () => {
    const { collectives } = ring(2);
    const pending = collectives[0]!.allReduce(new Float32Array(10));
    await collectives[0]!.close();
    await expect(pending).rejects.toBeInstanceOf(CollectiveClosedError);
    await expect(collectives[0]!.barrier()).rejects.toBeInstanceOf(CollectiveClosedError);
    await expect(collectives[1]!.allReduce(new Float32Array(10))).rejects.toBeInstanceOf(PeerFailedError);
  });
});

describe('telemetry', () => {
  it('records one span and the bytes, duration and bandwidth metrics per operation', async () => {
    const telemetry = createInMemoryTelemetry();
    const { collectives } = ring(2, { tracer: telemetry.tracer, meter: telemetry.meter });
    await onAll(collectives, (c) => c.allReduce(new Float32Array(256)));
    await onAll(collectives, (c) => c.barrier());
    const spans = telemetry.spans.filter((s) => s.attributes[ATTR.rank] === 0);
    expect(spans.map((s) => s.name)).toEqual([SPAN_NAMES.collectiveAllReduce, SPAN_NAMES.collectiveBarrier]);
    expect(spans[0]).toMatchObject({
      ended: true,
      attributes: {
        [ATTR.collectiveBytes]: 1024,
        [ATTR.worldSize]: 2,
        [ATTR.collectiveReduceOp]: 'sum',
        [ATTR.collectiveTransport]: 'memory',
        [ATTR.runId]: 'run-1',
      },
    });
    expect(telemetry.sum(METRIC_NAMES.collectiveBytes)).toBe(2 * 1024);
    expect(telemetry.sum(METRIC_NAMES.collectiveWireBytes)).toBe(2 * 1024); // 2(n−1)/n · 1024 per rank
    const bus = telemetry.measurements.find((m) => m.name === METRIC_NAMES.collectiveBusBandwidth);
    const alg = telemetry.measurements.find((m) => m.name === METRIC_NAMES.collectiveAlgBandwidth);
    expect(bus!.value).toBeCloseTo(alg!.value, 6); // 2(n−1)/n = 1 for n = 2
  });

  it('marks the span of a failed operation with the error type', async () => {
    const telemetry = createInMemoryTelemetry();
    const { collectives } = ring(2, { tracer: telemetry.tracer, meter: telemetry.meter, timeoutMs: 50 });
    await expect(collectives[0]!.allReduce(new Float32Array(8))).rejects.toBeInstanceOf(CollectiveTimeoutError);
    expect(telemetry.spans[0]?.attributes[ATTR.errorType]).toBe('CollectiveTimeoutError');
    expect(telemetry.sum(METRIC_NAMES.collectiveErrors, { [ATTR.errorType]: 'CollectiveTimeoutError' })).toBe(1);
  });
});
