/**
 * @supwalsh/worker — the supwalsh worker, one process per GPU (or core): one gRPC server with the v1 `Worker` and
 * `Collective` services, health and reflection; it registers with the coordinator and heartbeats
 * (services/coordinator/PROTOCOL.md steps 1–4), runs its rank's shard of a run with @supwalsh/method over a
 * @supwalsh/collective ring, reports progress and uploads the run's artifacts (steps 6–8).
 *
 * `main.ts` is the process (`node services/worker/dist/main.js --coordinator host:port`); this entry point serves
 * embedding (the coordinator's local cluster) and tests.
 * @module
 */
export {
  sha256Hex,
  UPLOAD_CHUNK_BYTES,
  uploadArtifact,
  type ArtifactFile,
  type UploadArtifactOptions,
  type UploadingShard,
} from './artifact-uploader.js';
export { createBackoff, type Backoff, type BackoffOptions } from './backoff.js';
export {
  checkpointFileName,
  checkpointPlace,
  createCheckpointUploader,
  fetchCheckpoint,
  type CheckpointPlace,
  type CheckpointUploader,
  type CheckpointUploaderOptions,
} from './checkpoints.js';
export { createCoordinatorClient, type CoordinatorClientOptions } from './coordinator-client.js';
export {
  createCoordinatorLink,
  type CoordinatorLink,
  type CoordinatorLinkOptions,
  type CoordinatorLinkState,
  type HeartbeatContent,
} from './coordinator-link.js';
export { describeDevices, parseNvidiaSmi, type DescribeDevicesOptions } from './devices.js';
export {
  ArtifactUploadError,
  BackendMismatchError,
  CheckpointFetchError,
  ShardRequestError,
  StaleShardError,
  toGrpcStatus,
  WorkerArgumentError,
  WorkerBusyError,
  WorkerDrainingError,
  WorkerError,
  type GrpcStatus,
} from './errors.js';
export { createJsonLogger, silentWorkerLogger, type WorkerLogger } from './logger.js';
export {
  createProgressReporter,
  type ProgressReporter,
  type ProgressReporterOptions,
  type ReportPayload,
} from './progress-reporter.js';
export {
  createWorkerServer,
  WORKER_MAIN,
  WORKER_VERSION,
  type WorkerServerDeps,
  type WorkerServerHandle,
} from './server.js';
export { classifyError, type Shard, type ShardOutcome, type ShardStateName } from './shard.js';
export { parseStartShard, resolveDatasetRoot, type ShardRequest } from './shard-request.js';
export { WORKER_ATTR, WORKER_SPAN_NAMES } from './telemetry-names.js';
export {
  DEFAULT_LISTEN,
  defaultWorkerId,
  parseWorkerOptions,
  WORKER_USAGE,
  type WorkerOptions,
} from './worker-options.js';
export { type WorkerRuntime, type WorkerStateName } from './worker-runtime.js';
