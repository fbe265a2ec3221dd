import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { errorMessage } from './errors.js';
import type { DatasetKind, DatasetSplit } from './kinds.js';
import type { DatasetLogger } from './logger.js';
import type { ResizeRoute } from './resize.js';

/**
 * Version of the preprocessing (decoding, grey conversion, resampling). Bump it whenever any of them changes what
 * bytes come out: every cache entry made before then stops matching.
 */
export const PREPROCESS_VERSION = 1;

/** First bytes of every cache file. */
export const CACHE_MAGIC = 'SWDSET\r\n';
/** Version of the cache file layout. */
export const CACHE_FORMAT_VERSION = 1;
const HEADER_BYTES = 64;

/** What a cache entry is for: identifies it together with its source files' identity. */
export interface CacheKeyParts {
  readonly kind: DatasetKind;
  readonly split: DatasetSplit;
  readonly imageSize: number;
  /** How the images were resized: entries of the two routes never stand in for each other. */
  readonly resizeRoute: ResizeRoute;
  /** The source files read (absolute paths); their size and mtime go into the key. */
  readonly sources: readonly string[];
}

/** A cache entry's file name and the 16-byte digest stored in its header. */
export interface CacheKey {
  readonly file: string;
  readonly digest: Uint8Array;
}

/** The preprocessed contents of a split, as cached. */
export interface CachedSplit {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/**
 * The cache file for `parts` under `cacheDir`: its name holds kind, split, size and resize route for people, and a
 * hash of (format and preprocessing versions, kind, split, size, resize route, and each source file's resolved path,
 * size and mtime).
 */
export async function cacheKey(cacheDir: string, parts: CacheKeyParts): Promise<CacheKey> {
  const sources = await Promise.all(
    parts.sources.map(async (file) => {
      const real = await fs.realpath(file);
      const stat = await fs.stat(real);
      return { path: real, size: stat.size, mtimeMs: stat.mtimeMs };
    })
  );
  const identity = JSON.stringify({
    format: CACHE_FORMAT_VERSION,
    preprocess: PREPROCESS_VERSION,
    kind: parts.kind,
    split: parts.split,
    imageSize: parts.imageSize,
    resizeRoute: parts.resizeRoute,
    sources,
  });
  const hash = createHash('sha256').update(identity).digest();
  const name = `${parts.kind}-${parts.split}-${parts.imageSize}px-${parts.resizeRoute}-${hash.subarray(0, 8).toString('hex')}.u8`;
  return { file: path.join(path.resolve(cacheDir), name), digest: new Uint8Array(hash.subarray(0, 16)) };
}

function checksum(pixels: Uint8Array, labels: Uint8Array): number {
  return zlib.crc32(labels, zlib.crc32(pixels)) >>> 0;
}

/**
 * Reads a cache entry. Returns undefined when there is none; when the file is there but is not a whole, matching
 * entry (wrong magic, version, key, dimensions or size, a bad checksum, a label out of range) it warns and returns
 * undefined too, so the caller rebuilds and overwrites it.
 */
export async function readCache(
  key: CacheKey,
  expect: { height: number; width: number; numClasses: number },
  logger: DatasetLogger
): Promise<CachedSplit | undefined> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(key.file);
  } catch (error: unknown) {
    const code = (error as { code?: string }).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      logger.warn(`dataset cache unreadable, rebuilding: ${errorMessage(error)}`, { file: key.file });
    }
    return undefined;
  }
  const problem = ((): string | CachedSplit => {
    if (bytes.length < HEADER_BYTES) return `${bytes.length} bytes, shorter than the header`;
    if (bytes.toString('latin1', 0, 8) !== CACHE_MAGIC) return 'wrong magic';
    const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
    const format = view.getUint32(8, true);
    if (format !== CACHE_FORMAT_VERSION) return `format version ${format}, expected ${CACHE_FORMAT_VERSION}`;
    const preprocess = view.getUint32(12, true);
    if (preprocess !== PREPROCESS_VERSION) return `preprocess version ${preprocess}, expected ${PREPROCESS_VERSION}`;
    if (!bytes.subarray(40, 56).equals(key.digest)) return 'key digest does not match its name';
    const count = view.getUint32(16, true);
    const height = view.getUint32(20, true);
    const width = view.getUint32(24, true);
    const channels = view.getUint32(28, true);
    const numClasses = view.getUint32(32, true);
    if (height !== expect.height || width !== expect.width || channels !== 1 || numClasses !== expect.numClasses) {
      return `dimensions ${height}×${width}×${channels}, ${numClasses} classes; expected ${expect.height}×${expect.width}×1, ${expect.numClasses}`;
    }
    const size = HEADER_BYTES + count * height * width + count;
    if (bytes.length !== size) return `${bytes.length} bytes, expected ${size} for ${count} images (truncated?)`;
    const pixels = new Uint8Array(bytes.buffer, bytes.byteOffset + HEADER_BYTES, count * height * width);
    const labels = new Uint8Array(bytes.buffer, bytes.byteOffset + HEADER_BYTES + pixels.length, count);
    if (checksum(pixels, labels) !== view.getUint32(36, true)) return 'checksum mismatch';
    for (let i = 0; i < count; i++) if (labels[i]! >= numClasses) return `label ${i} out of range`;
    return { count, height, width, pixels, labels };
  })();
  if (typeof problem === 'string') {
    logger.warn(`dataset cache entry is corrupt (${problem}); ignoring and rebuilding it`, { file: key.file });
    return undefined;
  }
  return problem;
}

/**
 * Writes a cache entry atomically: to a temporary file in the cache directory, then renamed over the entry, so
 * concurrent loaders never see half a file. Failing to write (read-only directory, full disk) only warns.
 */
export async function writeCache(
  key: CacheKey,
  split: CachedSplit,
  numClasses: number,
  logger: DatasetLogger
): Promise<boolean> {
  const dir = path.dirname(key.file);
  const temp = path.join(dir, `.${path.basename(key.file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(CACHE_MAGIC, 0, 'latin1');
  header.writeUInt32LE(CACHE_FORMAT_VERSION, 8);
  header.writeUInt32LE(PREPROCESS_VERSION, 12);
  header.writeUInt32LE(split.count, 16);
  header.writeUInt32LE(split.height, 20);
  header.writeUInt32LE(split.width, 24);
  header.writeUInt32LE(1, 28);
  header.writeUInt32LE(numClasses, 32);
  header.writeUInt32LE(checksum(split.pixels, split.labels), 36);
  header.set(key.digest, 40);
  try {
    await fs.mkdir(dir, { recursive: true });
    const handle = await fs.open(temp, 'w');
    try {
      // writeFile loops until every byte is written and continues from the current position.
      for (const part of [header, split.pixels, split.labels]) await handle.writeFile(part);
    } finally {
      await handle.close();
    }
    await fs.rename(temp, key.file);
    return true;
  } catch (error: unknown) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    logger.warn(`could not write the dataset cache: ${errorMessage(error)}`, { file: key.file });
    return false;
  }
}
