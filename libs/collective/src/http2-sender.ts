import http2 from 'node:http2';
import net from 'node:net';
import {
  credentials as grpcCredentials,
  Metadata,
  status,
  type ChannelCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import { SendChunksResponse, type SendChunksRequest } from '@supwalsh/proto';
import { encodeChunkHead, GRPC_PREFIX_BYTES } from './wire-codec.js';

/** The outgoing half of a ring hop, whichever data path carries it. */
export interface OutgoingStream {
  /** Queues one message; `callback` runs once the transport no longer reads `request.data`. */
  write(request: SendChunksRequest, callback?: () => void): void;
  /** Half-closes the stream (the receiver answers with its totals and a status). */
  end(): void;
  /** Abandons the stream at once. */
  cancel(): void;
}

/** How an outgoing stream ended: a status (null for OK) and the receiver's totals. */
export interface OutgoingResult {
  error: ServiceError | null;
  response?: SendChunksResponse;
}

export interface Http2SendChunksOptions {
  /** `host:port` of the receiver. */
  target: string;
  /** `/supwalsh.v1.Collective/SendChunks`. */
  path: string;
  /** Request metadata (lower-case keys, ASCII values). */
  metadata: Record<string, string>;
  credentials: ChannelCredentials;
  /** HTTP/2 windows of our side of the connection (what the receiver sends us: headers, totals). */
  windowBytes: number;
}

/** A status like grpc-js reports it (`ServiceError`), for a stream this module opened. */
function serviceError(code: status, details: string, metadata = new Metadata()): ServiceError {
  return Object.assign(new Error(`${code} ${status[code] ?? ''}: ${details}`), { code, details, metadata });
}

/** Response headers or trailers as grpc-js `Metadata` (the gRPC and HTTP/2 reserved keys left out). */
function toMetadata(headers: http2.IncomingHttpHeaders): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(':') || key.startsWith('grpc-') || key === 'content-type' || value === undefined) continue;
    if (key.endsWith('-bin')) continue; // not used by the Collective service
    for (const v of Array.isArray(value) ? value : [value]) metadata.add(key, v);
  }
  return metadata;
}

/** The gRPC status of response headers or trailers, if they carry one. */
function statusOf(headers: http2.IncomingHttpHeaders): ServiceError | null | undefined {
  const raw = headers['grpc-status'];
  if (raw === undefined) return undefined;
  const code = Number(raw) as status;
  if (code === status.OK) return null;
  const message = headers['grpc-message'];
  const details = typeof message === 'string' ? decodeURIComponent(message) : '';
  return serviceError(code, details, toMetadata(headers));
}

/**
 * Opens the socket of a ring connection: plain TCP, or TLS through the same `ChannelCredentials` the grpc-js
 * path uses (their secure connector gives the TLS options: CA, client certificate, server name, ALPN `h2`).
 * Rejects with an UNAVAILABLE status when the peer is not reachable, as grpc-js would.
 */
async function connectSocket(target: string, channelCredentials: ChannelCredentials): Promise<net.Socket> {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(target.slice(colon + 1));
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  }).catch((error: unknown) => {
    throw serviceError(status.UNAVAILABLE, `cannot connect to ${target}: ${(error as Error).message}`);
  });
  if (!channelCredentials._isSecure()) return socket;
  let connector: ReturnType<ChannelCredentials['_createSecureConnector']> | undefined;
  try {
    // The target as grpc-js's channel parses `host:port` (the server name for TLS comes from it).
    connector = channelCredentials._createSecureConnector({ scheme: 'dns', authority: '', path: target }, {});
    const { socket: secure } = await connector.connect(socket);
    return secure;
  } catch (error: unknown) {
    socket.destroy();
    throw serviceError(status.UNAVAILABLE, `TLS handshake with ${target} failed: ${(error as Error).message}`);
  } finally {
    connector?.destroy();
  }
}

/**
 * The `http2` data path of a ring hop: a `SendChunks` client stream written straight to a Node.js HTTP/2 stream
 * (its own connection, one direction), speaking the same gRPC wire protocol as grpc-js — `POST` to the method's
 * path, `content-type: application/grpc`, `te: trailers`, the request metadata as headers, each message as the
 * 5-byte gRPC prefix followed by the protobuf — but writing the payload as a view of the caller's buffer: no
 * serialization copy, no per-message frame buffer. Node's HTTP/2 stream holds the view until the bytes are on
 * the socket, then calls the write back.
 *
 * Resolves once the stream is open (the receiver may still refuse it: `accepted` resolves when the response
 * headers arrive, `done` with the final status).
 */
export async function openHttp2SendChunks(options: Http2SendChunksOptions): Promise<{
  stream: OutgoingStream;
  accepted: Promise<void>;
  done: Promise<OutgoingResult>;
}> {
  const { target, windowBytes } = options;
  const channelCredentials = options.credentials ?? grpcCredentials.createInsecure();
  const socket = await connectSocket(target, channelCredentials);
  const secure = channelCredentials._isSecure();
  const session = http2.connect(`${secure ? 'https' : 'http'}://${target}`, {
    createConnection: () => socket,
    settings: { initialWindowSize: windowBytes, enablePush: false },
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
  });
  let sessionError: Error | undefined;
  session.on('error', (error: Error) => (sessionError = error)); // reported through the stream's close
  session.once('connect', () => {
    try {
      session.setLocalWindowSize(windowBytes);
    } catch {
      // closing already
    }
  });
  const call = session.request(
    {
      [http2.constants.HTTP2_HEADER_METHOD]: 'POST',
      [http2.constants.HTTP2_HEADER_PATH]: options.path,
      [http2.constants.HTTP2_HEADER_AUTHORITY]: target,
      [http2.constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      [http2.constants.HTTP2_HEADER_TE]: 'trailers',
      'grpc-accept-encoding': 'identity',
      'user-agent': 'supwalsh-collective-http2',
      ...options.metadata,
    },
    { endStream: false }
  );

  let headersStatus: ServiceError | null | undefined;
  let trailersStatus: ServiceError | null | undefined;
  const received: Buffer[] = [];
  const accepted = new Promise<void>((resolve) =>
    call.once('response', (headers) => {
      headersStatus = statusOf(headers); // trailers-only: refused
      if (headersStatus === undefined) resolve();
    })
  );
  call.on('trailers', (trailers) => (trailersStatus = statusOf(trailers)));
  call.on('data', (chunk: Buffer) => received.push(chunk));
  let streamError: Error | undefined;
  call.on('error', (error: Error & { code?: string }) => {
    // A write racing the peer's reset says nothing about why the stream went: keep the first real cause.
    if (!streamError && error.code !== 'ERR_STREAM_WRITE_AFTER_END') streamError = error;
  });
  let cancelled = false;
  const done = new Promise<OutgoingResult>((resolve) => {
    call.once('close', () => {
      const final = headersStatus !== undefined ? headersStatus : trailersStatus;
      session.close();
      if (final === undefined) {
        if (cancelled) {
          resolve({ error: serviceError(status.CANCELLED, 'cancelled by this rank') });
          return;
        }
        const why = (sessionError ?? streamError)?.message ?? `stream reset with HTTP/2 code ${call.rstCode}`;
        resolve({ error: serviceError(status.UNAVAILABLE, `connection to ${target} dropped: ${why}`) });
        return;
      }
      if (final) {
        resolve({ error: final });
        return;
      }
      const body = Buffer.concat(received);
      let response: SendChunksResponse | undefined;
      try {
        if (body.length >= GRPC_PREFIX_BYTES) {
          response = SendChunksResponse.decode(
            body.subarray(GRPC_PREFIX_BYTES, GRPC_PREFIX_BYTES + body.readUInt32BE(1))
          );
        }
      } catch {
        // totals are informational
      }
      resolve({ error: null, ...(response ? { response } : {}) });
    });
  });

  const stream: OutgoingStream = {
    write(request, callback) {
      const { head, data } = encodeChunkHead(request, GRPC_PREFIX_BYTES);
      if (data.byteLength === 0) {
        call.write(head, callback);
        return;
      }
      call.cork();
      call.write(head);
      call.write(data, callback);
      call.uncork();
    },
    end() {
      if (!call.writableEnded) call.end();
    },
    cancel() {
      cancelled = true;
      if (!call.closed) call.close(http2.constants.NGHTTP2_CANCEL);
      session.destroy();
    },
  };
  return { stream, accepted, done };
}
