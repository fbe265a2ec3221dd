import { describe, expect, it } from 'vitest';
import { createClassGroupSampler } from './class-group-sampler.js';
import { DatasetArgumentError } from './errors.js';
import { createBatchSampler } from './sampler.js';

/** Labels 0…9 in a scrambled but fixed pattern. */
const labels = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + (i >> 4)) % 10);

describe('createClassGroupSampler', () => {
  it('has one group per batch of the epoch, the last batch possibly short', () => {
    expect(createClassGroupSampler({ labels, numClasses: 10, batchSize: 200, seed: 1 }).groupsPerEpoch).toBe(5);
    expect(createClassGroupSampler({ labels, numClasses: 10, batchSize: 300, seed: 1 }).groupsPerEpoch).toBe(4);
  });

  it('draws one sample of every class from its own shuffled batch, ordered by class', () => {
    const sampler = createClassGroupSampler({ labels, numClasses: 10, batchSize: 200, seed: 'x' });
    const seen = new Set<number>();
    for (let index = 0; index < sampler.groupsPerEpoch; index++) {
      const group = sampler.group(2, index);
      expect(group).toMatchObject({ epoch: 2, index, missing: [] });
      expect(Array.from(group.classes)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (let k = 0; k < 10; k++) expect(labels[group.indices[k]!]).toBe(k);
      for (const i of group.indices) seen.add(i);
    }
    // The batches partition the epoch, so no sample can be drawn into two groups of one epoch.
    expect(seen.size).toBe(50);
  });

  it('takes its batches from a shuffled permutation of all samples and picks each class uniformly within one', () => {
    const sampler = createClassGroupSampler({ labels, numClasses: 10, batchSize: 200, seed: 3 });
    const epoch = 4;
    const covered = Array.from({ length: 5 }, (_, i) => Array.from(sampler.batch(epoch, i))).flat();
    expect(covered.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(covered).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
    for (let index = 0; index < 5; index++) {
      const batch = sampler.batch(epoch, index);
      for (const i of sampler.group(epoch, index).indices) expect(batch).toContain(i);
    }
    // Over many epochs the pick for a class spreads over that class's members of the batch: 2000 picks over 1000
    // samples reach most of them (a biased pick, e.g. always the first of the class, would reach far fewer).
    const picked = new Set<number>();
    for (let e = 0; e < 40; e++)
      for (let index = 0; index < 5; index++) for (const i of sampler.group(e, index).indices) picked.add(i);
    expect(picked.size).toBeGreaterThan(750);
  });

  it('is deterministic, random-access and differs between seeds and epochs', () => {
    const a = createClassGroupSampler({ labels, numClasses: 10, batchSize: 200, seed: 5 });
    const b = createClassGroupSampler({ labels, numClasses: 10, batchSize: 200, seed: 5 });
    const late = a.group(7, 3);
    expect(b.group(0, 0)).toEqual(a.group(0, 0));
    expect(b.group(7, 3)).toEqual(late);
    expect(
      createClassGroupSampler({ labels, numClasses: 10, batchSize: 200, seed: 6 }).group(7, 3).indices
    ).not.toEqual(late.indices);
    expect(a.group(8, 3).indices).not.toEqual(late.indices);
  });

  it('uses a stream independent of the training batch sampler with the same seed', () => {
    const groups = createClassGroupSampler({ labels, numClasses: 10, batchSize: 200, seed: 9 });
    const batches = createBatchSampler({ size: 1000, batchSize: 200, seed: 9 });
    expect(groups.batch(0, 0)).not.toEqual(batches.batch(0, 0));
    expect(groups.batch(1, 2)).not.toEqual(batches.batch(1, 2));
  });

  it('lists the classes missing from a batch and leaves them out of the group', () => {
    // Class 3 appears only once in 1000 samples, so exactly one batch of 50 holds it; classes 0–2 are in every batch.
    const sparse = Uint8Array.from({ length: 1000 }, (_, i) => (i === 500 ? 3 : i % 3));
    const sampler = createClassGroupSampler({ labels: sparse, numClasses: 4, batchSize: 50, seed: 1 });
    let withThree = 0;
    for (let index = 0; index < sampler.groupsPerEpoch; index++) {
      const group = sampler.group(0, index);
      if (group.missing.length === 0) {
        withThree++;
        expect(group.indices[3]).toBe(500);
        expect(Array.from(group.classes)).toEqual([0, 1, 2, 3]);
      } else {
        expect(group.missing).toEqual([3]);
        expect(Array.from(group.classes)).toEqual([0, 1, 2]);
        expect(group.indices).toHaveLength(3);
      }
    }
    expect(withThree).toBe(1);
  });

  it('draws the uneven last batch from the samples left over', () => {
    const small = Uint8Array.from({ length: 23 }, (_, i) => i % 2);
    const sampler = createClassGroupSampler({ labels: small, numClasses: 2, batchSize: 10, seed: 4 });
    expect(sampler.groupsPerEpoch).toBe(3);
    const last = sampler.batch(1, 2);
    expect(last).toHaveLength(3);
    const group = sampler.group(1, 2);
    expect(group.indices.length + group.missing.length).toBe(2);
    for (const i of group.indices) expect(last).toContain(i);
    for (const k of group.missing) expect(Array.from(last).some((i) => small[i] === k)).toBe(false);
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'empty labels',
      { labels: new Uint8Array(0) },
      'createClassGroupSampler: options.labels must be a non-empty Uint8Array; got a Uint8Array',
    ],
    [
      'labels as a plain array',
      { labels: [1, 2] },
      'createClassGroupSampler: options.labels must be a non-empty Uint8Array; got an array',
    ],
    [
      'a label at numClasses',
      { labels: Uint8Array.from([0, 10]) },
      'createClassGroupSampler: options.labels[1] must be below numClasses (10); got 10',
    ],
    [
      'zero classes',
      { numClasses: 0 },
      'createClassGroupSampler: options.numClasses must be an integer from 1 to 256; got 0',
    ],
    [
      'a zero batch size',
      { batchSize: 0 },
      'createClassGroupSampler: options.batchSize must be an integer from 1 to 4294967295; got 0',
    ],
    [
      'a missing seed',
      { seed: undefined },
      'createClassGroupSampler: options.seed must be a safe integer or a string; got undefined',
    ],
  ])('rejects %s', (_, change, message) => {
    const options = { labels, numClasses: 10, batchSize: 200, seed: 1, ...change } as never;
    expect(() => createClassGroupSampler(options)).toThrow(DatasetArgumentError);
    expect(() => createClassGroupSampler(options)).toThrow(message);
  });

  it('rejects a group index past the epoch', () => {
    const sampler = createClassGroupSampler({ labels, numClasses: 10, batchSize: 200, seed: 1 });
    expect(() => sampler.group(0, 5)).toThrow('ClassGroupSampler.group: index must be an integer from 0 to 4; got 5');
  });
});
