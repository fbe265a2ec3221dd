import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { DatasetFormatError, errorMessage } from './errors.js';

const gunzip = promisify(zlib.gunzip);

/** IDX magic number of an unsigned-byte, 3-dimensional array (images). */
export const IDX_IMAGES_MAGIC = 2051;
/** IDX magic number of an unsigned-byte, 1-dimensional array (labels). */
export const IDX_LABELS_MAGIC = 2049;

/** Raw 8-bit images, row-major, one after another. */
export interface RawImages {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly pixels: Uint8Array;
}

/** Reads a whole file, gunzipping it when it starts with the gzip magic bytes (whatever its name). */
export async function readMaybeGzipped(file: string): Promise<Uint8Array> {
  const bytes = await fs.readFile(file);
  const plain = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return plain(await gunzip(bytes));
    } catch (error: unknown) {
      throw new DatasetFormatError(file, `is not a valid gzip stream (${errorMessage(error)})`, { cause: error });
    }
  }
  return plain(bytes);
}

function u32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** Throws unless `bytes` start with the IDX magic number of `kind`, naming the other kind when it is that. */
function checkMagic(bytes: Uint8Array, file: string, kind: 'images' | 'labels'): void {
  const [expected, other, otherKind] =
    kind === 'images'
      ? [IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, 'a labels']
      : [IDX_LABELS_MAGIC, IDX_IMAGES_MAGIC, 'an images'];
  if (bytes.length < 4) throw new DatasetFormatError(file, `has ${bytes.length} bytes, too short for an IDX header`);
  const magic = u32(bytes, 0);
  if (magic !== expected) {
    throw new DatasetFormatError(
      file,
      `magic number is ${magic}, expected ${expected} (IDX unsigned-byte ${kind})${magic === other ? `; this is ${otherKind} file` : ''}`
    );
  }
}

/** Parses an IDX3 unsigned-byte image file (magic 2051, count, rows, columns, then the pixels). */
export function parseIdxImages(bytes: Uint8Array, file: string): RawImages {
  checkMagic(bytes, file, 'images');
  if (bytes.length < 16)
    throw new DatasetFormatError(file, `has ${bytes.length} bytes, less than the 16-byte IDX header`);
  const count = u32(bytes, 4);
  const height = u32(bytes, 8);
  const width = u32(bytes, 12);
  if (height < 1 || width < 1 || height > 4096 || width > 4096) {
    throw new DatasetFormatError(file, `image dimensions ${height}×${width} are outside 1…4096`);
  }
  const expected = 16 + count * height * width;
  if (bytes.length !== expected) {
    throw new DatasetFormatError(
      file,
      `${bytes.length < expected ? 'is truncated' : 'has trailing bytes'}: header says ${count} images of ${height}×${width} = ${expected} bytes, file has ${bytes.length}`
    );
  }
  return { count, height, width, pixels: bytes.subarray(16) };
}

/** Parses an IDX1 unsigned-byte label file (magic 2049, count, then the labels) and checks labels < numClasses. */
export function parseIdxLabels(bytes: Uint8Array, file: string, numClasses: number): Uint8Array {
  checkMagic(bytes, file, 'labels');
  if (bytes.length < 8)
    throw new DatasetFormatError(file, `has ${bytes.length} bytes, less than the 8-byte IDX header`);
  const count = u32(bytes, 4);
  const expected = 8 + count;
  if (bytes.length !== expected) {
    throw new DatasetFormatError(
      file,
      `${bytes.length < expected ? 'is truncated' : 'has trailing bytes'}: header says ${count} labels = ${expected} bytes, file has ${bytes.length}`
    );
  }
  const labels = bytes.subarray(8);
  checkLabels(labels, numClasses, file);
  return labels;
}

/** Throws a DatasetFormatError naming the first label that is not below numClasses. */
export function checkLabels(labels: Uint8Array, numClasses: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= numClasses) {
      throw new DatasetFormatError(file, `label ${i} is ${labels[i]}, outside 0…${numClasses - 1}`);
    }
  }
}

/** Reads a pair of IDX image and label files (gzipped or not) and checks that their counts agree. */
export async function readIdxPair(
  imagesFile: string,
  labelsFile: string,
  numClasses: number
): Promise<{ images: RawImages; labels: Uint8Array }> {
  const [imageBytes, labelBytes] = await Promise.all([readMaybeGzipped(imagesFile), readMaybeGzipped(labelsFile)]);
  const images = parseIdxImages(imageBytes, imagesFile);
  const labels = parseIdxLabels(labelBytes, labelsFile, numClasses);
  if (images.count !== labels.length) {
    throw new DatasetFormatError(
      imagesFile,
      `holds ${images.count} images but ${labelsFile} holds ${labels.length} labels; the counts must match`
    );
  }
  return { images, labels };
}
