import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { DatasetFormatError, errorMessage } from './errors.js';
import type { RawImages } from './idx.js';
import { checkLabels } from './idx.js';
import { rgbToGray } from './resize.js';
import { readTar } from './tar.js';

const gunzip = promisify(zlib.gunzip);

/** CIFAR-10 image side. */
export const CIFAR_SIZE = 32;
/** One record of the binary version: 1 label byte, then 1024 red, 1024 green and 1024 blue bytes. */
export const CIFAR_RECORD_BYTES = 1 + 3 * CIFAR_SIZE * CIFAR_SIZE;
/** The training batches of the binary version, in canonical order. */
export const CIFAR_TRAIN_FILES = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
];
/** The test batch of the binary version. */
export const CIFAR_TEST_FILES = ['test_batch.bin'];
/** The official archive's name. */
export const CIFAR_ARCHIVE = 'cifar-10-binary.tar.gz';

/**
 * Converts CIFAR-10 binary batches (concatenated, in order) into grey images with Pillow's "L" formula and their
 * labels.
 */
export function parseCifarBatches(
  batches: readonly { file: string; bytes: Uint8Array }[],
  numClasses: number
): { images: RawImages; labels: Uint8Array } {
  let count = 0;
  for (const { file, bytes } of batches) {
    if (bytes.length === 0 || bytes.length % CIFAR_RECORD_BYTES !== 0) {
      throw new DatasetFormatError(
        file,
        `has ${bytes.length} bytes, not a positive multiple of the ${CIFAR_RECORD_BYTES}-byte CIFAR-10 record (1 label + 3×32×32)`
      );
    }
    count += bytes.length / CIFAR_RECORD_BYTES;
  }
  const plane = CIFAR_SIZE * CIFAR_SIZE;
  const pixels = new Uint8Array(count * plane);
  const labels = new Uint8Array(count);
  let n = 0;
  for (const { file, bytes } of batches) {
    const records = bytes.length / CIFAR_RECORD_BYTES;
    for (let r = 0; r < records; r++, n++) {
      const base = r * CIFAR_RECORD_BYTES;
      labels[n] = bytes[base]!;
      const red = base + 1;
      const out = n * plane;
      for (let p = 0; p < plane; p++) {
        pixels[out + p] = rgbToGray(bytes[red + p]!, bytes[red + plane + p]!, bytes[red + 2 * plane + p]!);
      }
    }
    checkLabels(labels.subarray(n - records, n), numClasses, file);
  }
  return { images: { count, height: CIFAR_SIZE, width: CIFAR_SIZE, pixels }, labels };
}

/** Reads the named CIFAR-10 batch files from a directory. */
export async function readCifarFiles(
  files: readonly string[],
  numClasses: number
): Promise<{ images: RawImages; labels: Uint8Array }> {
  const batches = await Promise.all(files.map(async (file) => ({ file, bytes: await fs.readFile(file) })));
  return parseCifarBatches(batches, numClasses);
}

/** Reads the named CIFAR-10 batches (by base name) straight out of `cifar-10-binary.tar.gz`. */
export async function readCifarArchive(
  archive: string,
  names: readonly string[],
  numClasses: number
): Promise<{ images: RawImages; labels: Uint8Array }> {
  let tar: Uint8Array;
  try {
    tar = await gunzip(await fs.readFile(archive));
  } catch (error: unknown) {
    if ((error as { code?: string }).code === 'ENOENT') throw error;
    throw new DatasetFormatError(archive, `is not a valid gzip stream (${errorMessage(error)})`, { cause: error });
  }
  const entries = readTar(tar, archive);
  const batches = names.map((name) => {
    const entry = entries.find((e) => path.posix.basename(e.name) === name);
    if (!entry) {
      throw new DatasetFormatError(
        archive,
        `has no member ${name} (members: ${entries.map((e) => e.name).join(', ') || 'none'})`
      );
    }
    return { file: `${archive}:${entry.name}`, bytes: entry.data };
  });
  return parseCifarBatches(batches, numClasses);
}
