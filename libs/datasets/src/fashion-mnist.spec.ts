import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { loadDataset } from './load.js';
import { OFFICIAL_SOURCES } from './sources.js';

/** Debian's `dataset-fashion-mnist` (CI installs it). */
const DEBIAN = '/usr/share/datasets/fashion-mnist';
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * SHA-256 of every split's 64×64 pixels as Pillow 9.4 (Debian python3-pil) makes them:
 * `Image.frombytes('L', (28, 28), raw).resize((64, 64), Image.BILINEAR).tobytes()` over the images in file order.
 */
const PIL_64_SHA256 = {
  train: '6d6cc7932e8951fbda0002b6456aedcc3a8485ab424fc6e602b0beb1454f7edd',
  test: 'de436edbd0af7d27ef5b285f89ea482b8534bd11a3b08925507106a5730b6f93',
};

/**
 * The same for the tensor route, as torchvision 0.14 (Debian python3-torchvision) makes them:
 * `transforms.Resize([64, 64])` on the uint8 images, as the original's Dataset.py does (fixtures/tensor-golden.py
 * prints them).
 */
const TENSOR_64_SHA256 = {
  train: '33506913db05b7c53ae914bd9578320005c258dd365685bb564ef25d7ac099a7',
  test: '2f06ef1ebc4a6004ad8d60281cb989b74d5034146afded9f9a5a74cf78133485',
};

function rawLabels(name: string): Uint8Array {
  return new Uint8Array(zlib.gunzipSync(fs.readFileSync(path.join(DEBIAN, name))).subarray(8));
}

const perClass = (labels: Uint8Array): number[] =>
  Array.from({ length: 10 }, (_, k) => labels.filter((l) => l === k).length);

describe.skipIf(lacks('fashion-mnist'))(`the real Fashion-MNIST from ${DEBIAN}`, () => {
  it('has 60 000 training images, 6 000 per class, in file order, resized exactly as Pillow does', async () => {
    const train = await loadDataset({ kind: 'fashion-mnist', split: 'train', cacheDir: false });
    expect(train).toMatchObject({ length: 60_000, height: 64, width: 64, source: DEBIAN });
    expect(Array.from(train.labels.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    expect(perClass(train.labels)).toEqual(Array(10).fill(6_000));
    expect(train.labels).toEqual(rawLabels('train-labels-idx1-ubyte.gz'));
    expect(sha256(train.pixels)).toBe(PIL_64_SHA256.train);
  });

  it('has 10 000 test images, 1 000 per class, resized exactly as Pillow does', async () => {
    const test = await loadDataset({ kind: 'fashion-mnist', split: 'test', cacheDir: false });
    expect(test.length).toBe(10_000);
    expect(Array.from(test.labels.subarray(0, 10))).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    expect(perClass(test.labels)).toEqual(Array(10).fill(1_000));
    expect(test.labels).toEqual(rawLabels('t10k-labels-idx1-ubyte.gz'));
    expect(sha256(test.pixels)).toBe(PIL_64_SHA256.test);
  });

  it.each(['train', 'test'] as const)(
    'resizes the %s split exactly as torchvision does a uint8 tensor with the tensor route',
    async (split) => {
      const set = await loadDataset({ kind: 'fashion-mnist', split, resizeRoute: 'tensor', cacheDir: false });
      expect(set.resizeRoute).toBe('tensor');
      expect(sha256(set.pixels)).toBe(TENSOR_64_SHA256[split]);
    }
  );

  it('ships the official files with only the gzip header rewritten, so the published SHA-256 sums apply', () => {
    // Debian's .gz files hash differently (no file name, a 2020 mtime, 24 bytes shorter); the compressed stream is the
    // official one: with the original header (FNAME flag, name, the 2017 mtime) put back, the bytes are the
    // published ones.
    const mtimes: Record<string, number> = { train: 0x59a7e9de, t10k: 0x59a7e9f3 };
    for (const file of OFFICIAL_SOURCES['fashion-mnist']) {
      const debian = fs.readFileSync(path.join(DEBIAN, file.name));
      expect(sha256(debian)).not.toBe(file.sha256);
      const header = Buffer.from([0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0, 0x00, 0x03]);
      header.writeUInt32LE(mtimes[file.name.split('-')[0]!]!, 4);
      const name = Buffer.from(`${file.name.replace(/\.gz$/, '')}\0`, 'latin1');
      const official = Buffer.concat([header, name, debian.subarray(10)]);
      expect(official.length).toBe(file.size);
      expect(sha256(official), file.name).toBe(file.sha256);
    }
  });
});
