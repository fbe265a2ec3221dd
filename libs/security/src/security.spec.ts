import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Client,
  Metadata,
  credentials,
  Server,
  ServerCredentials,
  status,
  type ChannelCredentials,
  type ServerInterceptor,
  type ServiceError,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { ALLOW, createAuthInterceptor, unauthenticated } from './auth.js';
import { PathEscapeError, TlsConfigError, TokenError, TokenFileError } from './errors.js';
import { resolveInside } from './paths.js';
import { principalOfCertificateSubject } from './principals.js';
import { bindServer, shutdownServer } from './servers.js';
import { createTestPki, type TestPki } from './testing.js';
import {
  createChannelCredentials,
  createServerCredentials,
  parseCertificates,
  readTlsFiles,
  verifyPeerCertificate,
  type TlsMaterial,
} from './tls.js';
import {
  bareTokenPrincipalName,
  bearerTokenOf,
  checkBearerToken,
  createBearerTokenInterceptor,
  createTokenSet,
  readTokenFile,
  resolveClientToken,
} from './tokens.js';

const ECHO_PATH = '/test.Echo/Echo';
const identity = (b: Buffer) => b;
const ECHO_SERVICE = {
  echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

let dir: string;
let pki: TestPki;
const file = (option: string, p: string) => ({ option, path: p });
const material = (pair: { cert: string; key: string }, ca: string): TlsMaterial =>
  readTlsFiles({ cert: file('--tls-cert', pair.cert), key: file('--tls-key', pair.key), ca: file('--tls-ca', ca) })!;

/** The test certificates need the openssl command; without it the TLS tests are skipped. */
const noOpenssl = lacks('openssl');

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'supwalsh-security-'));
  if (!noOpenssl) pki = createTestPki(path.join(dir, 'pki'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function serve(
  credentials: ServerCredentials,
  interceptors: ServerInterceptor[] = []
): Promise<{ address: string; server: Server }> {
  const server = new Server({ interceptors });
  server.addService(ECHO_SERVICE, {
    echo: (call: { request: Buffer }, callback: (e: null, r: Buffer) => void) => callback(null, call.request),
  });
  const port = await bindServer(server, '127.0.0.1:0', credentials);
  return { address: `127.0.0.1:${port}`, server };
}

function echo(address: string, credentials: ChannelCredentials, metadata = new Metadata()): Promise<string> {
  const client = new Client(address, credentials);
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(
      ECHO_PATH,
      identity,
      identity,
      Buffer.from('ping'),
      metadata,
      { deadline: Date.now() + 5_000 },
      (error: ServiceError | null, response?: Buffer) => {
        client.close();
        if (error) reject(error);
        else resolve(response!.toString());
      }
    );
  });
}

async function code(promise: Promise<unknown>): Promise<status> {
  try {
    await promise;
  } catch (error: unknown) {
    return (error as ServiceError).code;
  }
  return status.OK;
}

describe.skipIf(noOpenssl)('TLS files', () => {
  it('reads a matching certificate, key and CA', () => {
    const m = material(pki.node, pki.ca);
    expect(m.cert && m.key && m.ca).toBeTruthy();
    expect(parseCertificates(m.ca!)).toHaveLength(1);
  });

  it('names the flag and the path of a missing, mismatched or malformed file, never its content', () => {
    const notPem = path.join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    const attempt = (f: Parameters<typeof readTlsFiles>[0]) => {
      try {
        readTlsFiles(f);
      } catch (error: unknown) {
        expect(error).toBeInstanceOf(TlsConfigError);
        return (error as Error).message;
      }
      throw new Error('expected a TlsConfigError');
    };
    expect(
      attempt({ cert: file('--tls-cert', path.join(dir, 'absent.pem')), key: file('--tls-key', pki.node.key) })
    ).toBe(`--tls-cert (${path.join(dir, 'absent.pem')}): cannot read the file: no such file`);
    expect(attempt({ cert: file('SUPWALSH_TLS_CERT', pki.node.cert) })).toBe(
      '--tls-key: is required with SUPWALSH_TLS_CERT'
    );
    expect(attempt({ cert: file('--tls-cert', pki.node.cert), key: file('--tls-key', pki.rogue.key) })).toContain(
      'is not the private key of the certificate in --tls-cert'
    );
    expect(attempt({ ca: file('--tls-ca', notPem) })).toBe(
      `--tls-ca (${notPem}): holds no PEM certificate (-----BEGIN CERTIFICATE-----)`
    );
    expect(attempt({ cert: file('--tls-cert', pki.node.cert), key: file('--tls-key', notPem) })).toContain(
      'is not an unencrypted PEM private key'
    );
  });
});

describe('tokens', () => {
  it('reads one token per line, skipping blank lines and comments, and refuses a file without one', () => {
    const tokens = path.join(dir, 'tokens');
    writeFileSync(tokens, '# operators\n\n  first-token-0123456789  \nshort\n');
    expect(readTokenFile(tokens).map((e) => e.token)).toEqual(['first-token-0123456789', 'short']);
    const empty = path.join(dir, 'empty-tokens');
    writeFileSync(empty, '# nothing\n\n');
    expect(() => readTokenFile(empty, 'SUPWALSH_TOKEN_FILE')).toThrow(TokenFileError);
    expect(() => readTokenFile(empty, 'SUPWALSH_TOKEN_FILE')).toThrow(/^SUPWALSH_TOKEN_FILE \(.*\): holds no token/);
  });

  it('maps "<token> <principal> <role>" lines to principals; a bare token is a client named by its digest', () => {
    const file = path.join(dir, 'role-tokens');
    writeFileSync(
      file,
      'alice-token-0123456789 alice client\nworker-token-0123456789\tpool-a  worker\nold-bare-token-0123456\n'
    );
    const entries = readTokenFile(file);
    expect(entries.map((e) => [e.principal.name, e.principal.role, e.bare])).toEqual([
      ['alice', 'client', false],
      ['pool-a', 'worker', false],
      [bareTokenPrincipalName('old-bare-token-0123456'), 'client', true],
    ]);
    expect(bareTokenPrincipalName('old-bare-token-0123456')).toMatch(/^token-[0-9a-f]{12}$/);
    const set = createTokenSet(entries);
    expect(set.bare).toBe(1);
    expect(set.authenticate('worker-token-0123456789')).toEqual({ name: 'pool-a', role: 'worker' });
    expect(set.authenticate('alice-token-0123456789')).toEqual({ name: 'alice', role: 'client' });
    expect(set.authenticate('nobody')).toBeUndefined();
    // The client-side reader sends the first field of the first line.
    expect(resolveClientToken({ tokenFile: file, env: {} })).toBe('alice-token-0123456789');
    const bad = (text: string) => {
      writeFileSync(file, text);
      return () => readTokenFile(file);
    };
    expect(bad('t1-0123456789 alice\n')).toThrow(/line 1: expected "<token> <principal> <role>"/);
    expect(bad('t1-0123456789 alice root\n')).toThrow(/line 1: the role must be one of client, worker, admin/);
    expect(bad('t1-0123456789 alice client\nt2-0123456789 alice admin\n')).toThrow(
      /line 2: principal alice has role client/
    );
    expect(bad('t1-0123456789 alice client\nt1-0123456789 bob client\n')).toThrow(/line 2: the token appears/);
    expect(bad('t1-0123456789 alice client\nt1-0123456789 bob client\n')).not.toThrow(/t1-0123456789/);
  });

  it('maps a certificate subject to a principal: CN is the name, OU the role (worker by default)', () => {
    expect(principalOfCertificateSubject('O=supwalsh\nCN=node-1')).toEqual({ name: 'node-1', role: 'worker' });
    expect(principalOfCertificateSubject('CN=ops\nOU=admin')).toEqual({ name: 'ops', role: 'admin' });
    expect(principalOfCertificateSubject('CN=ci\nOU=team-x\nOU=client')).toEqual({ name: 'ci', role: 'client' });
  });

  it('refuses to send a token holding white space (item 8: a trailing space)', () => {
    expect(() => createBearerTokenInterceptor('abc-0123456789 ', 'SUPWALSH_TOKEN')).toThrow(TokenError);
    expect(() => createBearerTokenInterceptor('abc-0123456789 ', 'SUPWALSH_TOKEN')).toThrow(
      /^SUPWALSH_TOKEN: the bearer token contains leading or trailing white space/
    );
    expect(() => checkBearerToken('')).toThrow(/is empty/);
  });

  it('verifies tokens by their SHA-256 digests, whatever the length presented', () => {
    const set = createTokenSet(['first-token-0123456789', 'short']);
    expect(set.size).toBe(2);
    expect(set.short).toBe(1);
    expect(set.verify('short')).toBe(true);
    expect(set.verify('first-token-0123456789')).toBe(true);
    expect(set.verify('first-token-012345678')).toBe(false);
    expect(set.verify('')).toBe(false);
    expect(set.verify('x'.repeat(10_000))).toBe(false);
  });

  it('parses bearer metadata and resolves a client token from a flag, SUPWALSH_TOKEN or SUPWALSH_TOKEN_FILE', () => {
    const metadata = new Metadata();
    expect(bearerTokenOf(metadata)).toBeUndefined();
    metadata.set('authorization', 'bearer abc');
    expect(bearerTokenOf(metadata)).toBe('abc');
    metadata.set('authorization', 'Basic abc');
    expect(bearerTokenOf(metadata)).toBeUndefined();
    const tokens = path.join(dir, 'client-tokens');
    writeFileSync(tokens, '# mine\nfrom-file\nsecond\n');
    expect(resolveClientToken({ env: {} })).toBeUndefined();
    expect(resolveClientToken({ env: { SUPWALSH_TOKEN: 'from-env', SUPWALSH_TOKEN_FILE: tokens } })).toBe('from-env');
    expect(resolveClientToken({ env: { SUPWALSH_TOKEN_FILE: tokens } })).toBe('from-file');
    expect(resolveClientToken({ tokenFile: tokens, env: { SUPWALSH_TOKEN: 'from-env' } })).toBe('from-file');
  });
});

describe('resolveInside', () => {
  it('keeps paths inside the directory, through symbolic links that stay inside', () => {
    const data = path.join(dir, 'data');
    mkdirSync(path.join(data, 'mnist'), { recursive: true });
    symlinkSync(path.join(data, 'mnist'), path.join(data, 'alias'));
    expect(resolveInside(data, 'mnist', 'root')).toBe(path.join(data, 'mnist'));
    expect(resolveInside(data, 'alias/sub', 'root')).toBe(path.join(data, 'alias', 'sub'));
    expect(resolveInside(data, 'not-yet/there', 'root')).toBe(path.join(data, 'not-yet', 'there'));
    expect(resolveInside(data, 'a/../mnist', 'root')).toBe(path.join(data, 'mnist'));
  });

  it('refuses absolute paths, .. above the directory and symbolic links leading out', () => {
    const data = path.join(dir, 'data2');
    mkdirSync(data, { recursive: true });
    symlinkSync(os.tmpdir(), path.join(data, 'out'));
    for (const [given, why] of [
      ['/etc', 'must be relative'],
      ['../data2-sibling', 'must stay inside'],
      ['a/../../x', 'must stay inside'],
      ['out', 'a symbolic link leads outside'],
      ['out/deeper/still', 'a symbolic link leads outside'],
    ] as const) {
      expect(() => resolveInside(data, given, 'datasets[0].root')).toThrow(PathEscapeError);
      expect(() => resolveInside(data, given, 'datasets[0].root')).toThrow(
        new RegExp(`^datasets\\[0\\]\\.root .*${why}`)
      );
    }
  });
});

describe.skipIf(noOpenssl)('gRPC over TLS on loopback', () => {
  it('strict mutual TLS: only clients with a certificate of the cluster CA get through', async () => {
    const { address, server } = await serve(createServerCredentials(material(pki.node, pki.ca), 'required'));
    try {
      const ca = readTlsFiles({ ca: file('--tls-ca', pki.ca) });
      expect(await echo(address, createChannelCredentials(material(pki.node, pki.ca)))).toBe('ping');
      expect(await code(echo(address, createChannelCredentials(ca)))).toBe(status.UNAVAILABLE);
      expect(await code(echo(address, createChannelCredentials(material(pki.rogue, pki.ca))))).toBe(status.UNAVAILABLE);
      expect(await code(echo(address, createChannelCredentials(undefined)))).toBe(status.UNAVAILABLE);
    } finally {
      server.forceShutdown();
    }
  });

  it('a client refuses a server whose certificate is not from its CA', async () => {
    const { address, server } = await serve(createServerCredentials(material(pki.rogue, pki.rogueCa), 'none'));
    try {
      const ca = readTlsFiles({ ca: file('--tls-ca', pki.ca) });
      expect(await code(echo(address, createChannelCredentials(ca)))).toBe(status.UNAVAILABLE);
      const rogueCa = readTlsFiles({ ca: file('--tls-ca', pki.rogueCa) });
      expect(await echo(address, createChannelCredentials(rogueCa))).toBe('ping');
    } finally {
      server.forceShutdown();
    }
  });

  it('optional client certificates: the policy sees them, verifies them and takes tokens instead', async () => {
    const trusted = parseCertificates(material(pki.node, pki.ca).ca!);
    const tokens = createTokenSet(['a-long-enough-token-0123']);
    const denied: string[] = [];
    const interceptor = createAuthInterceptor(
      ({ token, peerCertificate }) => {
        if (token !== undefined && tokens.verify(token)) return ALLOW;
        const verified = verifyPeerCertificate(peerCertificate, trusted);
        return verified.ok
          ? ALLOW
          : unauthenticated(`send a bearer token or a cluster certificate: ${verified.reason}`);
      },
      (request) => denied.push(request.path)
    );
    const { address, server } = await serve(createServerCredentials(material(pki.node, pki.ca), 'optional'), [
      interceptor,
    ]);
    try {
      const caOnly = readTlsFiles({ ca: file('--tls-ca', pki.ca) });
      expect(await echo(address, createChannelCredentials(material(pki.node, pki.ca)))).toBe('ping');
      const noCert = code(echo(address, createChannelCredentials(caOnly)));
      expect(await noCert).toBe(status.UNAUTHENTICATED);
      expect(await code(echo(address, createChannelCredentials(material(pki.rogue, pki.ca))))).toBe(
        status.UNAUTHENTICATED
      );
      const withToken = new Metadata();
      withToken.set('authorization', 'Bearer a-long-enough-token-0123');
      expect(await echo(address, createChannelCredentials(caOnly), withToken)).toBe('ping');
      const wrong = new Metadata();
      wrong.set('authorization', 'Bearer a-long-enough-token-0124');
      expect(await code(echo(address, createChannelCredentials(caOnly), wrong))).toBe(status.UNAUTHENTICATED);
      expect(denied).toEqual([ECHO_PATH, ECHO_PATH, ECHO_PATH]);
    } finally {
      server.forceShutdown();
    }
  });

  it('the bearer interceptor sends the token on a plaintext channel', async () => {
    let seen: string | undefined;
    const { address, server } = await serve(createServerCredentials(undefined), [
      createAuthInterceptor(({ token }) => {
        seen = token;
        return ALLOW;
      }),
    ]);
    try {
      const client = new Client(address, createChannelCredentials(undefined), {
        interceptors: [createBearerTokenInterceptor('tok-123')],
      });
      await new Promise<void>((resolve, reject) =>
        client.makeUnaryRequest(ECHO_PATH, identity, identity, Buffer.from('x'), new Metadata(), {}, (error) =>
          error ? reject(error) : resolve()
        )
      );
      client.close();
      expect(seen).toBe('tok-123');
    } finally {
      server.forceShutdown();
    }
  });
});

describe('shutdownServer', () => {
  /** A plaintext echo server whose handler answers only when the test says so. */
  async function heldServer() {
    const server = new Server();
    let received: (answer: () => void) => void = () => {};
    const answerable = new Promise<() => void>((resolve) => (received = resolve));
    server.addService(ECHO_SERVICE, {
      echo: (call: { request: Buffer }, callback: (e: null, r: Buffer) => void) =>
        received(() => callback(null, call.request)),
    });
    const port = await bindServer(server, '127.0.0.1:0', ServerCredentials.createInsecure());
    return { server, address: `127.0.0.1:${port}`, answerable };
  }

  it('lets a call in flight finish within the timeout', async () => {
    const { server, address, answerable } = await heldServer();
    const call = echo(address, credentials.createInsecure());
    const answer = await answerable;
    const stopped = shutdownServer(server, 5_000);
    answer();
    expect(await call).toBe('ping');
    await stopped;
  });

  it('cancels a call that outlasts the timeout, and resolves', async () => {
    const { server, address, answerable } = await heldServer();
    const call = code(echo(address, credentials.createInsecure()));
    await answerable;
    await shutdownServer(server, 100);
    expect(await call).not.toBe(status.OK);
  });
});
