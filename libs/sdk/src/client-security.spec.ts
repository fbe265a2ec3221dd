import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServerCredentials, readTlsFiles } from '@supwalsh/security';
import { createTestPki, type TestPki } from '@supwalsh/security/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { resolveClientOptions } from './client-options.js';
import { InvalidArgumentError, NotFoundError, UnavailableError } from './errors.js';
import { closeAfterEach, connect } from './test-setup.js';

describe.skipIf(lacks('openssl'))('SupWalshClient security options', () => {
  let dir: string;
  let pki: TestPki;
  let tokenFile: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'supwalsh-sdk-'));
    pki = createTestPki(path.join(dir, 'pki'));
    tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, '# the CI token\nfrom-the-file-0123456789\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  closeAfterEach();

  const tlsServer = () =>
    createServerCredentials(
      readTlsFiles({
        cert: { path: pki.node.cert, option: 'cert' },
        key: { path: pki.node.key, option: 'key' },
      }),
      'none'
    );

  it('reaches a TLS coordinator with tls.caFile and sends the first token of tokenFile', async () => {
    const { fake, client } = await connect({ tls: { caFile: pki.ca }, tokenFile }, tlsServer());
    await expect(client.get('exp-1')).rejects.toBeInstanceOf(NotFoundError);
    expect(fake.calls[0]!.authorization).toBe('Bearer from-the-file-0123456789');
  });

  it('refuses a coordinator whose certificate its CA did not sign', async () => {
    const { client } = await connect({ tls: { caFile: pki.rogueCa }, retry: { maxAttempts: 1 } }, tlsServer());
    await expect(client.get('exp-1')).rejects.toBeInstanceOf(UnavailableError);
  });

  it('takes SUPWALSH_TOKEN, then SUPWALSH_TOKEN_FILE; an explicit token wins', () => {
    expect(resolveClientOptions({}, { SUPWALSH_TOKEN: 'env-token' }).token).toBe('env-token');
    expect(resolveClientOptions({}, { SUPWALSH_TOKEN_FILE: tokenFile }).token).toBe('from-the-file-0123456789');
    expect(resolveClientOptions({ token: 'mine' }, { SUPWALSH_TOKEN: 'env-token' }).token).toBe('mine');
    expect(resolveClientOptions({}, {}).token).toBeUndefined();
  });

  it('names the option of an unusable file, never its content', () => {
    expect(() => resolveClientOptions({ tls: { caFile: path.join(dir, 'absent.pem') } }, {})).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', field: 'tls' })
    );
    expect(() => resolveClientOptions({}, { SUPWALSH_TOKEN_FILE: path.join(dir, 'absent') })).toThrow(
      InvalidArgumentError
    );
    expect(() => resolveClientOptions({}, { SUPWALSH_TOKEN_FILE: path.join(dir, 'absent') })).toThrow(
      /tokenFile: SUPWALSH_TOKEN_FILE \(.*absent\): cannot read the file: no such file/
    );
  });
});
