import type { CollectiveProtocolError, PeerFailedError } from './errors.js';

/** The collective operations a ring runs. */
export type RingOperation = 'all_reduce' | 'broadcast' | 'barrier';

/**
 * What a chunk is part of (the contract's `CollectiveOp`): an all-reduce is a reduce-scatter then an all-gather
 * under one operation number.
 */
export type ChunkKind = 'reduce_scatter' | 'all_gather' | 'broadcast' | 'barrier';

/** Element encoding of a message's `data`: float32, binary16 or bfloat16 (little-endian). */
export type WireEncoding = 'f32' | 'f16' | 'bf16';

/** Bytes per element of each wire encoding. */
export const BYTES_PER_ELEMENT: Record<WireEncoding, number> = { f32: 4, f16: 2, bf16: 2 };

/**
 * One chunk of one step of one operation, as it travels from a rank to its right neighbour. Everything but
 * `data` identifies where the chunk belongs; the receiver checks all of it against what it expects before it
 * reduces or copies anything.
 */
export interface RingMessage {
  /** The run the ring belongs to. */
  runId: string;
  /** Ring generation (≥ 1): bumped by the coordinator each time it re-forms the ring. */
  generation: number;
  /** Operation number: 1 for the first collective call on the ring, then consecutive; the same on every rank. */
  sequence: number;
  /** Training step whose gradients an all-reduce reduces (1-based); 0 outside a step. */
  phaseStep: number;
  kind: ChunkKind;
  /** Rank of the sender (always the receiver's left neighbour). */
  senderRank: number;
  /** Root of a broadcast; 0 otherwise. */
  rootRank: number;
  /** Ring step within the kind: 0 … n−2 for reduce-scatter and all-gather, the lap (0, 1) for a barrier, 0 for a broadcast. */
  ringStep: number;
  /** Index of the chunk within (sequence, kind, ringStep). */
  chunk: number;
  /** Whether this is the sender's last chunk of (sequence, kind, ringStep). */
  lastChunk: boolean;
  /** First element of the chunk within the buffer. */
  offset: number;
  /** Elements in the chunk. */
  length: number;
  /** Length in elements of the whole buffer of the operation. */
  totalLength: number;
  encoding: WireEncoding;
  /** `length × BYTES_PER_ELEMENT[encoding]` bytes; may be a view into a larger buffer, any alignment. */
  data: Uint8Array;
}

export interface CommunicatorHandlers {
  /** Every message from the left neighbour, in the order it was sent. */
  message(message: RingMessage): void;
  /** The left neighbour closed its channel gracefully; called after its last message. */
  end(): void;
  /**
   * A neighbour failed or aborted the ring (naming the rank that failed first), or the left one sent something
   * the transport could not read.
   */
  failure(error: PeerFailedError | CollectiveProtocolError): void;
}

/**
 * What the ring algorithm needs from a transport: an ordered, reliable one-way channel to the right neighbour
 * and one from the left neighbour. The ring matches arriving messages to operations by their tags (sequence,
 * step, chunk), so a transport only has to keep order. Implementations: the in-memory one (`createMemoryRing`,
 * for tests) and the gRPC one (`createRing`).
 */
export interface Communicator {
  readonly rank: number;
  readonly worldSize: number;
  /** A short transport name for telemetry (`grpc`, `memory`, `tcp`). */
  readonly transport: string;
  /** Address of a rank for error messages (`''` when unknown). */
  peerAddress(rank: number): string;
  /**
   * Queues a message to the right neighbour; messages arrive in the order they were sent. Resolves once the
   * transport no longer reads `message.data` (it was copied or written), so the caller may then reuse that
   * memory. Rejects with a `PeerFailedError` when the right neighbour is gone.
   */
  send(message: RingMessage): Promise<void>;
  /** Installs the receivers of what comes from the left neighbour and of failures; called once. */
  listen(handlers: CommunicatorHandlers): void;
  /**
   * Tells both neighbours this ring failed because of `error` (so that they fail too, naming `failedRank`, the
   * rank that failed first as far as this one knows) and stops sending and receiving. Idempotent.
   */
  abort(failedRank: number, error: Error): void;
  /** Closes the channels gracefully (after the last operation), waiting for queued messages to be written. */
  close(): Promise<void>;
}
