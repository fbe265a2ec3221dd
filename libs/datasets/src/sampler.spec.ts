import { describe, expect, it } from 'vitest';
import { DatasetArgumentError } from './errors.js';
import { createBatchSampler, shard, shardRange } from './sampler.js';

const isPermutation = (order: Uint32Array, n: number): boolean =>
  order.length === n && [...order].sort((a, b) => a - b).every((v, i) => v === i);

describe('createBatchSampler', () => {
  it('shuffles each epoch into a permutation of all samples', () => {
    const sampler = createBatchSampler({ size: 1000, batchSize: 64, seed: 7 });
    for (const epoch of [0, 1, 5]) expect(isPermutation(sampler.order(epoch), 1000)).toBe(true);
    expect(sampler.order(0)).not.toEqual(sampler.order(1));
    expect(sampler.order(0)).not.toEqual(Uint32Array.from({ length: 1000 }, (_, i) => i));
  });

  it('gives the same order for the same seed, in any process and any order of asking', () => {
    const a = createBatchSampler({ size: 500, batchSize: 50, seed: 'run-42' });
    const b = createBatchSampler({ size: 500, batchSize: 50, seed: 'run-42' });
    const epoch3 = a.order(3);
    expect(b.order(0)).toEqual(a.order(0));
    expect(b.order(3)).toEqual(epoch3);
    expect(a.batch(3, 4)).toEqual(b.batch(3, 4));
    expect(createBatchSampler({ size: 500, batchSize: 50, seed: 'run-43' }).order(3)).not.toEqual(epoch3);
    // Pinned: changing the stream (engine RNG or labels) changes every run's batches, so it must be deliberate.
    expect(Array.from(createBatchSampler({ size: 10, batchSize: 3, seed: 1 }).order(0))).toEqual([
      0, 5, 4, 6, 2, 8, 3, 7, 9, 1,
    ]);
  });

  it('cuts batches out of the epoch order, the last one smaller', () => {
    const sampler = createBatchSampler({ size: 10, batchSize: 4, seed: 3 });
    expect(sampler.batchesPerEpoch).toBe(3);
    const order = sampler.order(2);
    expect(sampler.batch(2, 0)).toEqual(order.slice(0, 4));
    expect(sampler.batch(2, 1)).toEqual(order.slice(4, 8));
    expect(sampler.batch(2, 2)).toEqual(order.slice(8, 10));
    const batches = [0, 1, 2].flatMap((i) => Array.from(sampler.batch(5, i)));
    expect(batches).toEqual(Array.from(sampler.order(5)));
  });

  it('drops the short last batch with dropLast, and keeps the identity order without shuffle', () => {
    const dropping = createBatchSampler({ size: 10, batchSize: 4, seed: 3, dropLast: true });
    expect(dropping.batchesPerEpoch).toBe(2);
    expect(() => dropping.batch(0, 2)).toThrow('BatchSampler.batch: index must be an integer from 0 to 1; got 2');
    const ordered = createBatchSampler({ size: 5, batchSize: 2, seed: 3, shuffle: false });
    expect(Array.from(ordered.order(9))).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(ordered.batch(9, 2))).toEqual([4]);
    expect(createBatchSampler({ size: 3, batchSize: 4, seed: 0, dropLast: true }).batchesPerEpoch).toBe(0);
  });

  it('hands out copies, so a caller cannot change later batches', () => {
    const sampler = createBatchSampler({ size: 8, batchSize: 4, seed: 1 });
    const before = sampler.batch(0, 1);
    sampler.order(0).fill(0);
    sampler.batch(0, 0).fill(0);
    expect(sampler.batch(0, 1)).toEqual(before);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a zero size', { size: 0 }, 'createBatchSampler: options.size must be an integer from 1 to 4294967295; got 0'],
    [
      'a fractional batch size',
      { batchSize: 2.5 },
      'createBatchSampler: options.batchSize must be an integer from 1 to 4294967295; got 2.5',
    ],
    ['a float seed', { seed: 0.5 }, 'createBatchSampler: options.seed must be a safe integer or a string; got 0.5'],
    ['a non-boolean shuffle', { shuffle: 1 }, 'createBatchSampler: options.shuffle must be true or false; got 1'],
  ])('rejects %s', (_, change, message) => {
    expect(() => createBatchSampler({ size: 10, batchSize: 2, seed: 1, ...change } as never)).toThrow(
      DatasetArgumentError
    );
    expect(() => createBatchSampler({ size: 10, batchSize: 2, seed: 1, ...change } as never)).toThrow(message);
  });

  it('rejects a negative or fractional epoch', () => {
    const sampler = createBatchSampler({ size: 10, batchSize: 2, seed: 1 });
    expect(() => sampler.order(-1)).toThrow('BatchSampler.order: epoch must be an integer at least 0; got -1');
    expect(() => sampler.batch(1.5, 0)).toThrow('BatchSampler.batch: epoch must be an integer at least 0; got 1.5');
  });
});

describe('shardRange and shard', () => {
  it('cover every item exactly once, contiguously and in rank order, for world sizes 1 to 5', () => {
    for (let worldSize = 1; worldSize <= 5; worldSize++) {
      for (const count of [0, 1, 2, 3, 4, 7, 10, 200]) {
        const ranges = Array.from({ length: worldSize }, (_, rank) => shardRange(count, rank, worldSize));
        expect(ranges[0]!.start).toBe(0);
        expect(ranges.at(-1)!.end).toBe(count);
        for (let r = 1; r < worldSize; r++) expect(ranges[r]!.start).toBe(ranges[r - 1]!.end);
        const sizes = ranges.map((x) => x.end - x.start);
        // The first count % worldSize ranks take one more.
        expect(sizes).toEqual(sizes.map((_, r) => Math.floor(count / worldSize) + (r < count % worldSize ? 1 : 0)));
      }
    }
  });

  it('gives empty ranges to the ranks beyond a small count', () => {
    expect([0, 1, 2, 3].map((rank) => shardRange(2, rank, 4))).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 2, end: 2 },
      { start: 2, end: 2 },
    ]);
  });

  it('slices a typed array by the same ranges, as views', () => {
    const items = Uint32Array.from([10, 11, 12, 13, 14, 15, 16]);
    expect(Array.from(shard(items, 0, 3))).toEqual([10, 11, 12]);
    expect(Array.from(shard(items, 1, 3))).toEqual([13, 14]);
    expect(Array.from(shard(items, 2, 3))).toEqual([15, 16]);
    expect(shard(items, 2, 3).buffer).toBe(items.buffer);
  });

  it('rejects a rank outside the world and a world of zero', () => {
    expect(() => shardRange(10, 3, 3)).toThrow('shardRange: rank must be an integer from 0 to 2; got 3');
    expect(() => shardRange(10, 0, 0)).toThrow('shardRange: worldSize must be an integer from 1 to 1048576; got 0');
    expect(() => shardRange(-1, 0, 1)).toThrow('shardRange: count must be an integer at least 0; got -1');
    expect(() => shard([1, 2] as never, 0, 1)).toThrow(
      'shard: items must be a typed array (have subarray and length); got an array'
    );
  });
});
