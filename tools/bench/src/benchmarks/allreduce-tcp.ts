/**
 * The plain-TCP baseline of the all-reduce benchmark: a {@link Communicator} over bare `net` sockets (one
 * connection per ring hop, used one way, like the gRPC transport), so that the same ring algorithm runs on both
 * and the comparison isolates the transport. Messages are a fixed 48-byte binary header plus the payload; the
 * run id and generation are checked once, in a hello line, not per message.
 */
import net from 'node:net';
import {
  PeerFailedError,
  type ChunkKind,
  type Communicator,
  type CommunicatorHandlers,
  type RingMessage,
  type WireEncoding,
} from '@supwalsh/collective';

const HEADER_BYTES = 48;
const KINDS: ChunkKind[] = ['reduce_scatter', 'all_gather', 'broadcast', 'barrier'];
const ENCODINGS: WireEncoding[] = ['f32', 'f16', 'bf16'];

function writeHeader(m: RingMessage): Buffer {
  const h = Buffer.allocUnsafe(HEADER_BYTES);
  h.writeUInt32LE(m.data.byteLength, 0);
  h.writeUInt32LE(m.sequence, 4);
  h.writeUInt32LE(m.phaseStep, 8);
  h.writeUInt8(KINDS.indexOf(m.kind), 12);
  h.writeUInt8(ENCODINGS.indexOf(m.encoding), 13);
  h.writeUInt8(m.lastChunk ? 1 : 0, 14);
  h.writeUInt8(0, 15);
  h.writeUInt16LE(m.senderRank, 16);
  h.writeUInt16LE(m.rootRank, 18);
  h.writeUInt32LE(m.ringStep, 20);
  h.writeUInt32LE(m.chunk, 24);
  h.writeUInt32LE(m.length, 28);
  h.writeDoubleLE(m.offset, 32);
  h.writeDoubleLE(m.totalLength, 40);
  return h;
}

function readHeader(h: Buffer, runId: string, generation: number): Omit<RingMessage, 'data'> & { dataBytes: number } {
  return {
    dataBytes: h.readUInt32LE(0),
    runId,
    generation,
    sequence: h.readUInt32LE(4),
    phaseStep: h.readUInt32LE(8),
    kind: KINDS[h.readUInt8(12)]!,
    encoding: ENCODINGS[h.readUInt8(13)]!,
    lastChunk: h.readUInt8(14) === 1,
    senderRank: h.readUInt16LE(16),
    rootRank: h.readUInt16LE(18),
    ringStep: h.readUInt32LE(20),
    chunk: h.readUInt32LE(24),
    length: h.readUInt32LE(28),
    offset: h.readDoubleLE(32),
    totalLength: h.readDoubleLE(40),
  };
}

export interface TcpRingMember {
  /** `host:port` of this member's listening socket. */
  readonly address: string;
  /** Connects to the right neighbour and waits for the left one; resolves with the communicator. */
  connect(peers: readonly string[]): Promise<Communicator>;
}

/** Listens on 127.0.0.1:0 for the left neighbour of `rank`. */
export async function listenTcpRing(options: {
  rank: number;
  worldSize: number;
  runId: string;
  generation: number;
  chunksInFlight?: number;
}): Promise<TcpRingMember> {
  const { rank, worldSize, runId, generation } = options;
  const chunksInFlight = options.chunksInFlight ?? 4;
  const left = (rank - 1 + worldSize) % worldSize;
  const right = (rank + 1) % worldSize;
  let handlers: CommunicatorHandlers | undefined;
  let peers: readonly string[] = [];
  let incomingResolve!: (socket: net.Socket) => void;
  const incoming = new Promise<net.Socket>((resolve) => (incomingResolve = resolve));
  const server = net.createServer({ noDelay: true }, (socket) => {
    // Hello: one line "runId generation sourceRank\n", then messages.
    let hello = '';
    const onHello = (data: Buffer) => {
      hello += data.toString('latin1');
      const end = hello.indexOf('\n');
      if (end < 0) return;
      socket.off('data', onHello);
      const [id, gen, source] = hello.slice(0, end).split(' ');
      if (id !== runId || Number(gen) !== generation || Number(source) !== left) {
        socket.destroy();
        return;
      }
      const rest = Buffer.from(hello.slice(end + 1), 'latin1');
      if (rest.length) socket.unshift(rest);
      incomingResolve(socket);
    };
    socket.on('data', onHello);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  const receive = (socket: net.Socket) => {
    // Parser: header, then payload copied once into its own buffer (a plain, reasonable implementation).
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    let header: ReturnType<typeof readHeader> | undefined;
    const take = (n: number): Buffer => {
      const out = Buffer.allocUnsafeSlow(n);
      let filled = 0;
      while (filled < n) {
        const head = pending[0]!;
        const used = Math.min(head.length, n - filled);
        head.copy(out, filled, 0, used);
        filled += used;
        if (used === head.length) pending.shift();
        else pending[0] = head.subarray(used);
      }
      pendingBytes -= n;
      return out;
    };
    socket.on('data', (data: Buffer) => {
      pending.push(data);
      pendingBytes += data.length;
      for (;;) {
        if (!header) {
          if (pendingBytes < HEADER_BYTES) return;
          header = readHeader(take(HEADER_BYTES), runId, generation);
        }
        if (pendingBytes < header.dataBytes) return;
        const { dataBytes, ...fields } = header;
        const data = dataBytes ? take(dataBytes) : new Uint8Array(0);
        header = undefined;
        handlers?.message({ ...fields, data });
      }
    });
    socket.on('end', () => handlers?.end());
    socket.on('error', (error) => handlers?.failure(new PeerFailedError(left, peers[left] ?? '', error.message)));
  };

  return {
    address: `127.0.0.1:${port}`,
    async connect(addresses) {
      peers = addresses;
      const [host, rightPort] = [
        peers[right]!.slice(0, peers[right]!.lastIndexOf(':')),
        Number(peers[right]!.split(':').pop()),
      ];
      const out = await new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect({ host, port: rightPort, noDelay: true }, () => resolve(socket));
        socket.once('error', reject);
      });
      out.on('error', (error) => handlers?.failure(new PeerFailedError(right, peers[right] ?? '', error.message)));
      out.write(`${runId} ${generation} ${rank}\n`);
      const inSocket = await incoming;
      receive(inSocket);
      let inFlight = 0;
      const queue: { message: RingMessage; resolve(): void }[] = [];
      const pump = () => {
        while (queue.length && inFlight < chunksInFlight) {
          const { message, resolve } = queue.shift()!;
          inFlight++;
          out.write(writeHeader(message));
          // The payload goes out as a view of the caller's buffer; Node keeps it until written.
          out.write(message.data, () => {
            inFlight--;
            resolve();
            pump();
          });
        }
      };
      return {
        rank,
        worldSize,
        transport: 'tcp',
        peerAddress: (r) => peers[r] ?? '',
        send(message) {
          return new Promise<void>((resolve) => {
            queue.push({ message, resolve });
            pump();
          });
        },
        listen(h) {
          handlers = h;
        },
        abort() {
          out.destroy();
          inSocket.destroy();
          server.close();
        },
        async close() {
          out.end();
          inSocket.end();
          server.close();
        },
      };
    },
  };
}

/**
 * Raw one-way stream between two processes, the receiving end: each transfer is an 8-byte length and that many
 * bytes; the receiver answers each with one byte.
 */
export async function listenRawStream(): Promise<{ address: string; close(): void }> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    let remaining = -1;
    let prefix = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      let chunk = data;
      while (chunk.length > 0) {
        if (remaining < 0) {
          prefix = Buffer.concat([prefix, chunk]);
          if (prefix.length < 8) return;
          remaining = Number(prefix.readBigUInt64LE(0));
          chunk = prefix.subarray(8);
          prefix = Buffer.alloc(0);
        }
        const used = Math.min(remaining, chunk.length);
        remaining -= used;
        chunk = chunk.subarray(used);
        if (remaining === 0) {
          remaining = -1;
          socket.write(Buffer.from([1]));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { address: `127.0.0.1:${port}`, close: () => server.close() };
}

/** The sending end: `transfer(bytes)` writes `bytes` in 1 MiB writes and resolves when the receiver has them all. */
export async function connectRawStream(
  address: string
): Promise<{ transfer(bytes: number): Promise<void>; close(): void }> {
  const host = address.slice(0, address.lastIndexOf(':'));
  const port = Number(address.split(':').pop());
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
  const block = Buffer.alloc(1 << 20, 7);
  let acked: (() => void) | undefined;
  socket.on('data', () => acked?.());
  return {
    async transfer(bytes) {
      const done = new Promise<void>((resolve) => (acked = resolve));
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(bytes));
      socket.write(prefix);
      for (let sent = 0; sent < bytes; sent += block.length) {
        const n = Math.min(block.length, bytes - sent);
        if (!socket.write(n === block.length ? block : block.subarray(0, n))) {
          await new Promise((resolve) => socket.once('drain', resolve));
        }
      }
      await done;
    },
    close: () => socket.destroy(),
  };
}
