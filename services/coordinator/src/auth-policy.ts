import type { X509Certificate } from 'node:crypto';
import type { Metadata, ServerInterceptor } from '@grpc/grpc-js';
import type { CoordinatorServer } from '@supwalsh/proto';
import {
  ALLOW,
  allowAs,
  createAuthInterceptor,
  LOCAL_PRINCIPAL,
  permissionDenied,
  principalOfCall,
  principalOfCertificateSubject,
  unauthenticated,
  verifyPeerCertificate,
  type AuthPolicy,
  type Principal,
  type Role,
  type TokenSet,
} from '@supwalsh/security';
import { PermissionDeniedError } from './errors.js';
import type { CoordinatorLogger } from './logger.js';

/** Full name of the Coordinator service; method paths are `/<service>/<Method>`. */
export const COORDINATOR_SERVICE_NAME = 'supwalsh.v1.Coordinator';

/**
 * Which roles may call each method of the Coordinator service (authorization of every verb, as Kubernetes RBAC);
 * a new RPC does not compile until it is placed here. Admins may call everything. What a role may do with a given
 * experiment or run is decided again in the handler ({@link canAccessExperiment}, the worker's runs).
 */
export const METHOD_ROLES = {
  submitExperiment: ['client', 'admin'],
  getExperiment: ['client', 'admin'],
  listExperiments: ['client', 'admin'],
  watchExperiment: ['client', 'admin'],
  cancelExperiment: ['client', 'admin'],
  getArtifact: ['client', 'admin', 'worker'], // workers: only the checkpoints of runs they hold
  listWorkers: ['client', 'admin', 'worker'], // addresses to admins only
  registerWorker: ['worker', 'admin'],
  heartbeat: ['worker', 'admin'],
  deregisterWorker: ['worker', 'admin'],
  reportProgress: ['worker', 'admin'],
  uploadArtifact: ['worker', 'admin'],
} as const satisfies Record<keyof CoordinatorServer, readonly Role[]>;

const ROLES_BY_PATH: ReadonlyMap<string, readonly Role[]> = new Map(
  Object.entries(METHOD_ROLES).map(([method, roles]) => [
    `/${COORDINATOR_SERVICE_NAME}/${method[0]!.toUpperCase()}${method.slice(1)}`,
    roles,
  ])
);

/** Whether `principal` may see, watch, download from and cancel an experiment owned by `owner`. */
export function canAccessExperiment(principal: Principal, owner: string): boolean {
  if (principal.role === 'admin') return true;
  return principal.role === 'client' && principal.name === owner;
}

/** Whether `principal` is shown the workers' addresses (ListWorkers): admins only. */
export function canSeeWorkerAddresses(principal: Principal): boolean {
  return principal.role === 'admin';
}

/** Throws PERMISSION_DENIED unless `principal` may access the experiment `id` owned by `owner`. */
export function requireExperimentAccess(principal: Principal, id: string, owner: string): void {
  if (!canAccessExperiment(principal, owner)) {
    throw new PermissionDeniedError(
      principal.name,
      `experiment ${id} belongs to another principal; ${principal.name} (role ${principal.role}) may only use its own`
    );
  }
}

/**
 * The principal of a call, as the coordinator's auth interceptor attached it (pass `call.metadata`). Fails closed
 * (PERMISSION_DENIED) when no interceptor ran, which only a server built without `createCoordinatorServer` can do.
 */
export function callPrincipal(metadata: Metadata): Principal {
  const principal = principalOfCall(metadata);
  if (!principal) throw new PermissionDeniedError('', 'the call carries no authenticated principal');
  return principal;
}

/** What the coordinator authenticates with; both unset: it is open and every caller is {@link LOCAL_PRINCIPAL}. */
export interface CoordinatorAuth {
  /** Accepted bearer tokens with their principals (`--token-file`). */
  readonly tokens?: TokenSet | undefined;
  /** The cluster CA (`--tls-ca`): client certificates it signed authenticate by their subject. */
  readonly clusterCa?: readonly X509Certificate[] | undefined;
}

/** Whether `auth` asks anything of callers. */
export function isAuthConfigured(auth: CoordinatorAuth | undefined): boolean {
  return auth?.tokens !== undefined || (auth?.clusterCa?.length ?? 0) > 0;
}

/**
 * The coordinator's authentication and authorization policy (PROTOCOL.md, Security), one decision per call before
 * its handler:
 *
 * - health and reflection are open (Kubernetes probes, grpcurl);
 * - authenticate: a bearer token names its principal (token file), a client certificate signed by the cluster CA
 *   names its subject's ({@link principalOfCertificateSubject}); a call may carry both and is allowed when either
 *   credential's role may call the method (the token's principal is used when both may); with nothing configured
 *   every caller is {@link LOCAL_PRINCIPAL} (an admin);
 * - a token that is sent but not valid, or a malformed `authorization` header, is UNAUTHENTICATED even when a
 *   certificate would do: a wrong credential is never ignored;
 * - authorize: the method must list the principal's role in {@link METHOD_ROLES}, else PERMISSION_DENIED;
 * - messages say what to send and never echo a token.
 */
export function createCoordinatorAuthPolicy(auth: CoordinatorAuth): AuthPolicy {
  const { tokens } = auth;
  const ca = auth.clusterCa && auth.clusterCa.length > 0 ? auth.clusterCa : undefined;
  const open = !isAuthConfigured(auth);
  const howToSend = [
    ...(tokens
      ? ['send the metadata "authorization: Bearer <token>" with a token of the coordinator\'s --token-file']
      : []),
    ...(ca ? ['connect with a client certificate signed by the cluster CA (--tls-cert, --tls-key)'] : []),
  ].join(', or ');
  return ({ path, authorization, peerCertificate }) => {
    if (!path.startsWith(`/${COORDINATOR_SERVICE_NAME}/`)) return ALLOW;
    const method = path.slice(path.lastIndexOf('/') + 1);
    const roles = ROLES_BY_PATH.get(path) ?? ['admin'];
    if (open) return allowAs(LOCAL_PRINCIPAL);
    if (authorization.kind === 'malformed') {
      return unauthenticated(`${method} needs authentication (${authorization.why}): ${howToSend}`);
    }
    let byToken: Principal | undefined;
    if (authorization.kind === 'bearer') {
      byToken = tokens?.authenticate(authorization.token);
      if (!byToken) {
        return unauthenticated(`${method} needs authentication (the bearer token is not valid): ${howToSend}`);
      }
    }
    const certificate = ca ? verifyPeerCertificate(peerCertificate, ca) : undefined;
    const byCertificate = certificate?.ok ? principalOfCertificateSubject(certificate.subject) : undefined;
    const candidates = [byToken, byCertificate].filter((p): p is Principal => p !== undefined);
    if (candidates.length === 0) {
      const problems = [
        ...(tokens ? ['no bearer token was sent'] : []),
        ...(ca && certificate && !certificate.ok ? [certificate.reason] : []),
      ].join('; ');
      return unauthenticated(`${method} needs authentication (${problems}): ${howToSend}`);
    }
    const allowed = candidates.find((p) => (roles as readonly Role[]).includes(p.role));
    if (allowed) return allowAs(allowed);
    const who = candidates.map((p) => `${p.name} has role ${p.role}`).join(', ');
    const worker = (roles as readonly Role[]).includes('worker') && !(roles as readonly Role[]).includes('client');
    return permissionDenied(
      `${method} needs role ${roles.join(' or ')}; ${who}${
        worker
          ? ': workers send a token of role worker (--token-file / SUPWALSH_TOKEN_FILE) or the cluster certificate'
          : ''
      }`
    );
  };
}

/**
 * The server interceptor applying {@link createCoordinatorAuthPolicy}, installed on every coordinator (also an
 * open one, where it attaches {@link LOCAL_PRINCIPAL}); refusals are logged without credentials.
 */
export function createCoordinatorAuthInterceptor(auth: CoordinatorAuth, logger: CoordinatorLogger): ServerInterceptor {
  return createAuthInterceptor(createCoordinatorAuthPolicy(auth), ({ path, peerCertificate }, decision) =>
    logger.warn('call refused', {
      method: path,
      code: decision.code,
      clientCertificate: peerCertificate?.subject ? String(peerCertificate.subject.CN ?? '') : '',
    })
  );
}
