import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LISTEN, parseCoordinatorConfig } from './coordinator-options.js';
import { ConfigError } from './errors.js';

describe('parseCoordinatorConfig', () => {
  it('falls back to the defaults with no flags and no environment', () => {
    const config = parseCoordinatorConfig([], {});
    expect(config.listen).toBe(DEFAULT_LISTEN);
    expect(config.dataDir).toBe(path.resolve('supwalsh-data'));
    expect(config.artifactsDir).toBe(path.resolve('supwalsh-data', 'artifacts'));
    expect(config.logLevel).toBe('info');
    expect(config.settings).toEqual({});
  });

  it('takes SUPWALSH_* variables and lets flags win over them', () => {
    const config = parseCoordinatorConfig(['--listen', '127.0.0.1:6000', '--lease-ttl-ms', '3000'], {
      SUPWALSH_LISTEN: '0.0.0.0:7000',
      SUPWALSH_DATA_DIR: '/srv/supwalsh',
      SUPWALSH_LEASE_TTL_MS: '9000',
      SUPWALSH_LOG_LEVEL: 'debug',
    });
    expect(config.listen).toBe('127.0.0.1:6000');
    expect(config.dataDir).toBe('/srv/supwalsh');
    expect(config.artifactsDir).toBe('/srv/supwalsh/artifacts');
    expect(config.settings).toEqual({ leaseTtlMs: 3000 });
    expect(config.logLevel).toBe('debug');
  });

  it('takes the security and limit settings from flags or SUPWALSH_* variables', () => {
    const config = parseCoordinatorConfig(
      ['--tls-cert', '/tls/tls.crt', '--token-file', '/secrets/tokens', '--max-queued-experiments', '7'],
      {
        SUPWALSH_TLS_KEY: '/tls/tls.key',
        SUPWALSH_TLS_CA: '/tls/ca.crt',
        SUPWALSH_HEALTH_LISTEN: '0.0.0.0:8081',
        SUPWALSH_MAX_WATCHERS_PER_EXPERIMENT: '3',
        SUPWALSH_MAX_SPEC_BYTES: '4096',
        SUPWALSH_MAX_RUNS_PER_EXPERIMENT: '50',
        SUPWALSH_MAX_MESSAGE_BYTES: '16777216',
      }
    );
    expect(config.tls).toEqual({
      cert: { path: '/tls/tls.crt', option: '--tls-cert' },
      key: { path: '/tls/tls.key', option: 'SUPWALSH_TLS_KEY' },
      ca: { path: '/tls/ca.crt', option: 'SUPWALSH_TLS_CA' },
    });
    expect(config.tokenFile).toEqual({ path: '/secrets/tokens', option: '--token-file' });
    expect(config.healthListen).toBe('0.0.0.0:8081');
    expect(config.settings).toEqual({
      maxQueuedExperiments: 7,
      maxWatchersPerExperiment: 3,
      maxSpecBytes: 4096,
      maxRunsPerExperiment: 50,
      maxMessageBytes: 16 << 20,
    });
    const none = parseCoordinatorConfig([], {});
    expect([none.tls, none.tokenFile, none.healthListen]).toEqual([
      { cert: undefined, key: undefined, ca: undefined },
      undefined,
      undefined,
    ]);
    expect(() => parseCoordinatorConfig(['--max-message-bytes', '1000'], {})).toThrow(
      /^--max-message-bytes must be an integer of at least 2097152/
    );
    expect(() => parseCoordinatorConfig(['--health-listen', '8081'], {})).toThrow(/^--health-listen must be HOST:PORT/);
  });

  it('names the flag or variable that is invalid', () => {
    expect(() => parseCoordinatorConfig(['--listen', 'nowhere'], {})).toThrow(/^--listen must be HOST:PORT/);
    expect(() => parseCoordinatorConfig([], { SUPWALSH_LEASE_TTL_MS: 'soon' })).toThrow(/^SUPWALSH_LEASE_TTL_MS/);
    expect(() => parseCoordinatorConfig(['--frobnicate'], {})).toThrow(ConfigError);
  });
});
