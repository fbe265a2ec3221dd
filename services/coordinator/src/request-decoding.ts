import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js';
import {
  CancelExperimentRequest,
  CoordinatorService,
  decodeChecked,
  DeregisterWorkerRequest,
  GetArtifactRequest,
  GetExperimentRequest,
  HeartbeatRequest,
  ListExperimentsRequest,
  ListWorkersRequest,
  RegisterWorkerRequest,
  ReportProgressRequest,
  SubmitExperimentRequest,
  UploadArtifactRequest,
  WatchExperimentRequest,
  WireNumberError,
  type CoordinatorServer,
  type MessageCodec,
} from '@supwalsh/proto';

/**
 * Requests are decoded before any handler or interceptor sees them, and grpc-js answers a decoder that throws
 * with INTERNAL "Error deserializing request". The coordinator's service definition therefore decodes with
 * `decodeChecked` and, instead of throwing, hands on a {@link DecodeFailure}; {@link createDecodeGuardInterceptor}
 * answers it with INVALID_ARGUMENT naming the field (a uint64 above 2^53 − 1) or saying the bytes are no message.
 */
const FAILURE = Symbol('supwalsh.decodeFailure');

/** What the guarded decoder hands on in place of a request it could not decode. */
interface DecodeFailure {
  readonly [FAILURE]: string;
}

const isDecodeFailure = (message: unknown): message is DecodeFailure =>
  typeof message === 'object' && message !== null && FAILURE in message;

/** The request type of every Coordinator method; a new RPC does not compile until it is listed. */
const REQUEST_TYPES = {
  submitExperiment: SubmitExperimentRequest,
  getExperiment: GetExperimentRequest,
  listExperiments: ListExperimentsRequest,
  watchExperiment: WatchExperimentRequest,
  cancelExperiment: CancelExperimentRequest,
  getArtifact: GetArtifactRequest,
  registerWorker: RegisterWorkerRequest,
  heartbeat: HeartbeatRequest,
  deregisterWorker: DeregisterWorkerRequest,
  listWorkers: ListWorkersRequest,
  reportProgress: ReportProgressRequest,
  uploadArtifact: UploadArtifactRequest,
} satisfies { [K in keyof CoordinatorServer]: MessageCodec<unknown> };

/** The decoder of `codec`'s requests that never throws. */
function guardedDecoder(codec: MessageCodec<unknown>, typeName: string): (bytes: Buffer) => unknown {
  return (bytes) => {
    try {
      return decodeChecked(codec, bytes, '', typeName);
    } catch (error: unknown) {
      const details =
        error instanceof WireNumberError
          ? error.message
          : `${error instanceof Error ? error.message : String(error)} (the bytes are not a ${typeName})`;
      return { [FAILURE]: details } satisfies DecodeFailure;
    }
  };
}

/** `CoordinatorService` with request decoders that report bad input instead of throwing. */
export function createGuardedCoordinatorService(): typeof CoordinatorService {
  const guarded: Record<string, unknown> = {};
  for (const [method, definition] of Object.entries(CoordinatorService)) {
    const codec = REQUEST_TYPES[method as keyof typeof REQUEST_TYPES] as MessageCodec<unknown>;
    const typeName = `supwalsh.v1.${method[0]!.toUpperCase()}${method.slice(1)}Request`;
    guarded[method] = { ...definition, requestDeserialize: guardedDecoder(codec, typeName) };
  }
  return guarded as typeof CoordinatorService;
}

/**
 * Ends a call with INVALID_ARGUMENT when one of its request messages could not be decoded (the guarded decoder's
 * {@link DecodeFailure}); the handler never sees it. Runs after the auth interceptor: a caller learns nothing
 * before it is authenticated.
 */
export function createDecodeGuardInterceptor(): ServerInterceptor {
  return (_descriptor, call) =>
    new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMessage(message, nextMessage) {
            if (isDecodeFailure(message)) {
              call.sendStatus({ code: status.INVALID_ARGUMENT, details: message[FAILURE], metadata: new Metadata() });
              return;
            }
            nextMessage(message);
          },
        });
      },
    });
}
