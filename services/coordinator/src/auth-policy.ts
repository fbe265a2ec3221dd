import type { X509Certificate } from 'node:crypto';
import type { ServerInterceptor } from '@grpc/grpc-js';
import type { CoordinatorServer } from '@supwalsh/proto';
import {
  ALLOW,
  createAuthInterceptor,
  permissionDenied,
  unauthenticated,
  verifyPeerCertificate,
  type AuthPolicy,
  type TokenSet,
} from '@supwalsh/security';
import { COORDINATOR_SERVICE_NAME } from './coordinator-service.js';
import type { CoordinatorLogger } from './logger.js';

/** Who calls a Coordinator method: clients (and operators) or workers. */
export type CallerKind = 'client' | 'worker';

/**
 * Every method of the Coordinator service by caller; a new RPC does not compile until it is placed here.
 * Clients: a bearer token or a cluster certificate. Workers: the cluster certificate when a CA is configured.
 */
export const METHOD_CALLERS = {
  submitExperiment: 'client',
  getExperiment: 'client',
  listExperiments: 'client',
  watchExperiment: 'client',
  cancelExperiment: 'client',
  getArtifact: 'client', // workers too: they download checkpoints with their certificate
  listWorkers: 'client', // operators
  registerWorker: 'worker',
  heartbeat: 'worker',
  deregisterWorker: 'worker',
  reportProgress: 'worker',
  uploadArtifact: 'worker',
} as const satisfies Record<keyof CoordinatorServer, CallerKind>;

const CALLER_BY_PATH: ReadonlyMap<string, CallerKind> = new Map(
  Object.entries(METHOD_CALLERS).map(([method, kind]) => [
    `/${COORDINATOR_SERVICE_NAME}/${method[0]!.toUpperCase()}${method.slice(1)}`,
    kind,
  ])
);

/** What the coordinator authenticates with; both unset: it is open. */
export interface CoordinatorAuth {
  /** Accepted client bearer tokens (`--token-file`). */
  readonly tokens?: TokenSet | undefined;
  /** The cluster CA (`--tls-ca`): client certificates it signed authenticate workers (and clients). */
  readonly clusterCa?: readonly X509Certificate[] | undefined;
}

/** Whether `auth` asks anything of callers. */
export function isAuthConfigured(auth: CoordinatorAuth | undefined): boolean {
  return auth?.tokens !== undefined || (auth?.clusterCa?.length ?? 0) > 0;
}

/**
 * The coordinator's authorization policy (PROTOCOL.md, Security), one decision per call before its handler:
 *
 * - health and reflection are open (Kubernetes probes, grpcurl);
 * - client methods need a valid bearer token or a client certificate signed by the cluster CA;
 * - worker methods need a client certificate signed by the cluster CA when a CA is configured (a valid token alone
 *   gets PERMISSION_DENIED: the caller is known but is no worker), else a valid token;
 * - missing or wrong credentials get UNAUTHENTICATED with what to send, never echoing the token.
 */
export function createCoordinatorAuthPolicy(auth: CoordinatorAuth): AuthPolicy {
  const { tokens } = auth;
  const ca = auth.clusterCa && auth.clusterCa.length > 0 ? auth.clusterCa : undefined;
  const howToSendToken = 'send the metadata "authorization: Bearer <token>" with a token of its --token-file';
  return ({ path, token, peerCertificate }) => {
    if (!path.startsWith(`/${COORDINATOR_SERVICE_NAME}/`)) return ALLOW;
    const caller = CALLER_BY_PATH.get(path) ?? 'worker';
    const method = path.slice(path.lastIndexOf('/') + 1);
    const tokenValid = tokens !== undefined && token !== undefined && tokens.verify(token);
    const certificate = ca ? verifyPeerCertificate(peerCertificate, ca) : undefined;
    if (caller === 'client') {
      if (tokenValid || certificate?.ok) return ALLOW;
      const options = [
        ...(tokens ? [howToSendToken] : []),
        ...(ca ? ['connect with a client certificate signed by the cluster CA'] : []),
      ].join(', or ');
      const problem = token === undefined ? 'no bearer token was sent' : 'the bearer token is not valid';
      return unauthenticated(`${method} needs authentication (${problem}): ${options}`);
    }
    if (ca) {
      if (certificate?.ok) return ALLOW;
      const reason = certificate && !certificate.ok ? certificate.reason : 'no client certificate';
      const need = `${method} is a worker call: connect with mutual TLS using a certificate signed by the cluster CA (--tls-cert, --tls-key)`;
      return tokenValid
        ? permissionDenied(`${need}; a bearer token is not enough`)
        : unauthenticated(`${need}; ${reason}`);
    }
    if (tokenValid) return ALLOW;
    return unauthenticated(
      `${method} needs authentication (${token === undefined ? 'no bearer token was sent' : 'the bearer token is not valid'}): workers ${howToSendToken} (SUPWALSH_TOKEN or SUPWALSH_TOKEN_FILE)`
    );
  };
}

/** The server interceptor applying {@link createCoordinatorAuthPolicy}; refusals are logged without credentials. */
export function createCoordinatorAuthInterceptor(auth: CoordinatorAuth, logger: CoordinatorLogger): ServerInterceptor {
  return createAuthInterceptor(createCoordinatorAuthPolicy(auth), ({ path, peerCertificate }, decision) =>
    logger.warn('call refused', {
      method: path,
      code: decision.code,
      clientCertificate: peerCertificate?.subject ? String(peerCertificate.subject.CN ?? '') : '',
    })
  );
}
