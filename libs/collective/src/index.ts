/**
 * @supwalsh/collective — ring all-reduce, broadcast and barrier between the workers of a run. The ring
 * algorithms (bandwidth-optimal, pipelined, deterministic) work over a small {@link Communicator} interface; the
 * real transport is the v1 `Collective` gRPC service (one one-way client stream per ring hop), and an in-memory
 * one serves unit tests. Failures (a dead or stalled peer, a bad message) reject every rank's pending operation
 * within a bounded time with a typed error.
 * @module
 */
export {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_TIMEOUT_MS,
  type AllReduceOptions,
  type CollectiveOptions,
  type Compression,
  type ReduceOp,
} from './collective-options.js';
export {
  BYTES_PER_ELEMENT,
  type ChunkKind,
  type Communicator,
  type CommunicatorHandlers,
  type RingMessage,
  type RingOperation,
  type WireEncoding,
} from './communicator.js';
export {
  CollectiveArgumentError,
  CollectiveClosedError,
  CollectiveError,
  CollectiveProtocolError,
  CollectiveTimeoutError,
  PeerFailedError,
} from './errors.js';
export {
  COLLECTIVE_METADATA,
  createCollectiveServer,
  createRing,
  DEFAULT_CHUNKS_IN_FLIGHT,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DATA_PATH,
  DEFAULT_FLOW_CONTROL_WINDOW_BYTES,
  MAX_CHUNK_BYTES,
  type CollectiveServer,
  type CollectiveServerOptions,
  type RingOptions,
} from './grpc-transport.js';
export { FP16_SUBNORMAL_HALF_ULP, UNIT_ROUNDOFF } from './half-precision.js';
export { createMemoryRing, type MemoryRing, type MemoryRingOptions } from './memory-communicator.js';
export { createCollective, type Collective, type CollectiveState } from './ring-collective.js';
export { raiseServerFlowControlWindow } from './server-flow-control.js';
