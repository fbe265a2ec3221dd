/** Base of every error the collective library throws; `instanceof CollectiveError` catches them all. */
export abstract class CollectiveError extends Error {}

/** Thrown when a collective function gets an argument outside its valid range (the message names both). */
export class CollectiveArgumentError extends CollectiveError {
  override readonly name = 'CollectiveArgumentError';
  constructor(
    /** The function that rejected the call, e.g. `allReduce`. */
    readonly fn: string,
    /** The argument that was out of range. */
    readonly argument: string,
    message: string
  ) {
    super(`${fn}: ${argument} ${message}`);
  }
}

/**
 * Thrown (as the rejection of every pending and later operation) when a peer of the ring died, closed its
 * connection, errored, or aborted the ring because of its own failure. `peerRank` names the rank that failed
 * first as far as this rank can tell: a rank that sees its neighbour abort because of a third rank reports that
 * third rank, with `reportedBy` naming the neighbour.
 */
export class PeerFailedError extends CollectiveError {
  override readonly name = 'PeerFailedError';
  constructor(
    /** Rank of the peer that failed. */
    readonly peerRank: number,
    /** Its address as given to the ring (`host:port`), or `''` when unknown. */
    readonly peerAddress: string,
    /** What happened, in words: `connection closed`, `stream error: …`, `aborted: …`. */
    readonly reason: string,
    options: { cause?: unknown; reportedBy?: number } = {}
  ) {
    super(
      `peer rank ${peerRank}${peerAddress ? ` (${peerAddress})` : ''} failed: ${reason}` +
        (options.reportedBy !== undefined && options.reportedBy !== peerRank
          ? ` (reported by rank ${options.reportedBy})`
          : ''),
      options.cause === undefined ? undefined : { cause: options.cause }
    );
    this.reportedBy = options.reportedBy;
  }
  /** The neighbour that passed the failure on, when it is not the failed peer itself. */
  readonly reportedBy: number | undefined;
}

/**
 * Thrown when an operation made no progress (nothing received from the left neighbour, nothing accepted by the
 * right one) for `timeoutMs`: a peer stalled, was stopped, or never called the same operation. Fails the ring.
 */
export class CollectiveTimeoutError extends CollectiveError {
  override readonly name = 'CollectiveTimeoutError';
  constructor(
    /** `allReduce`, `broadcast`, `barrier` or `connect`. */
    readonly operation: string,
    /** The operation's sequence number within the ring (`-1` for `connect`). */
    readonly sequence: number,
    readonly timeoutMs: number,
    /** The neighbour the operation was waiting for. */
    readonly peerRank: number,
    readonly peerAddress: string
  ) {
    super(
      `${operation} #${sequence} made no progress for ${timeoutMs} ms waiting for rank ${peerRank}` +
        (peerAddress ? ` (${peerAddress})` : '')
    );
  }
}

/**
 * Thrown when a message from a peer does not belong where it arrived (wrong run, generation, operation,
 * sequence, step, offset or size, or a duplicate): the message is rejected, never reduced, and the ring fails.
 */
export class CollectiveProtocolError extends CollectiveError {
  override readonly name = 'CollectiveProtocolError';
  constructor(
    /** The message field that did not match, e.g. `runId`, `step`, `length`. */
    readonly field: string,
    readonly expected: string,
    readonly actual: string,
    /** Rank of the peer that sent the message. */
    readonly peerRank: number,
    readonly peerAddress: string
  ) {
    super(
      `message from rank ${peerRank}${peerAddress ? ` (${peerAddress})` : ''} rejected: ${field} is ${actual}, expected ${expected}`
    );
  }
}

/** Thrown when an operation is called on a ring that was closed with `close()`. */
export class CollectiveClosedError extends CollectiveError {
  override readonly name = 'CollectiveClosedError';
  constructor(readonly operation: string) {
    super(`${operation}: the ring is closed`);
  }
}

/** Normalises anything thrown into an Error (catch variables are `unknown`). */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
