import { describe, expect, it } from 'vitest';
import { parseNvidiaSmi } from './devices.js';
import { WorkerArgumentError } from './errors.js';
import { defaultWorkerId, DEFAULT_LISTEN, parseWorkerOptions } from './worker-options.js';

describe('parseWorkerOptions', () => {
  it('takes flags over the environment, and defaults for the rest', () => {
    const options = parseWorkerOptions(
      ['--listen', '0.0.0.0:7000', '--label', 'gpu=h200', '--label', 'zone=a', '--data-dir', '/srv/data'],
      { SUPWALSH_COORDINATOR: 'coord:50051', SUPWALSH_LISTEN: 'ignored:1', SUPWALSH_WORKER_ID: 'pod-3' }
    );
    expect(options).toMatchObject({
      listen: '0.0.0.0:7000',
      coordinator: 'coord:50051',
      id: 'pod-3',
      dataDir: '/srv/data',
      labels: { gpu: 'h200', zone: 'a' },
      backend: 'auto',
      logLevel: 'info',
    });
    expect(parseWorkerOptions([], {}).listen).toBe(DEFAULT_LISTEN);
    expect(parseWorkerOptions([], {}).coordinator).toBeUndefined();
  });

  it('takes the TLS files, the token file and the health address from flags or SUPWALSH_* variables', () => {
    const options = parseWorkerOptions(['--tls-cert', '/tls/tls.crt', '--health-listen', '0.0.0.0:8081'], {
      SUPWALSH_TLS_KEY: '/tls/tls.key',
      SUPWALSH_TLS_CA: '/tls/ca.crt',
    });
    expect(options.tls).toEqual({
      cert: { path: '/tls/tls.crt', option: '--tls-cert' },
      key: { path: '/tls/tls.key', option: 'SUPWALSH_TLS_KEY' },
      ca: { path: '/tls/ca.crt', option: 'SUPWALSH_TLS_CA' },
    });
    expect(options.healthListen).toBe('0.0.0.0:8081');
    expect(parseWorkerOptions(['--token-file', '/secrets/token'], {}).tokenFile).toBe('/secrets/token');
    expect(() => parseWorkerOptions(['--health-listen', '8081'], {})).toThrow(/--health-listen must be host:port/);
  });

  it('takes the health stall limit from --health-stall-ms or SUPWALSH_HEALTH_STALL_MS, at least a second', () => {
    expect(parseWorkerOptions([], {}).healthStallMs).toBeUndefined();
    expect(parseWorkerOptions([], { SUPWALSH_HEALTH_STALL_MS: '30000' }).healthStallMs).toBe(30_000);
    expect(parseWorkerOptions(['--health-stall-ms', '5000'], { SUPWALSH_HEALTH_STALL_MS: '30000' }).healthStallMs).toBe(
      5000
    );
    expect(() => parseWorkerOptions(['--health-stall-ms', '10'], {})).toThrow(/--health-stall-ms must be an integer/);
    expect(() => parseWorkerOptions([], { SUPWALSH_HEALTH_STALL_MS: 'soon' })).toThrow(/got "soon"/);
  });

  it('refuses unknown flags, bad labels and unknown backends, naming them', () => {
    expect(() => parseWorkerOptions(['--nope'], {})).toThrow(WorkerArgumentError);
    expect(() => parseWorkerOptions(['--label', 'novalue'], {})).toThrow(/--label must be key=value/);
    expect(() => parseWorkerOptions(['--backend', 'cuda'], {})).toThrow(/--backend must be one of auto, tensorflow/);
  });

  it('takes the thread count from --threads or SUPWALSH_THREADS and refuses anything but 1–256', () => {
    expect(parseWorkerOptions(['--threads', '4'], { SUPWALSH_THREADS: '2' }).threads).toBe(4);
    expect(parseWorkerOptions([], { SUPWALSH_THREADS: '2' }).threads).toBe(2);
    expect(parseWorkerOptions([], {}).threads).toBeUndefined();
    for (const bad of ['0', '1.5', 'all', '300']) {
      expect(() => parseWorkerOptions(['--threads', bad], {})).toThrow(
        `--threads must be an integer from 1 to 256; got ${bad}`
      );
    }
  });

  it('derives a valid default worker id from the host name and port', () => {
    expect(defaultWorkerId(50061, 'node 7.example')).toBe('node-7.example-50061');
  });
});

describe('parseNvidiaSmi', () => {
  it('reads name, memory, compute capability and driver of the first GPU line', () => {
    expect(parseNvidiaSmi('NVIDIA H200, 143771, 9.0, 550.54.15\n')).toEqual({
      name: 'NVIDIA H200',
      memoryBytes: 143771 * 1024 * 1024,
      computeCapability: '9.0',
      driverVersion: '550.54.15',
    });
    expect(parseNvidiaSmi('')).toEqual({});
  });
});
