import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { credentials, experimental, ServerCredentials } from '@grpc/grpc-js';
import { TlsConfigError, toError } from './errors.js';

/** The TLS flags and environment variables both services take (PEM file paths). */
export const TLS_OPTIONS = {
  /** This process's certificate (chain): its server certificate and the client certificate it shows peers. */
  cert: { flag: '--tls-cert', env: 'SUPWALSH_TLS_CERT' },
  /** The private key of `cert` (unencrypted PEM: PKCS#8, SEC1 or PKCS#1). */
  key: { flag: '--tls-key', env: 'SUPWALSH_TLS_KEY' },
  /** The cluster CA (one or more PEM certificates): verifies peers' certificates. */
  ca: { flag: '--tls-ca', env: 'SUPWALSH_TLS_CA' },
} as const;

/** PEM file paths; each as given by a flag or variable, `option` names it in errors. */
export interface TlsFiles {
  readonly cert?: { readonly path: string; readonly option: string } | undefined;
  readonly key?: { readonly path: string; readonly option: string } | undefined;
  readonly ca?: { readonly path: string; readonly option: string } | undefined;
}

/**
 * PEM contents, checked: `cert` and `key` come together and match; `ca` holds at least one certificate. Plain
 * bytes, so the material can be handed to a worker thread (it arrives as Uint8Array; every function here takes
 * that too). Never log it.
 */
export interface TlsMaterial {
  readonly cert?: Uint8Array | undefined;
  readonly key?: Uint8Array | undefined;
  readonly ca?: Uint8Array | undefined;
}

/**
 * The TLS file settings from flags (`values['tls-cert']`, …) over the environment (`SUPWALSH_TLS_*`), naming
 * whichever each came from.
 */
export function tlsFilesFrom(
  flags: { readonly cert?: string | undefined; readonly key?: string | undefined; readonly ca?: string | undefined },
  env: Readonly<Record<string, string | undefined>>
): TlsFiles {
  const pick = (part: keyof typeof TLS_OPTIONS) => {
    const { flag, env: variable } = TLS_OPTIONS[part];
    const fromFlag = flags[part];
    if (fromFlag) return { path: fromFlag, option: flag };
    const fromEnv = env[variable];
    return fromEnv ? { path: fromEnv, option: variable } : undefined;
  };
  return { cert: pick('cert'), key: pick('key'), ca: pick('ca') };
}

function readPem(file: { path: string; option: string }): Buffer {
  try {
    return readFileSync(file.path);
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory, not a PEM file'
            : toError(error).message;
    throw new TlsConfigError(file.option, file.path, `cannot read the file: ${why}`, { cause: error });
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle, in order. Throws when there is none or one does not parse. */
export function parseCertificates(pem: Uint8Array | string, option = 'certificate', file?: string): X509Certificate[] {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new TlsConfigError(option, file, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error: unknown) {
      throw new TlsConfigError(option, file, `certificate ${i + 1} does not parse: ${toError(error).message}`, {
        cause: error,
      });
    }
  });
}

/**
 * Reads and checks the PEM files: `cert` and `key` both or neither, the key a private key that belongs to the
 * first certificate of `cert`, `ca` one or more certificates, none of them expired. Returns undefined when no file
 * is set. Throws {@link TlsConfigError} naming the flag or variable and the path.
 */
export function readTlsFiles(files: TlsFiles, now: Date = new Date()): TlsMaterial | undefined {
  if (!files.cert && !files.key && !files.ca) return undefined;
  if (files.cert && !files.key) {
    throw new TlsConfigError(TLS_OPTIONS.key.flag, undefined, `is required with ${files.cert.option}`);
  }
  if (files.key && !files.cert) {
    throw new TlsConfigError(TLS_OPTIONS.cert.flag, undefined, `is required with ${files.key.option}`);
  }
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  if (files.cert && files.key) {
    cert = readPem(files.cert);
    const [leaf] = parseCertificates(cert, files.cert.option, files.cert.path);
    checkValidity(leaf!, files.cert.option, files.cert.path, now);
    key = readPem(files.key);
    let keyObject: KeyObject;
    try {
      keyObject = createPrivateKey(key);
    } catch (error: unknown) {
      throw new TlsConfigError(
        files.key.option,
        files.key.path,
        'is not an unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1)',
        { cause: error }
      );
    }
    if (!leaf!.checkPrivateKey(keyObject)) {
      throw new TlsConfigError(
        files.key.option,
        files.key.path,
        `is not the private key of the certificate in ${files.cert.option} (${files.cert.path})`
      );
    }
  }
  let ca: Buffer | undefined;
  if (files.ca) {
    ca = readPem(files.ca);
    for (const certificate of parseCertificates(ca, files.ca.option, files.ca.path)) {
      checkValidity(certificate, files.ca.option, files.ca.path, now);
    }
  }
  return { ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca } : {}) };
}

function checkValidity(certificate: X509Certificate, option: string, file: string, now: Date): void {
  if (new Date(certificate.validTo) < now) {
    throw new TlsConfigError(option, file, `the certificate ${certificate.subject} expired on ${certificate.validTo}`);
  }
}

const toBuffer = (bytes: Uint8Array | undefined): Buffer | undefined =>
  bytes === undefined ? undefined : Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);

/** What a server asks of its clients' certificates. */
export type ClientCertificateMode =
  /** None requested (TLS for privacy and server identity only). */
  | 'none'
  /**
   * Requested but not required, and not checked by TLS: a handler checks it with {@link verifyPeerCertificate}
   * (the coordinator: clients come with a token, workers with the cluster certificate).
   */
  | 'optional'
  /** Required and verified against `ca` during the handshake: no certificate, no connection (workers). */
  | 'required';

/** Certificates known at start-up, handed to grpc-js (its certificate-provider interface) when it asks. */
function staticProvider(material: { cert: Buffer; key: Buffer; ca: Buffer }): experimental.CertificateProvider {
  // grpc-js registers its watcher only after adding the listeners, so answer on the next microtask.
  return {
    addCaCertificateListener: (listener) => queueMicrotask(() => listener({ caCertificate: material.ca })),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (listener) =>
      queueMicrotask(() => listener({ certificate: material.cert, privateKey: material.key })),
    removeIdentityCertificateListener: () => undefined,
  };
}

/**
 * Server credentials: plaintext without material; else TLS with `cert`/`key`, and client certificates as `mode`
 * says (`optional` and `required` need `ca`). Throws {@link TlsConfigError} when something `mode` needs is missing.
 */
export function createServerCredentials(
  material: TlsMaterial | undefined,
  mode: ClientCertificateMode = 'none'
): ServerCredentials {
  if (!material) return ServerCredentials.createInsecure();
  const cert = toBuffer(material.cert);
  const key = toBuffer(material.key);
  const ca = toBuffer(material.ca);
  if (!cert || !key) {
    throw new TlsConfigError(TLS_OPTIONS.cert.flag, undefined, `and ${TLS_OPTIONS.key.flag} are required to serve TLS`);
  }
  if (mode === 'none') return ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
  if (!ca) {
    throw new TlsConfigError(TLS_OPTIONS.ca.flag, undefined, 'is required to check client certificates');
  }
  if (mode === 'required') return ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true);
  // grpc-js's argument names of this function disagree with its use; one provider serving both avoids the question.
  const provider = staticProvider({ cert, key, ca });
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/** How a client reaches a TLS server. */
export interface ChannelSecurityOptions {
  /** Verify the server against the system's root certificates when `material.ca` is unset. @default false */
  readonly systemRoots?: boolean;
}

/**
 * Channel credentials: plaintext without material (and without `systemRoots`); else TLS verifying the server
 * against `ca` (or the system roots), presenting `cert`/`key` as the client certificate when set. The server's
 * certificate must cover the host name or IP address dialled (subjectAltName).
 */
export function createChannelCredentials(
  material: TlsMaterial | undefined,
  options: ChannelSecurityOptions = {}
): ChannelCredentials {
  if (!material && !options.systemRoots) return credentials.createInsecure();
  return credentials.createSsl(
    toBuffer(material?.ca) ?? null,
    toBuffer(material?.key) ?? null,
    toBuffer(material?.cert) ?? null
  );
}

/** Whether channel credentials from {@link createChannelCredentials} would be TLS. */
export function isTls(material: TlsMaterial | undefined, options: ChannelSecurityOptions = {}): boolean {
  return material !== undefined || options.systemRoots === true;
}

/** The outcome of {@link verifyPeerCertificate}. */
export type PeerVerification =
  | { readonly ok: true; /** Subject of the verified certificate. */ readonly subject: string }
  | { readonly ok: false; /** Why not, for a status message (names no secret). */ readonly reason: string };

/**
 * Why no certificate is there to check. grpc-js hands a handler the client certificate only when the TLS handshake
 * verified it against the server's CA, so a certificate the cluster CA did not sign (or an expired one) looks the
 * same as none: the reason says both.
 */
const NO_VERIFIED_CERTIFICATE =
  'no client certificate signed by the cluster CA was presented (none was sent, or the one sent is not signed by the cluster CA or is expired)';

/**
 * Checks a client certificate the TLS layer accepted without verifying (mode `optional`): present, within its
 * validity dates, issued and signed by one of `trusted` (the cluster CA; no intermediates).
 */
export function verifyPeerCertificate(
  peer: PeerCertificate | undefined,
  trusted: readonly X509Certificate[],
  now: Date = new Date()
): PeerVerification {
  if (!peer?.raw || peer.raw.length === 0) return { ok: false, reason: NO_VERIFIED_CERTIFICATE };
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(peer.raw);
  } catch {
    return { ok: false, reason: 'the client certificate does not parse' };
  }
  if (new Date(certificate.validFrom) > now || new Date(certificate.validTo) < now) {
    return { ok: false, reason: 'the client certificate is outside its validity dates' };
  }
  const issuer = trusted.find((ca) => certificate.checkIssued(ca) && certificate.verify(ca.publicKey));
  if (!issuer) return { ok: false, reason: 'the client certificate is not signed by the cluster CA' };
  return { ok: true, subject: certificate.subject };
}
