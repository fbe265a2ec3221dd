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
  /** Ring generation: bumped each time the coordinator re-forms the ring. */
  generation: 'supwalsh.generation',
  /** Rank of the peer an error names. */
  peerRank: 'supwalsh.peer.rank',
  /** Class name of the error that ended an operation (OpenTelemetry semantic convention). */
  errorType: 'error.type',
} as const;
