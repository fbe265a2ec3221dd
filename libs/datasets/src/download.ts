import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatasetChecksumError, DatasetDownloadError, errorMessage } from './errors.js';
import type { DatasetLogger } from './logger.js';
import type { DownloadFile } from './sources.js';

/**
 * Fetches `file` into `dir` (created if needed) with the global `fetch`, trying its URLs in order: the body streams
 * into a temporary file beside the target while its SHA-256 is computed; on a match the temporary file is renamed
 * into place (so a reader never sees half a file), on a mismatch it is deleted and the next URL is tried. Throws
 * `DatasetChecksumError` when some URL served the wrong bytes and none the right ones, else `DatasetDownloadError`.
 * Returns the file's path.
 */
export async function downloadFile(file: DownloadFile, dir: string, logger: DatasetLogger): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const target = path.join(dir, file.name);
  const attempts: string[] = [];
  let mismatch: DatasetChecksumError | undefined;
  for (const url of file.urls) {
    const temp = path.join(dir, `.${file.name}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
    try {
      logger.info(`downloading ${url}`, { url, target, bytes: file.size });
      const response = await fetch(url);
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        attempts.push(`${url}: HTTP ${response.status}`);
        logger.warn(`download failed: ${url}: HTTP ${response.status}`, { url, status: response.status });
        continue;
      }
      const hash = createHash('sha256');
      const handle = await fs.open(temp, 'w');
      let bytes = 0;
      try {
        for await (const chunk of response.body) {
          hash.update(chunk);
          bytes += chunk.length;
          await handle.write(chunk);
        }
      } finally {
        await handle.close();
      }
      const actual = hash.digest('hex');
      if (actual !== file.sha256.toLowerCase()) {
        await fs.rm(temp, { force: true });
        mismatch = new DatasetChecksumError(url, file.sha256, actual);
        attempts.push(mismatch.message);
        logger.warn(mismatch.message, { url, expected: file.sha256, actual, bytes });
        continue;
      }
      await fs.rename(temp, target);
      logger.info(`downloaded ${file.name} (${bytes} bytes, SHA-256 ok)`, { url, target, bytes, sha256: actual });
      return target;
    } catch (error: unknown) {
      await fs.rm(temp, { force: true });
      attempts.push(`${url}: ${errorMessage(error)}`);
      logger.warn(`download failed: ${url}: ${errorMessage(error)}`, { url });
    }
  }
  if (mismatch) throw mismatch;
  throw new DatasetDownloadError(file.name, attempts);
}
