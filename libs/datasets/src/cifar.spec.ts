import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { DatasetFormatError } from './errors.js';
import { cifarBatches, cifarColour, tarArchive, tempDir } from './fixtures.spec-helper.js';
import { loadDataset } from './load.js';
import { resizeBilinear } from './resize.js';
import { readTar } from './tar.js';

/** Pillow's "L" formula, written out independently of the library. */
const luma = ([r, g, b]: [number, number, number]): number =>
  Math.floor((r * 19595 + g * 38470 + b * 7471 + 32768) / 65536);

describe('the CIFAR-10 reader', () => {
  const base = tempDir();
  const batches = cifarBatches(3);
  const flat = path.join(base, 'flat');
  const nested = path.join(base, 'nested');
  const archived = path.join(base, 'archived');
  fs.mkdirSync(flat);
  fs.mkdirSync(path.join(nested, 'cifar-10-batches-bin'), { recursive: true });
  fs.mkdirSync(archived);
  for (const [name, bytes] of batches) {
    fs.writeFileSync(path.join(flat, name), bytes);
    fs.writeFileSync(path.join(nested, 'cifar-10-batches-bin', name), bytes);
  }
  const members = new Map([...batches].map(([name, bytes]) => [`cifar-10-batches-bin/${name}`, bytes]));
  members.set('cifar-10-batches-bin/batches.meta.txt', Buffer.from('airplane\nautomobile\n'));
  fs.writeFileSync(path.join(archived, 'cifar-10-binary.tar.gz'), zlib.gzipSync(tarArchive(members)));

  it("reads the five training batches in order and turns them grey with Pillow's formula", async () => {
    const set = await loadDataset({ kind: 'cifar10', split: 'train', root: flat, cacheDir: false, imageSize: 32 });
    expect(set).toMatchObject({ kind: 'cifar10', length: 15, height: 32, width: 32, source: flat });
    expect(Array.from(set.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4]);
    expect(set.classNames[0]).toBe('airplane');
    for (const [batch, n] of [
      [0, 0],
      [2, 1],
      [4, 2],
    ] as const) {
      for (const p of [0, 31, 500, 1023]) {
        expect(set.pixels[(batch * 3 + n) * 1024 + p]).toBe(luma(cifarColour(batch, n, p)));
      }
    }
    const test = await loadDataset({ kind: 'cifar10', split: 'test', root: flat, cacheDir: false, imageSize: 32 });
    expect(test.length).toBe(3);
    expect(test.pixels[77]).toBe(luma(cifarColour(5, 0, 77)));
  });

  it('resizes the grey images to 64×64 like Pillow', async () => {
    const grey = await loadDataset({ kind: 'cifar10', split: 'test', root: flat, cacheDir: false, imageSize: 32 });
    const resized = await loadDataset({ kind: 'cifar10', split: 'test', root: flat, cacheDir: false });
    expect(resized.pixels.subarray(4096, 8192)).toEqual(resizeBilinear(grey.pixels.slice(1024, 2048), 32, 32, 64, 64));
  });

  it('accepts the cifar-10-batches-bin subdirectory and the .tar.gz, with the same result', async () => {
    const fromFlat = await loadDataset({ kind: 'cifar10', split: 'train', root: flat, cacheDir: false, imageSize: 32 });
    const fromNested = await loadDataset({
      kind: 'cifar10',
      split: 'train',
      root: nested,
      cacheDir: false,
      imageSize: 32,
    });
    const fromArchive = await loadDataset({
      kind: 'cifar10',
      split: 'train',
      root: archived,
      cacheDir: false,
      imageSize: 32,
    });
    expect(fromNested.source).toBe(path.join(nested, 'cifar-10-batches-bin'));
    expect(fromArchive.source).toBe(path.join(archived, 'cifar-10-binary.tar.gz'));
    expect(fromNested.pixels).toEqual(fromFlat.pixels);
    expect(fromArchive.pixels).toEqual(fromFlat.pixels);
    expect(fromArchive.labels).toEqual(fromFlat.labels);
  });

  it('caches a split read from the archive under the archive’s identity', async () => {
    const cacheDir = path.join(base, 'cache');
    const first = await loadDataset({ kind: 'cifar10', split: 'test', root: archived, cacheDir });
    const second = await loadDataset({ kind: 'cifar10', split: 'test', root: archived, cacheDir });
    expect(second.pixels).toEqual(first.pixels);
    expect(second.source).toBe(first.source);
    expect(fs.readdirSync(cacheDir)).toEqual([expect.stringMatching(/^cifar10-test-64px-/)]);
  });

  it('rejects a batch that is not a whole number of 3073-byte records, naming the file', async () => {
    const root = path.join(base, 'short');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'test_batch.bin'), batches.get('test_batch.bin')!.subarray(0, 3073 * 2 + 100));
    const error = await loadDataset({ kind: 'cifar10', split: 'test', root, cacheDir: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetFormatError);
    expect((error as Error).message).toBe(
      `${path.join(root, 'test_batch.bin')}: has 6246 bytes, not a positive multiple of the 3073-byte CIFAR-10 record (1 label + 3×32×32)`
    );
  });

  it('rejects labels outside the ten classes', async () => {
    const root = path.join(base, 'bad-label');
    fs.mkdirSync(root);
    const bytes = Buffer.from(batches.get('test_batch.bin')!);
    bytes[3073] = 10;
    fs.writeFileSync(path.join(root, 'test_batch.bin'), bytes);
    await expect(loadDataset({ kind: 'cifar10', split: 'test', root, cacheDir: false })).rejects.toThrow(
      /test_batch\.bin: label 1 is 10, outside 0…9/
    );
  });

  it('names the archive when a member is missing or a tar header is damaged', async () => {
    const root = path.join(base, 'bad-archive');
    fs.mkdirSync(root);
    const archive = path.join(root, 'cifar-10-binary.tar.gz');
    fs.writeFileSync(
      archive,
      zlib.gzipSync(tarArchive(new Map([['cifar-10-batches-bin/test_batch.bin', batches.get('test_batch.bin')!]])))
    );
    await expect(loadDataset({ kind: 'cifar10', split: 'train', root, cacheDir: false })).rejects.toThrow(
      `${archive}: has no member data_batch_1.bin (members: cifar-10-batches-bin/test_batch.bin)`
    );
    const tar = tarArchive(new Map([['test_batch.bin', batches.get('test_batch.bin')!]]));
    tar[10] = tar[10]! ^ 1;
    expect(() => readTar(tar, 'x.tar')).toThrow(/^x\.tar: tar header at byte 0 has checksum \d+, computed \d+$/);
    expect(() => readTar(tarArchive(new Map([['a', Buffer.alloc(1000)]])).subarray(0, 900), 'y.tar')).toThrow(
      'y.tar: is truncated: tar member a needs 1000 bytes past byte 512'
    );
  });

  it.skipIf(lacks('tar'))('reads an archive made by the system tar, long names included', () => {
    const src = path.join(base, 'tar-src');
    const long = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
    fs.mkdirSync(path.join(src, long), { recursive: true });
    fs.writeFileSync(path.join(src, long, 'test_batch.bin'), 'payload');
    const out = path.join(base, 'system.tar');
    execFileSync('tar', ['-cf', out, '-C', src, '.']);
    const entries = readTar(fs.readFileSync(out), out);
    const entry = entries.find((e) => e.name.endsWith('test_batch.bin'));
    expect(entry?.name).toBe(`./${long}/test_batch.bin`);
    expect(Buffer.from(entry!.data).toString()).toBe('payload');
  });
});
