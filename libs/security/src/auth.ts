import type { PeerCertificate } from 'node:tls';
import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js';
import type { Principal } from './principals.js';
import { authorizationOf, type Authorization } from './tokens.js';

/** What an authorization policy sees of a call, before its handler runs. */
export interface AuthRequest {
  /** The gRPC method path, `/supwalsh.v1.Coordinator/SubmitExperiment`. */
  readonly path: string;
  /** The bearer token of the `authorization` metadata, if any. Never log it. */
  readonly token: string | undefined;
  /** The `authorization` metadata as read: none, malformed (and why) or a bearer token. Never log the token. */
  readonly authorization: Authorization;
  /**
   * The client certificate of a TLS connection, if the client presented one. With client certificates
   * `optional`, TLS has not verified it: use `verifyPeerCertificate`.
   */
  readonly peerCertificate: PeerCertificate | undefined;
}

/** A policy's answer: let the call through, or end it with `code` (UNAUTHENTICATED, PERMISSION_DENIED). */
export type AuthDecision =
  | {
      readonly allow: true;
      /** Who the caller is; the handler reads it with {@link principalOfCall}. */
      readonly principal?: Principal | undefined;
    }
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
  onDenied?: (
    request: Omit<AuthRequest, 'token' | 'authorization'>,
    decision: Extract<AuthDecision, { allow: false }>
  ) => void
): ServerInterceptor {
  return (methodDescriptor, call) =>
    new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            const peerCertificate = call.getAuthContext()?.sslPeerCertificate;
            const authorization = authorizationOf(metadata);
            const token = authorization.kind === 'bearer' ? authorization.token : undefined;
            const request = { path: methodDescriptor.path, token, authorization, peerCertificate };
            const decision = policy(request);
            if (decision.allow) {
              if (decision.principal) PRINCIPALS.set(metadata, decision.principal);
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

/**
 * Principals of allowed calls by their request metadata (the object grpc-js hands the handler as `call.metadata`).
 * A WeakMap, not a metadata entry: a client cannot forge it, and it goes with the call.
 */
const PRINCIPALS = new WeakMap<Metadata, Principal>();

/** The principal an auth interceptor attached to a call (pass `call.metadata`), or undefined when none ran. */
export function principalOfCall(metadata: Metadata): Principal | undefined {
  return PRINCIPALS.get(metadata);
}

/** A refusal with UNAUTHENTICATED. */
export function unauthenticated(details: string): AuthDecision {
  return { allow: false, code: status.UNAUTHENTICATED, details };
}

/** A refusal with PERMISSION_DENIED. */
export function permissionDenied(details: string): AuthDecision {
  return { allow: false, code: status.PERMISSION_DENIED, details };
}

/** Lets the call through (with no principal attached). */
export const ALLOW: AuthDecision = Object.freeze({ allow: true });

/** Lets the call through as `principal`. */
export function allowAs(principal: Principal): AuthDecision {
  return { allow: true, principal };
}
