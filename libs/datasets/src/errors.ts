/** Thrown when a datasets function gets an argument outside its valid range (the message names the valid values). */
export class DatasetArgumentError extends Error {
  override readonly name = 'DatasetArgumentError';
  constructor(
    /** The function that rejected the call, e.g. `loadDataset`. */
    readonly fn: string,
    /** The argument that was out of range, e.g. `options.imageSize` or `indices[3]`. */
    readonly argument: string,
    message: string
  ) {
    super(`${fn}: ${argument} ${message}`);
  }
}

/**
 * Thrown when a dataset's standard files are in none of the places searched. The message lists what is missing,
 * every place that was looked at, and how to get the files.
 */
export class DatasetNotFoundError extends Error {
  override readonly name = 'DatasetNotFoundError';
  constructor(
    /** The dataset kind that was asked for. */
    readonly kind: string,
    /** The standard file names that were missing (from the last place searched, or the only one). */
    readonly missing: readonly string[],
    /** Every directory that was searched, in order. */
    readonly searched: readonly string[],
    message: string
  ) {
    super(message);
  }
}

/**
 * Thrown when a dataset file is not what its name says: a wrong magic number, dimensions or record counts that do
 * not agree, a truncated file, a label outside the classes, a broken tar or gzip stream.
 */
export class DatasetFormatError extends Error {
  override readonly name = 'DatasetFormatError';
  constructor(
    /** The file that is malformed (for a tar member, `archive.tar.gz:member`). */
    readonly file: string,
    /** What is wrong with it. */
    readonly problem: string,
    options?: { cause?: unknown }
  ) {
    super(`${file}: ${problem}`, options);
  }
}

/** Thrown when a downloaded file's SHA-256 differs from the published one; the file is deleted first. */
export class DatasetChecksumError extends Error {
  override readonly name = 'DatasetChecksumError';
  constructor(
    /** The URL the file came from. */
    readonly url: string,
    /** The SHA-256 (hex) that was expected. */
    readonly expected: string,
    /** The SHA-256 (hex) of what arrived. */
    readonly actual: string
  ) {
    super(`${url}: SHA-256 mismatch, expected ${expected}, got ${actual}; the download was deleted`);
  }
}

/** Thrown when `download: true` could not fetch a file from any of its URLs (network error or HTTP status). */
export class DatasetDownloadError extends Error {
  override readonly name = 'DatasetDownloadError';
  constructor(
    /** The standard file name that could not be fetched. */
    readonly file: string,
    /** What went wrong at each URL tried, in order. */
    readonly attempts: readonly string[],
    options?: { cause?: unknown }
  ) {
    super(`could not download ${file}: ${attempts.join('; ')}`, options);
  }
}

/** Normalises anything caught into a message a person can read. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
