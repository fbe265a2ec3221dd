/**
 * `@supwalsh/security/testing` — a throw-away PKI for tests, made with the `openssl` command-line tool (EC P-256
 * keys, valid for two days): a cluster CA with one node certificate, and a rogue CA with its own node
 * certificate. Node certificates cover `IP:127.0.0.1` and `DNS:localhost` and serve as both server and client
 * certificates, as in a real cluster.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A certificate and its key, as PEM files. */
export interface TestKeyPair {
  readonly cert: string;
  readonly key: string;
}

/** The files {@link createTestPki} wrote. */
export interface TestPki {
  readonly dir: string;
  /** The cluster CA's certificate (the `--tls-ca` file). */
  readonly ca: string;
  /** A node certificate signed by the cluster CA. */
  readonly node: TestKeyPair;
  /** Another CA, unknown to the cluster. */
  readonly rogueCa: string;
  /** A certificate for the same names, signed by the rogue CA. */
  readonly rogue: TestKeyPair;
}

/** The `openssl` binary: `$OPENSSL`, else the one on PATH. */
const OPENSSL = process.env['OPENSSL'] ?? 'openssl';

function openssl(args: string[], cwd: string): void {
  execFileSync(OPENSSL, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function createCa(dir: string, name: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir
  );
}

function createNode(dir: string, name: string, ca: string): TestKeyPair {
  openssl(
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    ],
    dir
  );
  writeFileSync(
    path.join(dir, `${name}.ext`),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n'
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ],
    dir
  );
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

/** Writes a cluster CA, a node certificate, a rogue CA and a rogue node certificate into `dir` (created). */
export function createTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  createCa(dir, 'cluster-ca');
  createCa(dir, 'rogue-ca');
  return {
    dir,
    ca: path.join(dir, 'cluster-ca.pem'),
    node: createNode(dir, 'node', 'cluster-ca'),
    rogueCa: path.join(dir, 'rogue-ca.pem'),
    rogue: createNode(dir, 'rogue', 'rogue-ca'),
  };
}
