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

  it('names the flag or variable that is invalid', () => {
    expect(() => parseCoordinatorConfig(['--listen', 'nowhere'], {})).toThrow(/^--listen must be HOST:PORT/);
    expect(() => parseCoordinatorConfig([], { SUPWALSH_LEASE_TTL_MS: 'soon' })).toThrow(/^SUPWALSH_LEASE_TTL_MS/);
    expect(() => parseCoordinatorConfig(['--frobnicate'], {})).toThrow(ConfigError);
  });
});
