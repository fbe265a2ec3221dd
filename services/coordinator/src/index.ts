/**
 * @supwalsh/coordinator — the supwalsh coordinator: a gRPC server (v1 `Coordinator`, `grpc.health.v1`, server
 * reflection) that validates and stores experiments in SQLite, schedules their runs over registered workers
 * (PROTOCOL.md), stores progress events, checkpoints and artifacts, streams them to watchers, and writes each
 * experiment's report with @supwalsh/report when its runs have ended.
 *
 * @example
 * ```ts
 * import { createCoordinatorServer, createConsoleLogger, openStore } from '@supwalsh/coordinator';
 *
 * const store = openStore('./supwalsh-data');
 * const server = await createCoordinatorServer({
 *   store,
 *   dataDir: './supwalsh-data',
 *   artifactsDir: './supwalsh-data/artifacts',
 *   listen: '127.0.0.1:0',
 *   logger: createConsoleLogger(),
 * });
 * console.log(`coordinator on ${server.address}`);
 * // … later
 * await server.shutdown();
 * store.close();
 * ```
 * @module
 */
export {
  artifactRelativePath,
  DEFAULT_DOWNLOAD_CHUNK_BYTES,
  MAX_ARTIFACT_BYTES,
  MAX_DOWNLOAD_CHUNK_BYTES,
  validateArtifactName,
} from './artifacts.js';
export {
  canAccessExperiment,
  canSeeWorkerAddresses,
  createCoordinatorAuthInterceptor,
  createCoordinatorAuthPolicy,
  isAuthConfigured,
  METHOD_ROLES,
  type CoordinatorAuth,
} from './auth-policy.js';
export { DEFAULT_COORDINATOR_SETTINGS, type CoordinatorSettings } from './context.js';
export {
  COORDINATOR_USAGE,
  DEFAULT_ARTIFACTS_SUBDIR,
  DEFAULT_DATA_DIR,
  DEFAULT_LISTEN,
  parseCoordinatorConfig,
  readCoordinatorSecurity,
  type CoordinatorConfig,
} from './coordinator-options.js';
export { checkSubmissionLimits, COORDINATOR_SERVICE_NAME } from './coordinator-service.js';
export {
  ConfigError,
  CoordinatorError,
  DrainingError,
  InvalidArgumentError,
  LimitExceededError,
  NotFoundError,
  QueueFullError,
  DataLossError,
  RequestConflictError,
  StaleGenerationError,
  StoreIntegrityError,
  type StoreProblem,
  StorageFullError,
  toServiceError,
  WrongStateError,
  type ResourceKind,
} from './errors.js';
export { EventBus, type EventListener } from './event-bus.js';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './experiments.js';
export { newExperimentId, runIdOf } from './ids.js';
export {
  createConsoleLogger,
  silentLogger,
  type ConsoleLoggerOptions,
  type CoordinatorLogger,
  type LogLevelName,
} from './logger.js';
export { COORDINATOR_VERSION, isCompatibleVersion } from './membership.js';
export { MAX_REPORTS_PER_CALL, RUN_RESULT_NAME } from './progress.js';
export { addReflection, DEFAULT_PROTO_DIR } from './reflection.js';
export { createWorkerClient, DEFAULT_COLLECTIVE_OPTIONS, type WorkerClientFactory } from './scheduler.js';
export { SCHEMA_VERSION } from './schema.js';
export {
  BACKUP_USAGE,
  backupCommand,
  backupStore,
  type BackupIo,
  type BackupOptions,
  type BackupSummary,
} from './backup.js';
export {
  createCoordinatorServer,
  MAX_RECEIVE_MESSAGE_BYTES,
  type CoordinatorSecurity,
  type CoordinatorServerDeps,
  type CoordinatorServerHandle,
} from './server.js';
export type { ExperimentStateName, RunStateName, ShardEndName, WorkerStateName } from './states.js';
export {
  openStore,
  Store,
  STORE_FILE_NAME,
  type ArtifactRecord,
  type ExperimentRecord,
  type OpenStoreOptions,
  type RunRecord,
  type ShardReportRecord,
  type WorkerRecord,
} from './store.js';
