import { createHash, type Hash } from 'node:crypto';
import { createReadStream, renameSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import {
  ArtifactKind,
  CheckpointRef,
  type UploadArtifactHeader,
  type UploadArtifactRequest,
  type UploadArtifactResponse,
} from '@supwalsh/proto';
import { runResultFromJson } from '@supwalsh/wire';
import { newEffects, type CoordinatorContext } from './context.js';
import {
  DataLossError,
  InvalidArgumentError,
  NotFoundError,
  StaleGenerationError,
  StorageFullError,
  toError,
  WrongStateError,
} from './errors.js';
import { newArtifactId, randomBase32 } from './ids.js';
import { emit } from './lifecycle.js';
import { RUN_RESULT_NAME } from './progress.js';
import { artifactToProto, checkpointToProto } from './proto-mapping.js';
import { isActiveRunState } from './states.js';
import type { ArtifactRecord, RunRecord } from './store.js';

/** Largest artifact a worker may upload: 64 GiB (coordinator.proto). */
export const MAX_ARTIFACT_BYTES = 64 * 1024 ** 3;
/** GetArtifact chunk size when the request leaves it 0: 1 MiB. */
export const DEFAULT_DOWNLOAD_CHUNK_BYTES = 1 << 20;
/** Largest GetArtifact chunk (coordinator.proto). */
export const MAX_DOWNLOAD_CHUNK_BYTES = 4_000_000;
/** Directory of experiment-level artifacts inside an experiment's directory. */
export const EXPERIMENT_ARTIFACTS_DIR = '_experiment';

const NAME_SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Per-kind subdirectory of a run's artifacts: WEIGHTS and INITIAL_WEIGHTS both hold a `model.json`. */
const RUN_KIND_DIRS: ReadonlyMap<ArtifactKind, string> = new Map([
  [ArtifactKind.ARTIFACT_KIND_WEIGHTS, 'weights'],
  [ArtifactKind.ARTIFACT_KIND_INITIAL_WEIGHTS, 'initial-weights'],
  [ArtifactKind.ARTIFACT_KIND_CHECKPOINT, 'checkpoints'],
  [ArtifactKind.ARTIFACT_KIND_RESULTS_JSON, 'results'],
]);

/** Kinds a worker may upload; RESULTS_JSON only as the run's `run-result.json` (PROTOCOL.md step 7). */
const WORKER_KINDS: ReadonlySet<ArtifactKind> = new Set(RUN_KIND_DIRS.keys());

/**
 * Checks an artifact name: 1–255 characters, one file name from [A-Za-z0-9._-] optionally under one subdirectory
 * of the same characters (`model.json`, `shards/part-1.bin`); never absolute, never `.` or `..` as a part, no other
 * separator. Throws InvalidArgumentError naming `field`.
 */
export function validateArtifactName(name: string, field = 'name'): void {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(field, `${field} ${why}, got ${JSON.stringify(name)}`);
  };
  if (name.length < 1 || name.length > 255) fail('must be 1–255 characters');
  const parts = name.split('/');
  if (parts.length > 2 || parts.some((part) => part === '.' || part === '..' || !NAME_SEGMENT.test(part))) {
    fail(
      'must be a file name from [A-Za-z0-9._-], optionally under one subdirectory of the same characters ("dir/file"; not "." or "..")'
    );
  }
}

/**
 * Where an artifact lives, relative to the artifacts directory: `<experiment>/<run>/<kind dir>/<name>` for a
 * run's files, `<experiment>/_experiment/<name>` for the experiment's own.
 */
export function artifactRelativePath(experimentId: string, runId: string, kind: ArtifactKind, name: string): string {
  if (!runId) return path.join(experimentId, EXPERIMENT_ARTIFACTS_DIR, name);
  return path.join(experimentId, runId, RUN_KIND_DIRS.get(kind) ?? 'other', name);
}

/** The absolute path of a stored artifact; refuses any path outside the artifacts directory. */
export function artifactAbsolutePath(artifactsDir: string, relativePath: string): string {
  const root = path.resolve(artifactsDir);
  const absolute = path.resolve(root, relativePath);
  if (!absolute.startsWith(`${root}${path.sep}`)) {
    throw new InvalidArgumentError('name', `artifact path ${JSON.stringify(relativePath)} leaves the artifact store`);
  }
  return absolute;
}

/** A piece of an artifact's content as GetArtifact sends it. */
export interface ArtifactPiece {
  /** Offset of `data` in the artifact. */
  readonly offset: number;
  readonly data: Buffer;
}

/**
 * Reads a stored artifact from `offset` in pieces of at most `chunkBytes`, proving it against the size and SHA-256
 * recorded at upload: a file of another size fails before anything is sent, and content that hashes differently
 * fails after the last piece (the whole file is hashed, the part before `offset` too, so a resumed download is
 * proved as well). Failures: NotFoundError (the file is missing) and DataLossError; neither message holds a server
 * path. The caller must send nothing as final (no OK) until the generator has returned.
 */
export async function* readArtifact(
  artifactsDir: string,
  artifact: ArtifactRecord,
  offset: number,
  chunkBytes: number
): AsyncGenerator<ArtifactPiece> {
  const file = artifactAbsolutePath(artifactsDir, artifact.path);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error: unknown) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new NotFoundError('artifact', artifact.id, 'its file is missing from the artifact store');
    }
    throw new Error(`artifact ${artifact.id}: its file cannot be read (${String(code ?? 'error')})`, { cause: error });
  }
  const lost = (what: string) =>
    new DataLossError(
      artifact.id,
      `artifact ${artifact.id} (${artifact.name}) is damaged in the artifact store: ${what}; it must be produced again`
    );
  if (size !== artifact.sizeBytes) throw lost(`${size} bytes on disk, ${artifact.sizeBytes} recorded at upload`);
  const verify = /^[0-9a-f]{64}$/.test(artifact.sha256);
  const hash = createHash('sha256');
  let at = 0;
  if (size > 0) {
    const stream = createReadStream(file, { highWaterMark: Math.max(chunkBytes, 64 * 1024) });
    try {
      for await (const chunk of stream) {
        const data = chunk as Buffer;
        if (verify) hash.update(data);
        const end = at + data.byteLength;
        // Only what lies at or after `offset` is sent, in pieces of at most chunkBytes.
        for (let from = Math.max(offset, at); from < end; from += chunkBytes) {
          const to = Math.min(from + chunkBytes, end);
          yield { offset: from, data: data.subarray(from - at, to - at) };
        }
        at = end;
      }
    } finally {
      stream.destroy();
    }
  }
  if (at !== artifact.sizeBytes) throw lost(`${at} bytes read, ${artifact.sizeBytes} recorded at upload`);
  if (verify && hash.digest('hex') !== artifact.sha256)
    throw lost('its SHA-256 differs from the one recorded at upload');
}

/** Lowercase hex SHA-256 and size of a file, read as a stream. */
export async function hashFile(file: string): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    sizeBytes += (chunk as Buffer).byteLength;
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

function isNoSpace(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

function validateHeader(header: UploadArtifactHeader): void {
  if (!header.runId) throw new InvalidArgumentError('header.run_id', 'header.run_id is required');
  if (!WORKER_KINDS.has(header.kind)) {
    throw new InvalidArgumentError(
      'header.kind',
      `header.kind must be ARTIFACT_KIND_CHECKPOINT, ARTIFACT_KIND_WEIGHTS, ARTIFACT_KIND_INITIAL_WEIGHTS or ARTIFACT_KIND_RESULTS_JSON (${RUN_RESULT_NAME}), got ${header.kind}`
    );
  }
  validateArtifactName(header.name, 'header.name');
  if (header.kind === ArtifactKind.ARTIFACT_KIND_RESULTS_JSON && header.name !== RUN_RESULT_NAME) {
    throw new InvalidArgumentError(
      'header.name',
      `header.name must be ${RUN_RESULT_NAME} for ARTIFACT_KIND_RESULTS_JSON, got ${JSON.stringify(header.name)}`
    );
  }
  if (!Number.isSafeInteger(header.sizeBytes) || header.sizeBytes < 0 || header.sizeBytes > MAX_ARTIFACT_BYTES) {
    throw new InvalidArgumentError(
      'header.size_bytes',
      `header.size_bytes must be from 0 to ${MAX_ARTIFACT_BYTES}, got ${header.sizeBytes}`
    );
  }
  if (!/^[0-9a-f]{64}$/.test(header.sha256)) {
    throw new InvalidArgumentError('header.sha256', 'header.sha256 must be 64 lowercase hex digits');
  }
  if (header.mediaType.length > 255) {
    throw new InvalidArgumentError('header.media_type', 'header.media_type must be at most 255 characters');
  }
}

/** The run may take an upload from this shard: current generation, still running, rank 0. */
function checkUploader(run: RunRecord, header: UploadArtifactHeader): void {
  if (header.generation !== run.generation) throw new StaleGenerationError(run.id, header.generation, run.generation);
  if (!isActiveRunState(run.state)) {
    throw new WrongStateError(
      'run',
      run.id,
      run.state,
      `run ${run.id} is ${run.state}: it takes no more artifacts; the shard must stop`
    );
  }
  // Every rank holds the same state after a step, so any rank may store a checkpoint: a draining worker hands its
  // run over through one (step 11). Everything else comes from rank 0.
  if (header.rank !== 0 && header.kind !== ArtifactKind.ARTIFACT_KIND_CHECKPOINT) {
    throw new InvalidArgumentError(
      'header.rank',
      `header.rank must be 0 (only rank 0 uploads artifacts other than checkpoints), got ${header.rank}`
    );
  }
}

function uploadResponse(artifact: ArtifactRecord): UploadArtifactResponse {
  return {
    artifact: artifactToProto(artifact),
    checkpoint: artifact.checkpoint ? checkpointToProto(artifact) : undefined,
  };
}

/**
 * UploadArtifact (PROTOCOL.md step 7): the first message's header says what comes (run, generation, kind, name,
 * size, SHA-256); the content is streamed into a temporary file beside its destination, checked against the
 * header, then renamed into place and recorded with its event (ArtifactReady, or CheckpointSaved for a checkpoint)
 * in one transaction. Checkpoints beyond the spec's `checkpoints.keep_last` are deleted, rows and files. The same
 * run, kind, name and SHA-256 again returns the stored artifact.
 */
export async function uploadArtifact(
  ctx: CoordinatorContext,
  messages: AsyncIterable<UploadArtifactRequest>
): Promise<UploadArtifactResponse> {
  const { store } = ctx;
  let header: UploadArtifactHeader | undefined;
  let existing: ArtifactRecord | undefined;
  let run: RunRecord | undefined;
  let relativePath = '';
  let finalPath = '';
  let tempPath: string | undefined;
  let file: FileHandle | undefined;
  const hash: Hash = createHash('sha256');
  let received = 0;
  try {
    for await (const message of messages) {
      if (!header) {
        if (!message.header) throw new InvalidArgumentError('header', 'header must be set in the first message');
        header = message.header;
        validateHeader(header);
        run = store.getRun(header.runId);
        if (!run) throw new NotFoundError('run', header.runId);
        const stored = store.findArtifact(run.experimentId, run.id, header.kind, header.name);
        if (stored && stored.sha256 === header.sha256) {
          existing = stored;
        } else {
          checkUploader(run, header);
          relativePath = artifactRelativePath(run.experimentId, run.id, header.kind, header.name);
          finalPath = artifactAbsolutePath(ctx.artifactsDir, relativePath);
          await mkdir(path.dirname(finalPath), { recursive: true });
          tempPath = path.join(path.dirname(finalPath), `.upload-${randomBase32(12)}.tmp`);
          file = await open(tempPath, 'wx');
        }
      } else if (message.header) {
        throw new InvalidArgumentError('header', 'header must be set in the first message only');
      }
      const data = message.data;
      if (data.byteLength === 0) continue;
      received += data.byteLength;
      if (received > header.sizeBytes) {
        throw new InvalidArgumentError(
          'header.size_bytes',
          `header.size_bytes is ${header.sizeBytes} but more bytes arrived`
        );
      }
      hash.update(data);
      if (file) await file.write(data);
    }
    if (!header || !run) throw new InvalidArgumentError('header', 'header missing: the upload stream was empty');
    if (received !== header.sizeBytes) {
      throw new InvalidArgumentError(
        'header.size_bytes',
        `header.size_bytes is ${header.sizeBytes} but the content has ${received} bytes`
      );
    }
    const sha256 = hash.digest('hex');
    if (sha256 !== header.sha256) {
      throw new InvalidArgumentError('header.sha256', `header.sha256 does not match the content (${sha256})`);
    }
    if (existing) return uploadResponse(existing);
    if (!file || !tempPath) throw new Error('uploadArtifact: no temporary file');
    await file.sync();
    await file.close();
    file = undefined;
    if (header.kind === ArtifactKind.ARTIFACT_KIND_RESULTS_JSON) {
      try {
        runResultFromJson(await readFile(tempPath, 'utf8'));
      } catch (error: unknown) {
        throw new InvalidArgumentError(
          RUN_RESULT_NAME,
          `${RUN_RESULT_NAME} is not a valid RunResult: ${toError(error).message}`,
          {
            cause: error,
          }
        );
      }
    }
    const stored = commitUpload(ctx, header, run.id, relativePath, finalPath, tempPath, sha256);
    tempPath = undefined;
    return uploadResponse(stored);
  } catch (error: unknown) {
    if (isNoSpace(error)) throw new StorageFullError(relativePath || header?.name || 'an artifact', { cause: error });
    throw error;
  } finally {
    await file?.close().catch(() => undefined);
    if (tempPath) await rm(tempPath, { force: true }).catch(() => undefined);
  }
}

/** Renames the checked upload into place and records it, in one transaction with the run's state checks. */
function commitUpload(
  ctx: CoordinatorContext,
  header: UploadArtifactHeader,
  runId: string,
  relativePath: string,
  finalPath: string,
  tempPath: string,
  sha256: string
): ArtifactRecord {
  const { store } = ctx;
  const effects = newEffects();
  const stored = store.transaction(() => {
    const run = store.getRun(runId);
    if (!run) throw new NotFoundError('run', runId);
    checkUploader(run, header);
    const experiment = store.requireExperiment(run.experimentId);
    const now = ctx.clock();
    const replaced = store.findArtifact(run.experimentId, run.id, header.kind, header.name);
    if (replaced) store.deleteArtifact(replaced.id);
    const id = newArtifactId();
    const isCheckpoint = header.kind === ArtifactKind.ARTIFACT_KIND_CHECKPOINT;
    const artifact: ArtifactRecord = {
      id,
      experimentId: run.experimentId,
      runId: run.id,
      kind: header.kind,
      name: header.name,
      mediaType: header.mediaType || 'application/octet-stream',
      sizeBytes: header.sizeBytes,
      sha256,
      path: relativePath,
      createTime: now,
      checkpoint: isCheckpoint
        ? CheckpointRef.fromPartial({
            ...header.checkpoint,
            artifactId: id,
            runId: run.id,
            generation: header.checkpoint?.generation || header.generation,
            worldSize: header.checkpoint?.worldSize || run.worldSize,
            sizeBytes: header.sizeBytes,
            sha256,
            createTime: new Date(now),
          })
        : null,
    };
    // Rename last of all the checks: from here on the file is the artifact's content.
    renameSync(tempPath, finalPath);
    store.insertArtifact(artifact);
    if (isCheckpoint) {
      const ref = checkpointToProto(artifact);
      store.updateRun(run.id, { latestCheckpoint: ref });
      emit(ctx, run.experimentId, run.id, { $case: 'checkpointSaved', value: { checkpoint: ref } });
      const checkpoints = store.listArtifacts(run.experimentId, run.id, [ArtifactKind.ARTIFACT_KIND_CHECKPOINT]);
      const excess = checkpoints.length - experiment.settings.checkpoints.keepLast;
      for (const old of checkpoints.slice(0, Math.max(0, excess))) {
        store.deleteArtifact(old.id);
        effects.deletions.push(artifactAbsolutePath(ctx.artifactsDir, old.path));
      }
    } else {
      emit(ctx, run.experimentId, run.id, { $case: 'artifactReady', value: { artifact: artifactToProto(artifact) } });
    }
    return artifact;
  });
  ctx.apply(effects);
  return stored;
}
