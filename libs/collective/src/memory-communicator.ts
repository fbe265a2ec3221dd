import type { Communicator, CommunicatorHandlers, RingMessage } from './communicator.js';
import { PeerFailedError } from './errors.js';

export interface MemoryRingOptions {
  /**
   * Sees every message on its way from `from` to its right neighbour; returns the message to deliver (possibly
   * altered) or `null` to drop it. Tests use it to corrupt, drop or stall traffic.
   */
  intercept?: (from: number, message: RingMessage) => RingMessage | null;
}

/** Test controls of an in-memory ring. */
export interface MemoryRing {
  /** One communicator per rank, index = rank. */
  readonly communicators: Communicator[];
  /** Simulates the death of a rank: its neighbours see `PeerFailedError`, its own sends reject. */
  kill(rank: number): void;
  /** Delivers a message to `rank` as if its left neighbour had sent it. */
  inject(rank: number, message: RingMessage): void;
}

/**
 * `worldSize` communicators joined in a ring inside this process. A message is copied when sent (like a real
 * wire: the sender may reuse its buffer at once) and delivered asynchronously, in order.
 */
export function createMemoryRing(worldSize: number, options: MemoryRingOptions = {}): MemoryRing {
  const handlers: (CommunicatorHandlers | undefined)[] = new Array(worldSize).fill(undefined);
  // Messages that arrive before a rank installs its handlers wait here, like bytes in a socket.
  const backlog: (RingMessage | 'end')[][] = Array.from({ length: worldSize }, () => []);
  const dead = new Array<boolean>(worldSize).fill(false);
  const address = (rank: number) => `memory:${rank}`;
  const right = (rank: number) => (rank + 1) % worldSize;
  const left = (rank: number) => (rank - 1 + worldSize) % worldSize;

  const deliver = (to: number, message: RingMessage | 'end') => {
    setImmediate(() => {
      if (dead[to]) return;
      const h = handlers[to];
      if (!h) backlog[to]!.push(message);
      else if (message === 'end') h.end();
      else h.message(message);
    });
  };
  const notifyFailure = (to: number, failedRank: number, reason: string, reportedBy: number) => {
    setImmediate(() => {
      if (dead[to]) return;
      handlers[to]?.failure(new PeerFailedError(failedRank, address(failedRank), reason, { reportedBy }));
    });
  };

  const communicators = Array.from({ length: worldSize }, (_, rank): Communicator => {
    let closed = false;
    return {
      rank,
      worldSize,
      transport: 'memory',
      peerAddress: address,
      async send(message) {
        if (dead[rank] || closed) throw new PeerFailedError(rank, address(rank), 'this rank is closed');
        if (dead[right(rank)]) throw new PeerFailedError(right(rank), address(right(rank)), 'connection closed');
        const copy = { ...message, data: Uint8Array.prototype.slice.call(message.data) };
        const out = options.intercept ? options.intercept(rank, copy) : copy;
        if (out) deliver(right(rank), out);
      },
      listen(h) {
        handlers[rank] = h;
        for (const message of backlog[rank]!.splice(0)) deliver(rank, message);
      },
      abort(failedRank, error) {
        if (closed) return;
        closed = true;
        notifyFailure(right(rank), failedRank, `aborted: ${error.message}`, rank);
        notifyFailure(left(rank), failedRank, `aborted: ${error.message}`, rank);
      },
      async close() {
        if (closed) return;
        closed = true;
        deliver(right(rank), 'end');
      },
    };
  });

  return {
    communicators,
    kill(rank) {
      dead[rank] = true;
      notifyFailure(right(rank), rank, 'connection closed', rank);
      notifyFailure(left(rank), rank, 'connection closed', rank);
    },
    inject(rank, message) {
      deliver(rank, message);
    },
  };
}
