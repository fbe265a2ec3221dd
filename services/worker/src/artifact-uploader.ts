import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Metadata, status } from '@grpc/grpc-js';
import type {
  ArtifactKind,
  CheckpointRef,
  CoordinatorClient,
  UploadArtifactRequest,
  UploadArtifactResponse,
} from '@supwalsh/proto';
import { createBackoff, deadlineIn, isRetryable, sleep, type BackoffOptions } from './backoff.js';
import { ArtifactUploadError, isServiceError, StaleShardError, toError } from './errors.js';
import { silentWorkerLogger, type WorkerLogger } from './logger.js';

/** Bytes of content per `UploadArtifact` message. */
export const UPLOAD_CHUNK_BYTES = 1 << 20;

/** One file a shard stores through `Coordinator.UploadArtifact`. */
export interface ArtifactFile {
  readonly kind: ArtifactKind;
  /** 1–255 characters from [A-Za-z0-9._-]. */
  readonly name: string;
  readonly mediaType: string;
  readonly data: Uint8Array;
  /** For checkpoints: where it was taken (phase, epoch, step, end_of_epoch, generation, world_size). */
  readonly checkpoint?: CheckpointRef;
}

/** The uploading shard. */
export interface UploadingShard {
  readonly runId: string;
  readonly generation: number;
  readonly rank: number;
  /** The uploading worker process's instance id, as registered. */
  readonly instanceId: string;
}

/** Options of {@link uploadArtifact}. */
export interface UploadArtifactOptions {
  /** @default 1 MiB ({@link UPLOAD_CHUNK_BYTES}) */
  chunkBytes?: number;
  /** Attempts in all, for statuses worth retrying (UNAVAILABLE, DEADLINE_EXCEEDED, …). @default 6 */
  attempts?: number;
  /** @default 500 ms doubling to 10 s, 40 % jitter */
  backoff?: BackoffOptions;
  /** Stops retrying (the attempt in progress still runs to its deadline). */
  signal?: AbortSignal;
  logger?: WorkerLogger;
}

/** Lowercase hex SHA-256 of `data`. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Stores `file` through the client-streamed `UploadArtifact` (PROTOCOL.md step 7): a first message with the header
 * (size and SHA-256 of the whole content), then the content in `chunkBytes` pieces. Retries the whole upload on
 * transient statuses (the coordinator deduplicates by run, kind, name and SHA-256). Throws `StaleShardError` for
 * FAILED_PRECONDITION / NOT_FOUND (the shard must stop) and `ArtifactUploadError` otherwise.
 */
export async function uploadArtifact(
  client: CoordinatorClient,
  shard: UploadingShard,
  file: ArtifactFile,
  options: UploadArtifactOptions = {}
): Promise<UploadArtifactResponse> {
  const chunkBytes = options.chunkBytes ?? UPLOAD_CHUNK_BYTES;
  const attempts = options.attempts ?? 6;
  const backoff = createBackoff({ initialMs: 500, maxMs: 10_000, ...options.backoff });
  const logger = options.logger ?? silentWorkerLogger;
  const header = {
    runId: shard.runId,
    generation: shard.generation,
    rank: shard.rank,
    instanceId: shard.instanceId,
    kind: file.kind,
    name: file.name,
    mediaType: file.mediaType,
    sizeBytes: file.data.byteLength,
    sha256: sha256Hex(file.data),
    checkpoint: file.checkpoint,
  };
  // A generous deadline: 60 s plus 10 s per 100 MB.
  const deadlineMs = 60_000 + Math.ceil(file.data.byteLength / 10_000_000) * 1_000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await uploadOnce(client, header, file.data, chunkBytes, deadlineMs);
    } catch (error: unknown) {
      if (isServiceError(error) && (error.code === status.FAILED_PRECONDITION || error.code === status.NOT_FOUND)) {
        throw new StaleShardError(
          shard.runId,
          shard.generation,
          `the coordinator refused ${file.name} of run ${shard.runId} generation ${shard.generation}: ${error.details}`,
          { cause: error }
        );
      }
      const reason = isServiceError(error) ? error.details || error.message : toError(error).message;
      if (!isRetryable(error) || attempt >= attempts || options.signal?.aborted) {
        throw new ArtifactUploadError(shard.runId, file.name, `${reason} (attempt ${attempt} of ${attempts})`, {
          cause: error,
        });
      }
      const delay = backoff.next();
      logger.warn('UploadArtifact failed; retrying', { runId: shard.runId, name: file.name, attempt, delay, reason });
      await sleep(delay, options.signal);
    }
  }
}

function uploadOnce(
  client: CoordinatorClient,
  header: NonNullable<UploadArtifactRequest['header']>,
  data: Uint8Array,
  chunkBytes: number,
  deadlineMs: number
): Promise<UploadArtifactResponse> {
  return new Promise<UploadArtifactResponse>((resolve, reject) => {
    const call = client.uploadArtifact(new Metadata(), { deadline: deadlineIn(deadlineMs) }, (error, response) => {
      if (error) reject(error);
      else resolve(response);
    });
    const write = async () => {
      // Header alone first, then the content; `data` fields are views of `data`, never copies.
      const messages = function* (): Generator<UploadArtifactRequest> {
        yield { header, data: new Uint8Array(0) };
        for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
          yield { header: undefined, data: data.subarray(offset, Math.min(offset + chunkBytes, data.byteLength)) };
        }
      };
      for (const message of messages()) {
        if (!call.write(message)) await once(call, 'drain');
      }
      call.end();
    };
    // A write after the call failed throws or never drains; the callback above reports the call's status.
    write().catch(() => call.cancel());
  });
}
