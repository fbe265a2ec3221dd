/**
 * Every span name, metric name and attribute key that supwalsh emits, in one place so that dashboards, alerts
 * and tests name the same things. Names follow the OpenTelemetry conventions: dot-separated, lower snake case,
 * prefixed `supwalsh.`; units are UCUM (`s`, `By`, `By/s`).
 */

/** Instrumentation scope of everything the libraries emit, and its version. */
export const INSTRUMENTATION_SCOPE = '@supwalsh';
export const INSTRUMENTATION_VERSION = '0.1.0';

/** Span names. */
export const SPAN_NAMES = {
  /** One `allReduce` call on a ring (from the call to its result, including waiting for slower peers). */
  collectiveAllReduce: 'supwalsh.collective.all_reduce',
  /** One `broadcast` call on a ring. */
  collectiveBroadcast: 'supwalsh.collective.broadcast',
  /** One `barrier` call on a ring. */
  collectiveBarrier: 'supwalsh.collective.barrier',
  /** Forming a ring: connecting to the right neighbour and waiting for the left one. */
  collectiveConnect: 'supwalsh.collective.connect',
  /** The coordinator starting a run's ring: its StartShard calls to every rank (the root of the run's trace). */
  coordinatorStartRing: 'supwalsh.coordinator.start_ring',
  /** One run on one rank (@supwalsh/method's `executeRun`): initialization, pretraining, training, evaluation. */
  run: 'supwalsh.run',
  /** One Sup-Walsh pretraining step: the t-SNE of this rank's class groups, forward, backward, all-reduce, update. */
  pretrainStep: 'supwalsh.pretrain.step',
  /** One training step: this rank's slice of the global batch, forward, backward, all-reduce, update. */
  trainStep: 'supwalsh.train.step',
  /** One t-SNE embedding of a class group (synchronous, inside a pretraining step). */
  tsne: 'supwalsh.tsne',
  /** One evaluation pass over a test set (this rank's slice, then a sum over the ring). */
  evaluate: 'supwalsh.evaluate',
  /** Taking a run checkpoint and handing it to its sink (encoding and, on a worker, the upload). */
  checkpointSave: 'supwalsh.checkpoint.save',
} as const;

/** Metric names. */
export const METRIC_NAMES = {
  /** Counter (`By`): payload bytes an operation reduced or copied (the caller's buffer size, once per call). */
  collectiveBytes: 'supwalsh.collective.bytes',
  /** Counter (`By`): bytes this rank put on the wire (message payloads, after compression). */
  collectiveWireBytes: 'supwalsh.collective.wire_bytes',
  /** Histogram (`s`): duration of one operation, call to result. */
  collectiveDuration: 'supwalsh.collective.duration',
  /** Histogram (`By/s`): algorithm bandwidth, buffer size / duration (nccl-tests' algbw). */
  collectiveAlgBandwidth: 'supwalsh.collective.algorithm_bandwidth',
  /** Histogram (`By/s`): bus bandwidth, algbw × 2(n−1)/n for all-reduce, × (n−1)/n for broadcast. */
  collectiveBusBandwidth: 'supwalsh.collective.bus_bandwidth',
  /** Counter (`{operation}`): operations that failed, by `error.type`. */
  collectiveErrors: 'supwalsh.collective.errors',
  /** Histogram (`s`): wall time of one pretraining or training step on this rank, by `supwalsh.phase`. */
  stepDuration: 'supwalsh.step.duration',
  /**
   * Counter (`{image}`): images this rank stepped through (its share of each global batch, or of each step's class
   * groups), by `supwalsh.phase`. Images per second is its rate (Prometheus: `rate(supwalsh_train_images_total[1m])`,
   * summed over the workers for a run's throughput).
   */
  trainImages: 'supwalsh.train.images',
  /** Observable gauge (`{run}`): runs waiting for workers, by `supwalsh.run.state` (`QUEUED`, `REFORMING`). */
  coordinatorQueueLength: 'supwalsh.coordinator.queue_length',
  /** Observable gauge (`{worker}`): registered workers whose lease holds, by `supwalsh.worker.state`. */
  coordinatorLiveWorkers: 'supwalsh.coordinator.live_workers',
  /** Counter (`{recovery}`): times a run's ring re-formed after a failure or hand-over, by `supwalsh.recovery.reason`. */
  coordinatorRecoveries: 'supwalsh.coordinator.recoveries',
} as const;

/** Attribute keys (span attributes and metric dimensions). */
export const ATTR = {
  /** Operation kind: `all_reduce`, `broadcast`, `barrier`. */
  collectiveOperation: 'supwalsh.collective.operation',
  /** Reduction of an all-reduce: `sum` or `mean`. */
  collectiveReduceOp: 'supwalsh.collective.reduce_op',
  /** Wire encoding of an all-reduce's chunks: `none`, `fp16`, `bf16`. */
  collectiveCompression: 'supwalsh.collective.compression',
  /** Transport under the ring: `grpc`, `memory`, `tcp`. */
  collectiveTransport: 'supwalsh.collective.transport',
  /** Buffer size of the operation in bytes. */
  collectiveBytes: 'supwalsh.collective.bytes',
  /** Sequence number of the operation within its ring (the same on every rank). */
  collectiveSequence: 'supwalsh.collective.sequence',
  /** Root rank of a broadcast. */
  collectiveRoot: 'supwalsh.collective.root',
  /** This process's rank in the ring. */
  rank: 'supwalsh.rank',
  /** Number of ranks in the ring. */
  worldSize: 'supwalsh.world_size',
  /** The run the ring belongs to (spans only: unbounded cardinality). */
  runId: 'supwalsh.run_id',
  /** The method's name of a run, `dataset/model/arm/seed-N` (spans only). */
  runLabel: 'supwalsh.run.label',
  /** Ring generation: bumped each time the coordinator re-forms the ring. */
  generation: 'supwalsh.generation',
  /** Rank of the peer an error names. */
  peerRank: 'supwalsh.peer.rank',
  /** Class name of the error that ended an operation (OpenTelemetry semantic convention). */
  errorType: 'error.type',
  /** Phase of a step metric: `pretraining` or `training`. */
  phase: 'supwalsh.phase',
  /** 1-based epoch of a step (spans only). */
  epoch: 'supwalsh.epoch',
  /** 1-based step within its phase (spans only). */
  step: 'supwalsh.step',
  /** Samples of the global batch, or of the step's class groups (spans only). */
  stepSamples: 'supwalsh.step.samples',
  /** Mean loss of a step, or of an evaluation (spans only). */
  loss: 'supwalsh.loss',
  /** Rows (images) of a t-SNE embedding. */
  tsneRows: 'supwalsh.tsne.rows',
  /** Model of a run (`base`, `resnet50`, …). */
  model: 'supwalsh.model',
  /** Dataset kind of a run. */
  dataset: 'supwalsh.dataset',
  /** Arm of a run (its initializer name). */
  arm: 'supwalsh.arm',
  /** A run's state (the coordinator's queue gauge). */
  runState: 'supwalsh.run.state',
  /** A worker's state (the coordinator's live-workers gauge). */
  workerState: 'supwalsh.worker.state',
  /** Why a run re-formed: a short snake_case reason such as `worker_lost`, `peer_lost`, `drained`. */
  recoveryReason: 'supwalsh.recovery.reason',
} as const;

/**
 * RPC span attributes (OpenTelemetry semantic conventions 1.45): the stable `rpc.system.name`, `rpc.method`
 * (`package.Service/Method`) and `rpc.status_code` (the status name), plus the older `rpc.system`, `rpc.service` and
 * `rpc.grpc.status_code` (the number) that most trace back ends still group by.
 */
export const RPC_ATTR = {
  systemName: 'rpc.system.name',
  system: 'rpc.system',
  service: 'rpc.service',
  method: 'rpc.method',
  statusCode: 'rpc.status_code',
  grpcStatusCode: 'rpc.grpc.status_code',
} as const;

/** Fields of a structured (JSON) log line that name the active span (the OpenTelemetry log data model's). */
export const LOG_FIELDS = { traceId: 'trace_id', spanId: 'span_id' } as const;
