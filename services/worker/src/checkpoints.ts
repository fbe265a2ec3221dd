import { createHash } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { decodeCheckpoint, encodeCheckpoint, type PhaseName, type RunCheckpoint } from '@supwalsh/method';
import { ArtifactKind, type CheckpointRef, type CoordinatorClient } from '@supwalsh/proto';
import { phaseToProto } from '@supwalsh/wire';
import { uploadArtifact, type UploadArtifactOptions } from './artifact-uploader.js';
import { deadlineIn } from './backoff.js';
import { CheckpointFetchError, toError } from './errors.js';

/** Where in its run a checkpoint was taken (CheckpointRef's phase, epoch, step, end_of_epoch). */
export interface CheckpointPlace {
  readonly phase: PhaseName;
  /** Epoch, 1-based; the checkpoint lies within or at the end of it. */
  readonly epoch: number;
  /** Phase steps completed. */
  readonly step: number;
  /** Whether it was taken at the end of `epoch`. */
  readonly endOfEpoch: boolean;
}

/**
 * The place of a checkpoint of @supwalsh/method: training states count their finished epochs; pretraining states
 * their steps, of which an epoch has `pretrainingStepsPerEpoch`.
 */
export function checkpointPlace(checkpoint: RunCheckpoint, pretrainingStepsPerEpoch: number): CheckpointPlace {
  if (checkpoint.phase === 'training') {
    const { step, epochs, partial } = checkpoint.train;
    const endOfEpoch = step > 0 && partial.samples === 0;
    return { phase: 'training', epoch: endOfEpoch ? epochs.length : epochs.length + 1, step, endOfEpoch };
  }
  const { step } = checkpoint.pretrain;
  const per = Math.max(1, pretrainingStepsPerEpoch);
  return {
    phase: 'pretraining',
    epoch: Math.max(1, Math.ceil(step / per)),
    step,
    endOfEpoch: step > 0 && step % per === 0,
  };
}

/** The file name of a checkpoint artifact: `checkpoint-<phase>-e<epoch>-s<step>[-end].swck`. */
export function checkpointFileName(place: CheckpointPlace): string {
  return `checkpoint-${place.phase}-e${place.epoch}-s${place.step}${place.endOfEpoch ? '-end' : ''}.swck`;
}

/** Options of {@link createCheckpointUploader}. */
export interface CheckpointUploaderOptions extends Pick<UploadArtifactOptions, 'signal' | 'logger' | 'attempts'> {
  client: CoordinatorClient;
  /** The uploading worker process's instance id, as registered. */
  instanceId: string;
  runId: string;
  generation: number;
  rank: number;
  worldSize: number;
  /** Steps per pretraining epoch, to place pretraining checkpoints. */
  pretrainingStepsPerEpoch: number;
}

/** Stores a run's checkpoints (rank 0). */
export interface CheckpointUploader {
  /** Encodes and uploads one checkpoint; resolves with the stored `CheckpointRef` (the run's latest). */
  save(checkpoint: RunCheckpoint): Promise<CheckpointRef | undefined>;
}

/**
 * PROTOCOL.md step 7, checkpoints: `UploadArtifact{header{kind: CHECKPOINT, checkpoint: CheckpointRef}}` with the
 * phase, epoch, step, end-of-epoch flag, generation and world size; the content is @supwalsh/method's
 * `encodeCheckpoint`. Throws as `uploadArtifact` (StaleShardError: the shard must stop).
 */
export function createCheckpointUploader(options: CheckpointUploaderOptions): CheckpointUploader {
  const { client, instanceId, runId, generation, rank, worldSize, pretrainingStepsPerEpoch, ...upload } = options;
  return {
    async save(checkpoint) {
      const place = checkpointPlace(checkpoint, pretrainingStepsPerEpoch);
      const bytes = encodeCheckpoint(checkpoint);
      const ref: CheckpointRef = {
        artifactId: '',
        runId,
        phase: phaseToProto(place.phase),
        epoch: place.epoch,
        step: place.step,
        endOfEpoch: place.endOfEpoch,
        generation,
        worldSize,
        sizeBytes: bytes.byteLength,
        sha256: '',
        createTime: undefined,
      };
      const response = await uploadArtifact(
        client,
        { runId, generation, rank, instanceId },
        {
          kind: ArtifactKind.ARTIFACT_KIND_CHECKPOINT,
          name: checkpointFileName(place),
          mediaType: 'application/octet-stream',
          data: bytes,
          checkpoint: ref,
        },
        upload
      );
      return response.checkpoint;
    },
  };
}

/**
 * Downloads a checkpoint (`Coordinator.GetArtifact`, server-streamed chunks), checks its size and SHA-256 against
 * `ref` and decodes it. Throws `CheckpointFetchError` (the shard fails with SHARD_FAILURE_CHECKPOINT).
 */
export async function fetchCheckpoint(
  client: CoordinatorClient,
  ref: CheckpointRef,
  options: { deadlineMs?: number } = {}
): Promise<RunCheckpoint> {
  const fail = (message: string, cause?: unknown) =>
    new CheckpointFetchError(ref.runId, ref.artifactId, message, cause === undefined ? undefined : { cause });
  const chunks: Buffer[] = [];
  try {
    const stream = client.getArtifact({ artifactId: ref.artifactId, offset: 0, chunkBytes: 0 }, new Metadata(), {
      deadline: deadlineIn(options.deadlineMs ?? 120_000 + Math.ceil(ref.sizeBytes / 10_000_000) * 1_000),
    });
    for await (const message of stream as AsyncIterable<{ data: Uint8Array }>) chunks.push(Buffer.from(message.data));
  } catch (error: unknown) {
    throw fail(`GetArtifact failed: ${toError(error).message}`, error);
  }
  const bytes = Buffer.concat(chunks);
  if (ref.sizeBytes && bytes.length !== ref.sizeBytes) {
    throw fail(`has ${bytes.length} bytes, its CheckpointRef says ${ref.sizeBytes}`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (ref.sha256 && sha256 !== ref.sha256) throw fail(`has SHA-256 ${sha256}, its CheckpointRef says ${ref.sha256}`);
  try {
    return decodeCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error: unknown) {
    throw fail(`is not a checkpoint: ${toError(error).message}`, error);
  }
}
