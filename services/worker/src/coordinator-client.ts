import { Metadata, type CallOptions, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import { CoordinatorClient } from '@supwalsh/proto';
import { createBearerTokenInterceptor, createChannelCredentials, type TlsMaterial } from '@supwalsh/security';
import { createTracingClientInterceptor } from '@supwalsh/telemetry/grpc';
import { deadlineIn } from './backoff.js';

/** Channel settings of the worker's connection to the coordinator. */
export interface CoordinatorClientOptions {
  /**
   * Longest pause grpc-js's own reconnection backs off to while the coordinator is unreachable, in milliseconds;
   * kept short so that a coordinator that comes back is seen within seconds (grpc-js's default is 120 s).
   * @default 5 000
   */
  maxReconnectBackoffMs?: number;
  /** Mutual TLS: the cluster CA verifies the coordinator, `cert`/`key` are this worker's. @default plaintext */
  tls?: TlsMaterial | undefined;
  /** Bearer token sent on every call (token-only set-ups). Never logged. @default none */
  token?: string | undefined;
}

/** A `CoordinatorClient` for `address` (`host:port`; plaintext unless `tls`), every call traced. */
export function createCoordinatorClient(address: string, options: CoordinatorClientOptions = {}): CoordinatorClient {
  const channelOptions: ChannelOptions = {
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': options.maxReconnectBackoffMs ?? 5_000,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.max_send_message_length': 8 << 20,
    interceptors: [
      createTracingClientInterceptor(),
      ...(options.token ? [createBearerTokenInterceptor(options.token)] : []),
    ],
  };
  return new CoordinatorClient(address, createChannelCredentials(options.tls), channelOptions);
}

/** A unary method of a grpc-js generated client, in its (request, metadata, options, callback) form. */
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void
) => unknown;

/** Calls a unary method with a deadline `deadlineMs` from now; rejects with the call's `ServiceError`. */
export function callUnary<Req, Res>(
  client: CoordinatorClient,
  method: UnaryMethod<Req, Res>,
  request: Req,
  deadlineMs: number
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    method.call(client, request, new Metadata(), { deadline: deadlineIn(deadlineMs) }, (error, response) => {
      if (error) reject(error);
      else resolve(response);
    });
  });
}
