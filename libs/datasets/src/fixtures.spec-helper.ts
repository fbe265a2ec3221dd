import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll } from 'vitest';

/** A fresh temporary directory, removed after the spec file's tests. */
export function tempDir(prefix = 'supwalsh-datasets-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A deterministic byte pattern: image i, pixel p. */
export function patternPixel(i: number, p: number): number {
  return (i * 37 + p * 11 + ((p * p) >> 3)) & 0xff;
}

/** IDX3 images file bytes (magic 2051, count, rows, cols, pixels). */
export function idxImages(count: number, rows: number, cols: number, pixel = patternPixel): Buffer {
  const bytes = Buffer.alloc(16 + count * rows * cols);
  bytes.writeUInt32BE(2051, 0);
  bytes.writeUInt32BE(count, 4);
  bytes.writeUInt32BE(rows, 8);
  bytes.writeUInt32BE(cols, 12);
  for (let i = 0; i < count; i++) for (let p = 0; p < rows * cols; p++) bytes[16 + i * rows * cols + p] = pixel(i, p);
  return bytes;
}

/** IDX1 labels file bytes (magic 2049, count, labels). */
export function idxLabels(labels: readonly number[]): Buffer {
  const bytes = Buffer.alloc(8 + labels.length);
  bytes.writeUInt32BE(2049, 0);
  bytes.writeUInt32BE(labels.length, 4);
  Buffer.from(labels).copy(bytes, 8);
  return bytes;
}

/**
 * Writes a small MNIST-format dataset into `dir`: `train` and `test` image counts, 28×28, labels `i % 10`
 * (offset by 3 for test), gzipped or not.
 */
export function writeIdxDataset(dir: string, options: { train?: number; test?: number; gzip?: boolean } = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  const write = (name: string, bytes: Buffer): void => {
    if (options.gzip) fs.writeFileSync(path.join(dir, `${name}.gz`), zlib.gzipSync(bytes));
    else fs.writeFileSync(path.join(dir, name), bytes);
  };
  const train = options.train ?? 30;
  const test = options.test ?? 12;
  write('train-images-idx3-ubyte', idxImages(train, 28, 28));
  write('train-labels-idx1-ubyte', idxLabels(Array.from({ length: train }, (_, i) => i % 10)));
  write(
    't10k-images-idx3-ubyte',
    idxImages(test, 28, 28, (i, p) => patternPixel(i + 1000, p))
  );
  write('t10k-labels-idx1-ubyte', idxLabels(Array.from({ length: test }, (_, i) => (i + 3) % 10)));
}

/** One CIFAR-10 binary record: label, then R, G, B planes of 32×32. */
export function cifarRecord(label: number, rgb: (p: number) => [number, number, number]): Buffer {
  const record = Buffer.alloc(3073);
  record[0] = label;
  for (let p = 0; p < 1024; p++) {
    const [r, g, b] = rgb(p);
    record[1 + p] = r;
    record[1 + 1024 + p] = g;
    record[1 + 2048 + p] = b;
  }
  return record;
}

/** The colour of pixel p of record n of batch `batch` in the test CIFAR files. */
export function cifarColour(batch: number, n: number, p: number): [number, number, number] {
  return [(p * 7 + n * 13 + batch) & 0xff, (p * 3 + n * 29 + 2 * batch) & 0xff, (p * 5 + n * 31 + 3 * batch) & 0xff];
}

/** The CIFAR batch files (name → bytes): `perBatch` records in each of the five train batches and the test batch. */
export function cifarBatches(perBatch: number): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const names = [
    'data_batch_1.bin',
    'data_batch_2.bin',
    'data_batch_3.bin',
    'data_batch_4.bin',
    'data_batch_5.bin',
    'test_batch.bin',
  ];
  names.forEach((name, batch) => {
    const records = Array.from({ length: perBatch }, (_, n) =>
      cifarRecord((batch * perBatch + n) % 10, (p) => cifarColour(batch, n, p))
    );
    files.set(name, Buffer.concat(records));
  });
  return files;
}

function tarHeader(name: string, size: number, type: string): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write(`${(1_300_000_000).toString(8).padStart(11, '0')}\0`, 136);
  header.write('        ', 148);
  header.write(type, 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

/** A ustar archive (uncompressed) of `files` (name → bytes), with a directory entry for each parent. */
export function tarArchive(files: ReadonlyMap<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const [name, data] of files) {
    const dir = path.posix.dirname(name);
    if (dir !== '.' && !dirs.has(dir)) {
      dirs.add(dir);
      parts.push(tarHeader(`${dir}/`, 0, '5'));
    }
    parts.push(tarHeader(name, data.length, '0'), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A recording logger. */
export function recordingLogger(): {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  infos: string[];
  warns: string[];
} {
  const infos: string[] = [];
  const warns: string[] = [];
  return { info: (m) => void infos.push(m), warn: (m) => void warns.push(m), infos, warns };
}
