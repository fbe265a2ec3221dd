import {
  Client,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientWritableStream,
  type sendUnaryData,
  type ServerErrorResponse,
  type ServerReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { context, propagation } from '@opentelemetry/api';
import { CollectiveOp, CollectiveService, type SendChunksRequest, type SendChunksResponse } from '@supwalsh/proto';
import { shutdownServer } from '@supwalsh/security';
import { createTracingClientInterceptor, createTracingServerInterceptor } from '@supwalsh/telemetry/grpc';
import { DEFAULT_CHUNK_BYTES, type CollectiveOptions } from './collective-options.js';
import type { Communicator, CommunicatorHandlers, RingMessage } from './communicator.js';
import {
  CollectiveArgumentError,
  CollectiveProtocolError,
  CollectiveTimeoutError,
  PeerFailedError,
  toError,
} from './errors.js';
import { openHttp2SendChunks, type OutgoingResult, type OutgoingStream } from './http2-sender.js';
import { createCollective, type Collective } from './ring-collective.js';
import { raiseServerFlowControlWindow } from './server-flow-control.js';
import { abortRequest, fromRequest, serializeChunk, toRequest, WireFieldError } from './wire-codec.js';

/** HTTP/2 flow-control window of ring connections, both ends (NOTES-transport.md; CollectiveOptions in worker.proto). */
export const DEFAULT_FLOW_CONTROL_WINDOW_BYTES = 16 << 20;
/** Messages handed to the data path and not yet written to the HTTP/2 stream, per ring (measured: see README). */
export const DEFAULT_CHUNKS_IN_FLIGHT = 4;
/** What writes a ring's outgoing stream (RingOptions.dataPath): measured faster than grpc-js, see the README. */
export const DEFAULT_DATA_PATH = 'http2' as const;
/** How long forming a ring may take: the right neighbour accepting our stream and the left one connecting. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** How long `close()` waits for queued chunks to be written and for the left neighbour to close its stream. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
/** Largest `chunkBytes` the contract allows (CollectiveOptions.chunk_bytes in worker.proto). */
export const MAX_CHUNK_BYTES = 4_000_000;
/** Room for the fields around `data` in a SendChunks message. */
const MESSAGE_OVERHEAD_BYTES = 64 << 10;

/** Request metadata that routes an incoming SendChunks stream to its ring (every message is checked as well). */
export const COLLECTIVE_METADATA = {
  runId: 'supwalsh-run-id',
  generation: 'supwalsh-generation',
  sourceRank: 'supwalsh-source-rank',
  /** Trailer of an aborting receiver: the rank that failed first. */
  failedRank: 'supwalsh-failed-rank',
} as const;

export interface CollectiveServerOptions {
  /**
   * Address to bind a new gRPC server to (`host:port`; port 0 picks a free port, read it from `address`).
   * @default '127.0.0.1:0'
   */
  listen?: string;
  /**
   * Serve the Collective service on this existing server instead (e.g. the worker's, next to the Worker
   * service); its owner binds, starts and shuts it down, and should have called
   * `raiseServerFlowControlWindow` on it before binding. `advertisedAddress` is then required.
   */
  server?: Server;
  /** The `host:port` peers reach this server at. @default the bound address */
  advertisedAddress?: string;
  /** HTTP/2 flow-control window of accepted connections (own server only). @default 16 MiB */
  flowControlWindowBytes?: number;
  /** Largest SendChunks message accepted (own server only). @default 4 000 000 (largest chunk) + 64 KiB */
  maxMessageBytes?: number;
  /**
   * Credentials of its own server (e.g. strict mutual TLS from @supwalsh/security's `createServerCredentials`).
   * With `server`, the owner binds it with its own. @default plaintext
   */
  serverCredentials?: ServerCredentials;
  /**
   * Credentials of the connections rings joined through this server open to their right neighbour (the cluster
   * CA and this process's client certificate for mutual TLS); `RingOptions.credentials` overrides them.
   * @default plaintext
   */
  clientCredentials?: ChannelCredentials;
}

/** A server that receives ring traffic for any number of runs; rings join it with `createRing`. */
export interface CollectiveServer {
  /** `host:port` to give peers (via the coordinator's rendezvous). */
  readonly address: string;
  readonly port: number;
  /** Stops accepting; aborts the rings still registered; shuts its own gRPC server down. */
  shutdown(): Promise<void>;
}

export interface RingOptions extends CollectiveOptions {
  /** This process's rank, 0 … worldSize−1. */
  rank: number;
  worldSize: number;
  /** `host:port` of every rank's collective server, by rank (this rank's own entry included). */
  peers: readonly string[];
  /** Where the left neighbour's stream arrives; not needed for world size 1. */
  server?: CollectiveServer;
  /** @default 30 000 */
  connectTimeoutMs?: number;
  /** @default 5 000 */
  closeTimeoutMs?: number;
  /** HTTP/2 flow-control window of the outgoing connection. @default 16 MiB */
  flowControlWindowBytes?: number;
  /** Credentials of the connection to the right neighbour. @default the server's `clientCredentials`, else plaintext */
  credentials?: ChannelCredentials;
  /**
   * How SendChunks messages are serialized: `fast` writes `data` with one copy (the default); `generated` uses
   * ts-proto's encoder (three copies), kept for the benchmark's comparison. Both produce the same protobuf.
   * @default 'fast'
   */
  wireSerializer?: 'fast' | 'generated';
  /**
   * What writes the outgoing `SendChunks` stream (the wire protocol is the same, so receivers cannot tell):
   * `grpc-js` (a grpc-js client call: every message serialized and framed into fresh buffers) or `http2` (a
   * Node.js HTTP/2 stream of our own with the gRPC framing written by this library, the payload written as a view
   * of the caller's buffer, no copy). See the README for the measurements. Call credentials composed into
   * `credentials` (per-call tokens) are not sent by `http2`; the Collective service does not use them.
   * @default 'http2'
   */
  dataPath?: 'grpc-js' | 'http2';
  /**
   * Chunks handed to the data path and not yet written to the HTTP/2 stream; more keep the socket busier, fewer
   * hold less memory. @default 4
   */
  chunksInFlight?: number;
}

interface Parked {
  generation: number;
  sourceRank: number;
  call: ServerReadableStream<SendChunksRequest, SendChunksResponse>;
  callback: sendUnaryData<SendChunksResponse>;
  timer: NodeJS.Timeout;
}

/** Maps a ring failure to the status the aborting receiver ends its incoming stream with (the one place). */
function failureToStatus(error: Error, failedRank: number): ServerErrorResponse {
  const metadata = new Metadata();
  metadata.set(COLLECTIVE_METADATA.failedRank, String(failedRank));
  const code =
    error instanceof CollectiveProtocolError
      ? status.INVALID_ARGUMENT
      : error instanceof CollectiveArgumentError
        ? status.FAILED_PRECONDITION
        : status.ABORTED;
  return { name: error.name, message: error.message, code, details: error.message, metadata };
}

function statusError(code: status, details: string): ServerErrorResponse {
  return { name: 'CollectiveError', message: details, code, details };
}

class CollectiveServerImpl implements CollectiveServer {
  readonly rings = new Map<string, GrpcCommunicator>();
  private readonly parked = new Map<string, Parked[]>();
  private stopped = false;
  /** Credentials of the connections its rings open (CollectiveServerOptions.clientCredentials). */
  clientCredentials: ChannelCredentials | undefined;

  constructor(
    public address: string,
    public port: number,
    private readonly ownServer: Server | undefined,
    readonly parkTimeoutMs: number
  ) {}

  /** The SendChunks handler: routes the stream by its metadata to the registered ring, or parks it. */
  readonly sendChunks = (
    call: ServerReadableStream<SendChunksRequest, SendChunksResponse>,
    callback: sendUnaryData<SendChunksResponse>
  ): void => {
    const read = (key: string) => {
      const value = call.metadata.get(key)[0];
      return typeof value === 'string' ? value : undefined;
    };
    const runId = read(COLLECTIVE_METADATA.runId);
    const generation = Number(read(COLLECTIVE_METADATA.generation));
    const sourceRank = Number(read(COLLECTIVE_METADATA.sourceRank));
    if (!runId || !Number.isSafeInteger(generation) || !Number.isInteger(sourceRank)) {
      callback(
        statusError(
          status.INVALID_ARGUMENT,
          `SendChunks needs request metadata ${Object.values(COLLECTIVE_METADATA).slice(0, 3).join(', ')}`
        )
      );
      return;
    }
    if (this.stopped) {
      callback(statusError(status.UNAVAILABLE, 'the collective server is shutting down'));
      return;
    }
    const ring = this.rings.get(runId);
    if (ring && ring.generation === generation) {
      ring.attachIncoming(call, callback, sourceRank);
    } else if (ring && generation < ring.generation) {
      callback(staleGeneration(runId, generation, ring.generation));
    } else {
      // The ring of this run and generation has not joined yet (its process is still being told the peers).
      const parked: Parked = {
        generation,
        sourceRank,
        call,
        callback,
        timer: setTimeout(() => {
          this.unpark(runId, parked);
          callback(statusError(status.UNAVAILABLE, `no ring of run ${runId} generation ${generation} here yet`));
        }, this.parkTimeoutMs),
      };
      call.on('cancelled', () => {
        clearTimeout(parked.timer);
        this.unpark(runId, parked);
      });
      this.parked.set(runId, [...(this.parked.get(runId) ?? []), parked]);
    }
  };

  register(ring: GrpcCommunicator): void {
    const existing = this.rings.get(ring.runId);
    if (existing && existing.generation >= ring.generation) {
      throw new CollectiveArgumentError(
        'createRing',
        'generation',
        `must be greater than ${existing.generation}, the generation of the ring of run ${ring.runId} already here; got ${ring.generation}`
      );
    }
    if (existing) existing.supersede(ring.generation);
    this.rings.set(ring.runId, ring);
    for (const parked of [...(this.parked.get(ring.runId) ?? [])]) {
      if (parked.generation > ring.generation) continue;
      clearTimeout(parked.timer);
      this.unpark(ring.runId, parked);
      if (parked.generation === ring.generation) ring.attachIncoming(parked.call, parked.callback, parked.sourceRank);
      else parked.callback(staleGeneration(ring.runId, parked.generation, ring.generation));
    }
  }

  unregister(ring: GrpcCommunicator): void {
    if (this.rings.get(ring.runId) === ring) this.rings.delete(ring.runId);
  }

  private unpark(runId: string, parked: Parked): void {
    const list = (this.parked.get(runId) ?? []).filter((p) => p !== parked);
    if (list.length) this.parked.set(runId, list);
    else this.parked.delete(runId);
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const list of this.parked.values()) {
      for (const p of list) {
        clearTimeout(p.timer);
        p.callback(statusError(status.UNAVAILABLE, 'the collective server is shutting down'));
      }
    }
    this.parked.clear();
    for (const ring of [...this.rings.values()]) {
      ring.abort(ring.rank, new Error('the collective server is shutting down'));
    }
    const server = this.ownServer;
    if (!server) return;
    await shutdownServer(server, 2_000);
  }
}

function staleGeneration(runId: string, generation: number, current: number): ServerErrorResponse {
  return statusError(
    status.FAILED_PRECONDITION,
    `generation ${generation} of run ${runId} is not the current one (${current}): the ring was re-formed`
  );
}

/** Starts a server for ring traffic (or adds the Collective service to an existing one). */
export async function createCollectiveServer(options: CollectiveServerOptions = {}): Promise<CollectiveServer> {
  const parkTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
  if (options.server) {
    if (!options.advertisedAddress) {
      throw new CollectiveArgumentError('createCollectiveServer', 'advertisedAddress', 'is required with `server`');
    }
    const port = Number(options.advertisedAddress.split(':').pop());
    const impl = new CollectiveServerImpl(options.advertisedAddress, port, undefined, parkTimeoutMs);
    impl.clientCredentials = options.clientCredentials;
    options.server.addService(CollectiveService, { sendChunks: impl.sendChunks });
    return impl;
  }
  const listen = options.listen ?? '127.0.0.1:0';
  const maxMessageBytes = options.maxMessageBytes ?? MAX_CHUNK_BYTES + MESSAGE_OVERHEAD_BYTES;
  const server = new Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    interceptors: [createTracingServerInterceptor()],
  });
  raiseServerFlowControlWindow(server, options.flowControlWindowBytes ?? DEFAULT_FLOW_CONTROL_WINDOW_BYTES);
  const impl = new CollectiveServerImpl('', 0, server, parkTimeoutMs);
  impl.clientCredentials = options.clientCredentials;
  server.addService(CollectiveService, { sendChunks: impl.sendChunks });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, options.serverCredentials ?? ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound)
    )
  );
  const host = listen.slice(0, listen.lastIndexOf(':'));
  impl.address = options.advertisedAddress ?? `${host}:${port}`;
  impl.port = port;
  return impl;
}

/**
 * Joins the ring of (runId, generation) as `rank`: opens the stream to the right neighbour and waits for the
 * left neighbour's stream, then resolves with the ring's {@link Collective}. World size 1 needs no server and no
 * network. Fails with `CollectiveTimeoutError` (connect) or `PeerFailedError` when the ring cannot form.
 */
export async function createRing(options: RingOptions): Promise<Collective> {
  const { rank, worldSize, peers } = options;
  if (!Number.isInteger(worldSize) || worldSize < 1) {
    throw new CollectiveArgumentError('createRing', 'worldSize', `must be an integer ≥ 1; got ${worldSize}`);
  }
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new CollectiveArgumentError('createRing', 'rank', `must be an integer in 0 … ${worldSize - 1}; got ${rank}`);
  }
  if (peers.length !== worldSize) {
    throw new CollectiveArgumentError('createRing', 'peers', `must list ${worldSize} addresses; got ${peers.length}`);
  }
  if (!options.runId) throw new CollectiveArgumentError('createRing', 'runId', 'must not be empty');
  const generation = options.generation ?? 1;
  if (!Number.isSafeInteger(generation) || generation < 1) {
    throw new CollectiveArgumentError('createRing', 'generation', `must be an integer ≥ 1; got ${generation}`);
  }
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 4 || chunkBytes > MAX_CHUNK_BYTES) {
    throw new CollectiveArgumentError(
      'createRing',
      'chunkBytes',
      `must be an integer in 4 … ${MAX_CHUNK_BYTES}; got ${chunkBytes}`
    );
  }
  if (worldSize === 1) return createCollective(soloCommunicator(peers[0] ?? ''), options);
  if (!(options.server instanceof CollectiveServerImpl)) {
    throw new CollectiveArgumentError('createRing', 'server', 'must be a CollectiveServer from createCollectiveServer');
  }
  const communicator = new GrpcCommunicator(options.server, { ...options, generation });
  await communicator.connect();
  return createCollective(communicator, options);
}

function soloCommunicator(address: string): Communicator {
  return {
    rank: 0,
    worldSize: 1,
    transport: 'grpc',
    peerAddress: () => address,
    send: () => Promise.reject(new Error('a ring of one rank sends nothing')),
    listen: () => undefined,
    abort: () => undefined,
    close: async () => undefined,
  };
}

type State = 'CONNECTING' | 'OPEN' | 'ABORTED' | 'CLOSING' | 'CLOSED';

interface Queued {
  request: SendChunksRequest;
  resolve(): void;
  reject(error: Error): void;
}

interface Incoming {
  call: ServerReadableStream<SendChunksRequest, SendChunksResponse>;
  callback: sendUnaryData<SendChunksResponse>;
  responded: boolean;
  ended: boolean;
  /** The left neighbour sent ABORT: its cancellation that follows is no news. */
  aborted: boolean;
  chunks: number;
  bytes: number;
  lastOperation: number;
}

/**
 * The gRPC transport of one ring member: one client-streaming `SendChunks` call to the right neighbour (its own
 * HTTP/2 connection, used one way only), and the `SendChunks` call the left neighbour opened to this rank's
 * server.
 */
class GrpcCommunicator implements Communicator {
  readonly transport = 'grpc';
  readonly rank: number;
  readonly worldSize: number;
  readonly runId: string;
  readonly generation: number;
  private state: State = 'CONNECTING';
  private readonly left: number;
  private readonly right: number;
  private readonly client: Client;
  private readonly channelCredentials: ChannelCredentials;
  private readonly dataPath: 'grpc-js' | 'http2';
  private readonly serialize: (request: SendChunksRequest) => Buffer;
  /** Buffers of serialized chunks, reused once grpc-js has framed them (fewer 1 MiB allocations, less GC). */
  private readonly pool = new BufferPool();
  private outgoing: OutgoingStream | undefined;
  private outgoingDone: Promise<void> | undefined;
  private incoming: Incoming | undefined;
  private incomingReady: (() => void) | undefined;
  private incomingEnded: (() => void) | undefined;
  private readonly queue: Queued[] = [];
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private handlers: CommunicatorHandlers | undefined;
  /** Events that happened before `listen` (a failure while the collective is being built). */
  private readonly early: ((h: CommunicatorHandlers) => void)[] = [];
  private readonly chunksInFlight: number;
  private readonly connectTimeoutMs: number;
  private readonly closeTimeoutMs: number;

  constructor(
    private readonly server: CollectiveServerImpl,
    private readonly options: RingOptions & { generation: number }
  ) {
    this.rank = options.rank;
    this.worldSize = options.worldSize;
    this.runId = options.runId;
    this.generation = options.generation;
    this.left = (this.rank - 1 + this.worldSize) % this.worldSize;
    this.right = (this.rank + 1) % this.worldSize;
    this.chunksInFlight = options.chunksInFlight ?? DEFAULT_CHUNKS_IN_FLIGHT;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    const maxMessageBytes = (options.chunkBytes ?? DEFAULT_CHUNK_BYTES) + MESSAGE_OVERHEAD_BYTES;
    const channelOptions: ChannelOptions = {
      'grpc-node.flow_control_window': options.flowControlWindowBytes ?? DEFAULT_FLOW_CONTROL_WINDOW_BYTES,
      'grpc.max_send_message_length': Math.max(maxMessageBytes, 4 << 20),
      'grpc.max_receive_message_length': 4 << 20,
      // A connection of our own (one direction per HTTP/2 connection), no transparent-retry buffering of a
      // long-lived stream, quick reconnects while the ring forms.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.enable_retries': 0,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
      interceptors: [createTracingClientInterceptor()],
    };
    const channelCredentials = options.credentials ?? server.clientCredentials ?? credentials.createInsecure();
    this.channelCredentials = channelCredentials;
    const dataPath = options.dataPath ?? DEFAULT_DATA_PATH;
    if (dataPath !== 'grpc-js' && dataPath !== 'http2') {
      throw new CollectiveArgumentError(
        'createRing',
        'dataPath',
        `must be 'grpc-js' or 'http2'; got ${String(dataPath)}`
      );
    }
    // TLS on the http2 path goes through the credentials' secure connector (grpc-js 1.10+): without one, grpc-js.
    this.dataPath =
      dataPath === 'http2' &&
      channelCredentials._isSecure() &&
      typeof channelCredentials._createSecureConnector !== 'function'
        ? 'grpc-js'
        : dataPath;
    this.client = new Client(this.peerAddress(this.right), channelCredentials, channelOptions);
    this.serialize =
      options.wireSerializer === 'generated'
        ? CollectiveService.sendChunks.requestSerialize
        : (request) => serializeChunk(request, (bytes) => this.pool.acquire(bytes));
  }

  peerAddress(rank: number): string {
    return this.options.peers[rank] ?? '';
  }

  // ── forming the ring ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Forms this rank's part of the ring:
   * 1. register with the local server, so that the left neighbour's stream (which may already be waiting,
   *    parked) is attached to this ring;
   * 2. open the SendChunks stream to the right neighbour, with run, generation and rank in its metadata; the
   *    right neighbour accepts it by sending response headers once its own ring has registered. UNAVAILABLE
   *    (not listening yet, or its ring not registered in time) is retried with backoff until the deadline;
   * 3. wait for the left neighbour's stream to be attached.
   * Both within `connectTimeoutMs`, else `CollectiveTimeoutError` (operation `connect`) naming the neighbour.
   */
  async connect(): Promise<void> {
    this.server.register(this);
    const deadline = Date.now() + this.connectTimeoutMs;
    const leftReady = this.incoming
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.incomingReady = resolve));
    try {
      await this.openOutgoing(deadline);
      await withDeadline(leftReady, deadline, () => this.connectTimeout(this.left));
      this.state = 'OPEN';
    } catch (error: unknown) {
      this.abort(this.rank, toError(error));
      throw error;
    }
  }

  private connectTimeout(peer: number): CollectiveTimeoutError {
    return new CollectiveTimeoutError('connect', -1, this.connectTimeoutMs, peer, this.peerAddress(peer));
  }

  private async openOutgoing(deadline: number): Promise<void> {
    let backoff = 50;
    for (;;) {
      const attempt = await this.startOutgoing(deadline);
      const { stream, accepted, done } = attempt;
      const first = await withDeadline(Promise.race([accepted.then(() => 'accepted' as const), done]), deadline, () => {
        stream.cancel();
        return this.connectTimeout(this.right);
      });
      if (first === 'accepted') {
        this.outgoing = stream;
        this.outgoingDone = done.then(({ error }) => this.onOutgoingDone(error));
        return;
      }
      const { error } = first;
      if (error?.code === status.UNAVAILABLE && Date.now() + backoff < deadline && this.state === 'CONNECTING') {
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(1_000, backoff * 2);
        continue;
      }
      throw this.failureFrom(error, 'refused the ring stream');
    }
  }

  /** One attempt at opening SendChunks to the right neighbour, on the configured data path. */
  private async startOutgoing(
    deadline: number
  ): Promise<{ stream: OutgoingStream; accepted: Promise<void>; done: Promise<OutgoingResult> }> {
    const method = CollectiveService.sendChunks;
    const entries: [string, string][] = [
      [COLLECTIVE_METADATA.runId, this.runId],
      [COLLECTIVE_METADATA.generation, String(this.generation)],
      [COLLECTIVE_METADATA.sourceRank, String(this.rank)],
    ];
    if (this.dataPath === 'http2') {
      const headers: Record<string, string> = Object.fromEntries(entries);
      propagation.inject(context.active(), headers); // trace context, as the grpc-js tracing interceptor sends it
      const opening = openHttp2SendChunks({
        target: this.peerAddress(this.right),
        path: method.path,
        metadata: headers,
        credentials: this.channelCredentials,
        windowBytes: this.options.flowControlWindowBytes ?? DEFAULT_FLOW_CONTROL_WINDOW_BYTES,
      });
      let late = false; // the deadline passed while connecting: a stream opened after it is abandoned
      void opening.then(
        (opened) => late && opened.stream.cancel(),
        () => undefined
      );
      return withDeadline(
        opening.catch((error: unknown) => {
          // Not reachable (UNAVAILABLE, retried by the caller) or another status: a refusal like grpc-js's.
          const e = error as Partial<ServiceError>;
          if (typeof e.code !== 'number') throw error;
          return {
            stream: { write: () => undefined, end: () => undefined, cancel: () => undefined },
            accepted: new Promise<void>(() => undefined),
            done: Promise.resolve({ error: e as ServiceError }),
          };
        }),
        deadline,
        () => {
          late = true;
          return this.connectTimeout(this.right);
        }
      );
    }
    const metadata = new Metadata();
    for (const [key, value] of entries) metadata.set(key, value);
    let settle!: (error: ServiceError | null, response?: SendChunksResponse) => void;
    const done = new Promise<OutgoingResult>(
      (resolve) => (settle = (error, response) => resolve({ error, ...(response ? { response } : {}) }))
    );
    const call: ClientWritableStream<SendChunksRequest> = this.client.makeClientStreamRequest<
      SendChunksRequest,
      SendChunksResponse
    >(method.path, this.serialize, method.responseDeserialize, metadata, {}, (error, response) =>
      settle(error ?? null, response)
    );
    call.on('error', () => undefined); // reported through the callback
    const accepted = new Promise<void>((resolve) => call.once('metadata', () => resolve()));
    const stream: OutgoingStream = {
      write: (request, callback) => call.write(request, callback),
      end: () => call.end(),
      cancel: () => call.cancel(),
    };
    return { stream, accepted, done };
  }

  /** Called by the server with the left neighbour's stream. */
  attachIncoming(
    call: ServerReadableStream<SendChunksRequest, SendChunksResponse>,
    callback: sendUnaryData<SendChunksResponse>,
    sourceRank: number
  ): void {
    if (sourceRank !== this.left || this.incoming || this.state === 'ABORTED' || this.state === 'CLOSED') {
      callback(
        statusError(
          status.FAILED_PRECONDITION,
          sourceRank !== this.left
            ? `rank ${this.rank} receives from rank ${this.left} only, not ${sourceRank}`
            : `rank ${this.rank} already has its stream from rank ${this.left}`
        )
      );
      return;
    }
    const incoming: Incoming = {
      call,
      callback,
      responded: false,
      ended: false,
      aborted: false,
      chunks: 0,
      bytes: 0,
      lastOperation: 0,
    };
    this.incoming = incoming;
    call.sendMetadata(new Metadata()); // accepted: the sender may start
    call.on('data', (request: SendChunksRequest) => {
      incoming.chunks++;
      incoming.bytes += request.data.byteLength;
      incoming.lastOperation = Math.max(incoming.lastOperation, request.operation);
      if (request.op === CollectiveOp.COLLECTIVE_OP_ABORT) {
        // The left neighbour's ring failed; it names the rank that failed first.
        const failed = request.failedRank < this.worldSize ? request.failedRank : this.left;
        incoming.aborted = true;
        this.emit((h) =>
          h.failure(
            new PeerFailedError(failed, this.peerAddress(failed), `aborted: ${request.abortReason}`, {
              reportedBy: this.left,
            })
          )
        );
        return;
      }
      let message: RingMessage;
      try {
        message = fromRequest(request);
      } catch (error: unknown) {
        const e = error instanceof WireFieldError ? error : new WireFieldError('message', 'a SendChunksRequest', '?');
        this.emit((h) =>
          h.failure(new CollectiveProtocolError(e.field, e.expected, e.actual, this.left, this.peerAddress(this.left)))
        );
        return;
      }
      this.emit((h) => h.message(message));
    });
    call.on('end', () => {
      incoming.ended = true;
      this.respond(null);
      this.incomingEnded?.();
      if (this.state === 'OPEN') this.emit((h) => h.end());
    });
    const lost = (reason: string) => {
      if (incoming.ended || incoming.aborted || this.state === 'ABORTED' || this.state === 'CLOSED') return;
      this.emit((h) => h.failure(new PeerFailedError(this.left, this.peerAddress(this.left), reason)));
      this.incomingEnded?.();
    };
    call.on('cancelled', () => lost('its stream was cancelled (process gone or ring aborted)'));
    call.on('error', (error: Error) => lost(`stream error: ${error.message}`));
    this.incomingReady?.();
  }

  // ── Communicator ──────────────────────────────────────────────────────────────────────────────────────

  listen(handlers: CommunicatorHandlers): void {
    this.handlers = handlers;
    for (const event of this.early.splice(0)) event(handlers);
  }

  private emit(event: (h: CommunicatorHandlers) => void): void {
    if (this.handlers) event(this.handlers);
    else this.early.push(event);
  }

  send(message: RingMessage): Promise<void> {
    if (this.state !== 'OPEN' || !this.outgoing) {
      return Promise.reject(
        new PeerFailedError(this.right, this.peerAddress(this.right), `cannot send: the ring is ${this.state}`)
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ request: toRequest(message), resolve, reject });
      this.pump();
    });
  }

  /** Hands queued chunks to the data path while fewer than `chunksInFlight` are waiting to be flushed. */
  private pump(): void {
    const call = this.outgoing;
    if (!call) return;
    while (this.queue.length > 0 && this.inFlight < this.chunksInFlight) {
      const item = this.queue.shift()!;
      this.inFlight++;
      // grpc-js serializes a message when its Writable gets to it, and calls back once it is in the HTTP/2
      // stream; the http2 data path calls back once the payload is on the socket: only then is `data` (a view
      // of the caller's buffer) free.
      call.write(item.request, () => {
        this.pool.releaseOldest();
        this.inFlight--;
        item.resolve();
        if (this.inFlight === 0 && this.queue.length === 0) this.drained?.();
        this.pump();
      });
    }
  }

  private onOutgoingDone(error: ServiceError | null): void {
    if (this.state === 'ABORTED' || this.state === 'CLOSED') return;
    if (this.state === 'CLOSING' && !error) return;
    const failure = error
      ? this.failureFrom(error, 'ended the ring stream')
      : new PeerFailedError(this.right, this.peerAddress(this.right), 'closed its connection');
    this.rejectQueued(failure);
    if (this.state === 'OPEN' || this.state === 'CLOSING') this.emit((h) => h.failure(failure));
  }

  /** The typed error for a status that ended our outgoing stream; the right neighbour's trailer names who failed. */
  private failureFrom(error: ServiceError | null, what: string): PeerFailedError {
    const reported = Number(error?.metadata?.get(COLLECTIVE_METADATA.failedRank)[0]);
    const failedRank = Number.isInteger(reported) && reported >= 0 && reported < this.worldSize ? reported : this.right;
    const code = error ? (status[error.code] ?? String(error.code)) : 'OK';
    const reason = `${what}: ${code}${error?.details ? ` ${error.details}` : ''}`;
    return new PeerFailedError(failedRank, this.peerAddress(failedRank), reason, {
      cause: error ?? undefined,
      reportedBy: this.right,
    });
  }

  private rejectQueued(error: Error): void {
    for (const item of this.queue.splice(0)) item.reject(error);
  }

  private respond(error: ServerErrorResponse | null): void {
    const incoming = this.incoming;
    if (!incoming || incoming.responded) return;
    incoming.responded = true;
    try {
      if (error) incoming.callback(error);
      else
        incoming.callback(null, {
          chunksReceived: incoming.chunks,
          bytesReceived: incoming.bytes,
          lastOperation: incoming.lastOperation,
        });
    } catch {
      // the call is already gone
    }
  }

  abort(failedRank: number, error: Error): void {
    if (this.state === 'ABORTED' || this.state === 'CLOSED') return;
    this.state = 'ABORTED';
    this.server.unregister(this);
    this.rejectQueued(new PeerFailedError(failedRank, this.peerAddress(failedRank), `aborted: ${error.message}`));
    // The left neighbour learns through the status of its stream (with the failed rank as a trailer), the right
    // one through an ABORT message naming the failed rank, after which we half-close our stream (a cancel could
    // overtake the message on the receiving side).
    this.respond(failureToStatus(error, failedRank));
    this.incomingReady = undefined;
    const call = this.outgoing;
    if (!call) {
      this.client.close();
      return;
    }
    const timer = setTimeout(() => {
      call.cancel();
      this.client.close();
    }, this.closeTimeoutMs);
    void this.outgoingDone?.finally(() => {
      clearTimeout(timer);
      this.client.close();
    });
    try {
      call.write(abortRequest(this.runId, this.generation, this.rank, failedRank, error.message));
      call.end();
    } catch {
      call.cancel();
    }
  }

  /**
   * Graceful close: 1. wait (up to `closeTimeoutMs`) for queued chunks to be written; 2. half-close the stream
   * to the right and wait for its totals; 3. wait for the left neighbour to half-close its stream, answer it
   * with the totals; 4. close the channel. Neighbours closing at the same time never wait on each other.
   */
  async close(): Promise<void> {
    if (this.state === 'ABORTED' || this.state === 'CLOSED') {
      this.state = 'CLOSED';
      return;
    }
    this.state = 'CLOSING';
    const deadline = Date.now() + this.closeTimeoutMs;
    const quiet = () => undefined;
    if (this.inFlight > 0 || this.queue.length > 0) {
      await withDeadline(new Promise<void>((resolve) => (this.drained = resolve)), deadline, quiet).catch(quiet);
    }
    this.outgoing?.end();
    if (this.outgoingDone) await withDeadline(this.outgoingDone, deadline, quiet).catch(quiet);
    const incoming = this.incoming;
    if (incoming && !incoming.ended) {
      await withDeadline(new Promise<void>((resolve) => (this.incomingEnded = resolve)), deadline, quiet).catch(quiet);
    }
    this.respond(null);
    this.state = 'CLOSED';
    this.server.unregister(this);
    this.client.close();
  }

  /** Aborts this ring because a newer generation of the same run registered on the server. */
  supersede(generation: number): void {
    this.abort(this.rank, new Error(`superseded by generation ${generation}`));
  }
}

/**
 * Serialization buffers of the outgoing stream. grpc-js calls the serializer in write order and calls the write
 * callbacks in the same order, after it has copied the message into its frame, so the oldest buffer handed out
 * is the one a callback releases.
 */
class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly lent: Buffer[] = [];
  acquire(bytes: number): Buffer {
    const i = this.free.findIndex((b) => b.length >= bytes && b.length <= 2 * bytes);
    const buffer = i >= 0 ? this.free.splice(i, 1)[0]! : Buffer.allocUnsafeSlow(bytes);
    this.lent.push(buffer);
    return buffer;
  }
  releaseOldest(): void {
    const buffer = this.lent.shift();
    if (buffer && this.free.length < 8) this.free.push(buffer);
  }
}

/** Resolves like `promise`, or rejects with `onTimeout()` at `deadline` (epoch ms). */
function withDeadline<T>(promise: Promise<T>, deadline: number, onTimeout: () => Error | undefined): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout() ?? new Error('timed out')), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
