import type { PeerCertificate } from 'node:tls';
import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js';
import { bearerTokenOf } from './tokens.js';

/** What an authorization policy sees of a call, before its handler runs. */
export interface AuthRequest {
  /** The gRPC method path, `/supwalsh.v1.Coordinator/SubmitExperiment`. */
  readonly path: string;
  /** The bearer token of the `authorization` metadata, if any. Never log it. */
  readonly token: string | undefined;
  /**
   * The client certificate of a TLS connection, if the client presented one. With client certificates
   * `optional`, TLS has not verified it: use `verifyPeerCertificate`.
   */
  readonly peerCertificate: PeerCertificate | undefined;
}

/** A policy's answer: let the call through, or end it with `code` (UNAUTHENTICATED, PERMISSION_DENIED). */
export type AuthDecision =
  | { readonly allow: true }
  | {
      readonly allow: false;
      readonly code: status;
      /** Says what to send; never echoes a token. */ readonly details: string;
    };

/** Decides a call from its method, token and client certificate; runs once per call, before the handler. */
export type AuthPolicy = (request: AuthRequest) => AuthDecision;

/**
 * A server interceptor that applies `policy` to every call once its metadata has arrived: allowed calls go on to
 * their handler, refused ones end with the policy's status and never reach it. `onDenied` hears of each refusal
 * (the method and the status; log those, not the metadata).
 */
export function createAuthInterceptor(
  policy: AuthPolicy,
  onDenied?: (request: Omit<AuthRequest, 'token'>, decision: Extract<AuthDecision, { allow: false }>) => void
): ServerInterceptor {
  return (methodDescriptor, call) =>
    new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            const peerCertificate = call.getAuthContext()?.sslPeerCertificate;
            const request = { path: methodDescriptor.path, token: bearerTokenOf(metadata), peerCertificate };
            const decision = policy(request);
            if (decision.allow) {
              nextMetadata(metadata);
              return;
            }
            onDenied?.({ path: request.path, peerCertificate }, decision);
            call.sendStatus({ code: decision.code, details: decision.details, metadata: new Metadata() });
          },
        });
      },
    });
}

/** A refusal with UNAUTHENTICATED. */
export function unauthenticated(details: string): AuthDecision {
  return { allow: false, code: status.UNAUTHENTICATED, details };
}

/** A refusal with PERMISSION_DENIED. */
export function permissionDenied(details: string): AuthDecision {
  return { allow: false, code: status.PERMISSION_DENIED, details };
}

/** Lets the call through. */
export const ALLOW: AuthDecision = Object.freeze({ allow: true });
