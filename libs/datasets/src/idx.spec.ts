import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DatasetFormatError } from './errors.js';
import { idxImages, idxLabels, tempDir } from './fixtures.spec-helper.js';
import { parseIdxImages, parseIdxLabels, readIdxPair, readMaybeGzipped } from './idx.js';

describe('the IDX reader', () => {
  const dir = tempDir();

  it('reads images and labels, gzipped or not', async () => {
    const images = idxImages(3, 28, 28);
    fs.writeFileSync(path.join(dir, 'a-images'), images);
    fs.writeFileSync(path.join(dir, 'a-labels.gz'), zlib.gzipSync(idxLabels([7, 0, 9])));
    const pair = await readIdxPair(path.join(dir, 'a-images'), path.join(dir, 'a-labels.gz'), 10);
    expect(pair.images).toMatchObject({ count: 3, height: 28, width: 28 });
    expect(Buffer.from(pair.images.pixels).equals(images.subarray(16))).toBe(true);
    expect(Array.from(pair.labels)).toEqual([7, 0, 9]);
  });

  it('recognises gzip by its magic bytes, not the file name', async () => {
    fs.writeFileSync(path.join(dir, 'no-suffix'), zlib.gzipSync(Buffer.from('hello')));
    expect(Buffer.from(await readMaybeGzipped(path.join(dir, 'no-suffix'))).toString()).toBe('hello');
  });

  it('names the file and the wrong magic number', () => {
    expect(() => parseIdxImages(idxLabels([1, 2]), 'x-images')).toThrow(
      new DatasetFormatError(
        'x-images',
        'magic number is 2049, expected 2051 (IDX unsigned-byte images); this is a labels file'
      )
    );
    expect(() => parseIdxLabels(idxImages(1, 2, 2), 'x-labels', 10)).toThrow(
      /^x-labels: magic number is 2051, expected 2049/
    );
  });

  it('rejects truncated files and trailing bytes with the sizes involved', () => {
    const images = idxImages(2, 4, 4);
    expect(() => parseIdxImages(images.subarray(0, images.length - 1), 'f')).toThrow(
      'f: is truncated: header says 2 images of 4×4 = 48 bytes, file has 47'
    );
    expect(() => parseIdxImages(Buffer.concat([images, Buffer.alloc(1)]), 'f')).toThrow(/has trailing bytes/);
    expect(() => parseIdxLabels(idxLabels([1, 2, 3]).subarray(0, 9), 'l', 10)).toThrow(
      'l: is truncated: header says 3 labels = 11 bytes, file has 9'
    );
    expect(() => parseIdxImages(Buffer.alloc(3), 'f')).toThrow('f: has 3 bytes, too short for an IDX header');
    expect(() => parseIdxImages(idxImages(1, 1, 1).subarray(0, 12), 'f')).toThrow(
      'f: has 12 bytes, less than the 16-byte IDX header'
    );
  });

  it('rejects zero dimensions and labels outside the classes', () => {
    expect(() => parseIdxImages(idxImages(0, 0, 28), 'f')).toThrow(/image dimensions 0×28 are outside/);
    expect(() => parseIdxLabels(idxLabels([1, 10]), 'l', 10)).toThrow('l: label 1 is 10, outside 0…9');
  });

  it('rejects image and label files whose counts differ', async () => {
    fs.writeFileSync(path.join(dir, 'b-images'), idxImages(3, 2, 2));
    fs.writeFileSync(path.join(dir, 'b-labels'), idxLabels([1, 2]));
    await expect(readIdxPair(path.join(dir, 'b-images'), path.join(dir, 'b-labels'), 10)).rejects.toThrow(
      /b-images: holds 3 images but .*b-labels holds 2 labels; the counts must match/
    );
  });

  it('reports a broken gzip stream as a format error', async () => {
    const gz = zlib.gzipSync(idxLabels([1, 2, 3]));
    fs.writeFileSync(path.join(dir, 'broken.gz'), gz.subarray(0, gz.length - 6));
    await expect(readMaybeGzipped(path.join(dir, 'broken.gz'))).rejects.toThrow(
      /broken\.gz: is not a valid gzip stream/
    );
  });
});
