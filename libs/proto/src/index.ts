/**
 * @supwalsh/proto — the supwalsh v1 wire contract (`proto/supwalsh/v1/*.proto`) as TypeScript: ts-proto
 * message types and codecs (`ExperimentSpec.encode`, `.decode`, `.fromPartial`, `.fromJSON`, …) and
 * grpc-js service definitions with typed clients and server interfaces for the `Coordinator`, `Worker`
 * and `Collective` services.
 *
 * Everything under `./gen` is generated (`npm run generate`) and never edited by hand. This barrel
 * re-exports it by name, one block per .proto file; `index.spec.ts` fails when a generated export is
 * missing here. Not re-exported: the map-entry helper messages (`*_LabelsEntry`, …) and the
 * per-file copies of ts-proto's helper types, exported once below.
 *
 * @example
 * ```ts
 * import { credentials } from '@grpc/grpc-js';
 * import { CoordinatorClient, ExperimentSpec, Initializer } from '@supwalsh/proto';
 *
 * const client = new CoordinatorClient('127.0.0.1:50051', credentials.createInsecure());
 * const spec = ExperimentSpec.fromPartial({
 *   name: 'quick',
 *   arms: [{ initializer: Initializer.INITIALIZER_SUP_WALSH }],
 * });
 * client.submitExperiment({ spec, requestId: 'quick-1', validateOnly: true }, (err, res) => {
 *   console.log(err ?? res?.experiment?.deviations);
 * });
 * ```
 * @module
 */
export {
  ArmSpec,
  AuxActivation,
  auxActivationFromJSON,
  auxActivationToJSON,
  AuxNetSpec,
  AuxNormalization,
  auxNormalizationFromJSON,
  auxNormalizationToJSON,
  Backend,
  backendFromJSON,
  backendToJSON,
  CheckpointSpec,
  DatasetKind,
  datasetKindFromJSON,
  datasetKindToJSON,
  DatasetSpec,
  EvaluationSpec,
  ExperimentSpec,
  Initializer,
  initializerFromJSON,
  initializerToJSON,
  LimitsSpec,
  ModelKind,
  modelKindFromJSON,
  modelKindToJSON,
  ModelSpec,
  OptimizerKind,
  optimizerKindFromJSON,
  optimizerKindToJSON,
  OptimizerSpec,
  OutputSpec,
  PixelScale,
  pixelScaleFromJSON,
  pixelScaleToJSON,
  Preset,
  presetFromJSON,
  presetToJSON,
  PretrainingSpec,
  ResizeRoute,
  resizeRouteFromJSON,
  resizeRouteToJSON,
  RunSpec,
  SnapshotSelection,
  snapshotSelectionFromJSON,
  snapshotSelectionToJSON,
  TrainingSpec,
  TsneInit,
  tsneInitFromJSON,
  tsneInitToJSON,
  TsneMethod,
  tsneMethodFromJSON,
  tsneMethodToJSON,
  TsneSpec,
  WalshOrdering,
  walshOrderingFromJSON,
  walshOrderingToJSON,
  WorkersSpec,
} from './gen/supwalsh/v1/spec.js';
export {
  ArtifactInfo,
  ArtifactKind,
  artifactKindFromJSON,
  artifactKindToJSON,
  CheckpointRef,
  EpochMetrics,
  Experiment,
  ExperimentState,
  experimentStateFromJSON,
  experimentStateToJSON,
  Phase,
  phaseFromJSON,
  phaseToJSON,
  PretrainingSummary,
  Run,
  RunCounts,
  RunState,
  runStateFromJSON,
  runStateToJSON,
  StepProgress,
} from './gen/supwalsh/v1/experiment.js';
export {
  ArtifactReady,
  CheckpointSaved,
  ExperimentEvent,
  ExperimentStateChanged,
  LogLevel,
  logLevelFromJSON,
  logLevelToJSON,
  LogMessage,
  PhaseChanged,
  RunStateChanged,
  WorkersChange,
  WorkersChanged,
  workersChangeFromJSON,
  workersChangeToJSON,
} from './gen/supwalsh/v1/event.js';
export {
  CancelExperimentRequest,
  CancelExperimentResponse,
  CoordinatorClient,
  type CoordinatorServer,
  CoordinatorService,
  DeregisterWorkerRequest,
  DeregisterWorkerResponse,
  GetArtifactRequest,
  GetArtifactResponse,
  GetExperimentRequest,
  GetExperimentResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  ListExperimentsRequest,
  ListExperimentsResponse,
  ListWorkersRequest,
  ListWorkersResponse,
  RegisterWorkerRequest,
  RegisterWorkerResponse,
  ReportProgressRequest,
  ReportProgressResponse,
  ShardFinished,
  ShardReport,
  SubmitExperimentRequest,
  SubmitExperimentResponse,
  UploadArtifactHeader,
  UploadArtifactRequest,
  UploadArtifactResponse,
  WatchExperimentRequest,
  WatchExperimentResponse,
} from './gen/supwalsh/v1/coordinator.js';
export {
  AbortShardRequest,
  AbortShardResponse,
  CollectiveOptions,
  DeviceInfo,
  DeviceKind,
  deviceKindFromJSON,
  deviceKindToJSON,
  GetWorkerStatusRequest,
  GetWorkerStatusResponse,
  Peer,
  ShardFailure,
  shardFailureFromJSON,
  shardFailureToJSON,
  ShardState,
  shardStateFromJSON,
  shardStateToJSON,
  ShardStatus,
  StartShardRequest,
  StartShardResponse,
  WorkerClient,
  WorkerInfo,
  type WorkerServer,
  WorkerService,
  WorkerState,
  workerStateFromJSON,
  workerStateToJSON,
} from './gen/supwalsh/v1/worker.js';
export {
  CollectiveClient,
  CollectiveOp,
  collectiveOpFromJSON,
  collectiveOpToJSON,
  type CollectiveServer,
  CollectiveService,
  SendChunksRequest,
  SendChunksResponse,
} from './gen/supwalsh/v1/collective.js';
export { DataType, dataTypeFromJSON, dataTypeToJSON, Tensor } from './gen/supwalsh/v1/tensor.js';
// ts-proto's helper types and the package name: identical in every generated file, exported once.
export { type DeepPartial, type MessageFns, protobufPackage } from './gen/supwalsh/v1/spec.js';
// Hand-written: checked number conversions around the generated codecs.
export {
  checkEncodable,
  decodeChecked,
  WireDecodeError,
  WireNumberError,
  type MessageCodec,
} from './checked-numbers.js';
