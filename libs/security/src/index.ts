/**
 * @supwalsh/security — the mechanisms behind the services' security settings: TLS material read from PEM files
 * with errors that name the flag and the path, gRPC server and channel credentials (TLS, mutual TLS, client
 * certificates requested but checked by the handler), verification of a client certificate against the cluster
 * CA, bearer tokens (token files, constant-time comparison, a client interceptor that sends them), a server
 * interceptor that applies an authorization policy to every call, and confinement of paths to a directory. Never
 * logs tokens or key material; the policies themselves live in the services.
 *
 * @example
 * ```ts
 * import { createServerCredentials, readTlsFiles, tlsFilesFrom } from '@supwalsh/security';
 *
 * const material = readTlsFiles(tlsFilesFrom({ cert: '/etc/supwalsh/tls.crt' }, process.env));
 * server.bindAsync('0.0.0.0:50061', createServerCredentials(material, 'required'), callback);
 * ```
 * @module
 */
export {
  ALLOW,
  allowAs,
  createAuthInterceptor,
  principalOfCall,
  permissionDenied,
  unauthenticated,
  type AuthDecision,
  type AuthPolicy,
  type AuthRequest,
} from './auth.js';
export { PathEscapeError, SecurityError, TlsConfigError, TokenError, TokenFileError } from './errors.js';
export {
  isRole,
  LOCAL_PRINCIPAL,
  principalOfCertificateSubject,
  PRINCIPAL_NAME,
  ROLES,
  type Principal,
  type Role,
} from './principals.js';
export { resolveInside } from './paths.js';
export { bindServer, shutdownServer, startHealthServer } from './servers.js';
export {
  createChannelCredentials,
  createServerCredentials,
  isTls,
  parseCertificates,
  readTlsFiles,
  TLS_OPTIONS,
  tlsFilesFrom,
  verifyPeerCertificate,
  type ChannelSecurityOptions,
  type ClientCertificateMode,
  type PeerVerification,
  type TlsFiles,
  type TlsMaterial,
} from './tls.js';
export {
  AUTHORIZATION_METADATA_KEY,
  authorizationOf,
  bareTokenPrincipalName,
  bearerTokenOf,
  checkBearerToken,
  createBearerTokenInterceptor,
  createTokenSet,
  MIN_RECOMMENDED_TOKEN_LENGTH,
  readTokenFile,
  resolveClientToken,
  TOKEN_ENV,
  TOKEN_FILE_ENV,
  type Authorization,
  type ClientTokenSources,
  type TokenEntry,
  type TokenSet,
} from './tokens.js';
