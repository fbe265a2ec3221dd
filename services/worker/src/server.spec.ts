import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import {
  credentials,
  loadPackageDefinition,
  makeGenericClientConstructor,
  status as grpcStatus,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
  type GrpcObject,
  type ServiceError,
} from '@grpc/grpc-js';
import { Backend, WorkerService, WorkerState } from '@supwalsh/proto';
import { createChannelCredentials, readTlsFiles } from '@supwalsh/security';
import { createTestPki, type TestKeyPair, type TestPki } from '@supwalsh/security/testing';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { workerClient } from './e2e/harness.js';
import { silentWorkerLogger } from './logger.js';
import { createWorkerServer, type WorkerServerHandle } from './server.js';

describe('the worker server', () => {
  let worker: WorkerServerHandle;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-worker-server-'));
    worker = await createWorkerServer({
      listen: '127.0.0.1:0',
      workerId: (port) => `local-${port}`,
      dataDir,
      backend: 'wasm',
      threads: 1,
      labels: { gpu: 'none' },
      logger: silentWorkerLogger,
    });
  });
  afterAll(async () => {
    await worker.shutdown();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('describes itself through GetWorkerStatus', async () => {
    expect(worker.workerId).toBe(`local-${worker.port}`);
    const client = workerClient(worker.address);
    const { worker: info } = await client.getWorkerStatus();
    client.close();
    expect(info).toMatchObject({
      workerId: worker.workerId,
      address: `127.0.0.1:${worker.port}`,
      backend: Backend.BACKEND_WASM,
      capacity: 1,
      labels: { gpu: 'none' },
      state: WorkerState.WORKER_STATE_IDLE,
      shards: [],
      instanceId: worker.instanceId,
      threads: 1,
    });
  });

  it('serves grpc.health.v1 for its services', async () => {
    const Health = makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(worker.address, credentials.createInsecure()) as unknown as Client & {
      check(request: object, callback: (error: ServiceError | null, response: { status: string }) => void): void;
    };
    const check = (service: string) =>
      new Promise<string>((resolve, reject) =>
        health.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status)))
      );
    expect(await check('')).toBe('SERVING');
    expect(await check('supwalsh.v1.Worker')).toBe('SERVING');
    expect(await check('supwalsh.v1.Collective')).toBe('SERVING');
    health.close();
  });

  it('serves server reflection listing the Worker, Collective and Health services', async () => {
    const require = createRequire(import.meta.url);
    const protoLoader = (await import('@grpc/proto-loader')) as unknown as {
      loadSync(file: string, options: object): Parameters<typeof loadPackageDefinition>[0];
    };
    const file = path.join(
      path.dirname(require.resolve('@grpc/reflection/package.json')),
      'build/proto/grpc/reflection/v1/reflection.proto'
    );
    const grpcPackage = loadPackageDefinition(protoLoader.loadSync(file, { keepCase: true })) as GrpcObject;
    const Reflection = ((grpcPackage['grpc'] as GrpcObject)['reflection'] as GrpcObject)['v1'] as GrpcObject;
    const Ctor = Reflection['ServerReflection'] as unknown as new (
      address: string,
      creds: unknown
    ) => Client & {
      ServerReflectionInfo(): ClientDuplexStream<object, { list_services_response?: { service: { name: string }[] } }>;
    };
    const client = new Ctor(worker.address, credentials.createInsecure());
    const stream = client.ServerReflectionInfo();
    const response = await new Promise<{ list_services_response?: { service: { name: string }[] } }>(
      (resolve, reject) => {
        stream.once('data', resolve);
        stream.once('error', reject);
        stream.write({ list_services: '*' });
      }
    );
    stream.end();
    client.close();
    expect(response.list_services_response?.service.map((s) => s.name)).toEqual(
      expect.arrayContaining(['supwalsh.v1.Worker', 'supwalsh.v1.Collective', 'grpc.health.v1.Health'])
    );
  });
});

describe.skipIf(lacks('openssl'))('the worker server with mutual TLS', () => {
  let worker: WorkerServerHandle;
  let dir: string;
  let pki: TestPki;

  const material = (pair?: TestKeyPair) =>
    readTlsFiles({
      ca: { path: pki.ca, option: 'ca' },
      ...(pair ? { cert: { path: pair.cert, option: 'cert' }, key: { path: pair.key, option: 'key' } } : {}),
    });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-worker-tls-'));
    pki = createTestPki(path.join(dir, 'pki'));
    worker = await createWorkerServer({
      listen: '127.0.0.1:0',
      healthListen: '127.0.0.1:0',
      workerId: 'tls-worker',
      dataDir: dir,
      backend: 'wasm',
      security: { tls: material(pki.node) },
      logger: silentWorkerLogger,
    });
  });
  afterAll(async () => {
    await worker?.shutdown();
    await rm(dir, { recursive: true, force: true });
  });

  const status = (creds: ChannelCredentials) => {
    const Ctor = makeGenericClientConstructor(WorkerService, 'Worker');
    const client = new Ctor(worker.address, creds) as unknown as Client & {
      getWorkerStatus(request: object, callback: (error: ServiceError | null) => void): void;
    };
    return new Promise<number>((resolve) =>
      client.getWorkerStatus({}, (error) => {
        client.close();
        resolve(error ? error.code : 0);
      })
    );
  };

  it('answers only callers with a certificate of the cluster CA; health is plaintext on its own port', async () => {
    expect(await status(createChannelCredentials(material(pki.node)))).toBe(0);
    expect(await status(createChannelCredentials(material(pki.rogue)))).toBe(grpcStatus.UNAVAILABLE);
    expect(await status(createChannelCredentials(material()))).toBe(grpcStatus.UNAVAILABLE);
    expect(await status(credentials.createInsecure())).toBe(grpcStatus.UNAVAILABLE);

    const Health = makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(worker.healthAddress!, credentials.createInsecure()) as unknown as Client & {
      check(request: object, callback: (error: ServiceError | null, response: { status: string }) => void): void;
    };
    const serving = await new Promise<string>((resolve, reject) =>
      health.check({ service: 'supwalsh.v1.Worker' }, (error, response) =>
        error ? reject(error) : resolve(response.status)
      )
    );
    health.close();
    expect(serving).toBe('SERVING');
  });

  it('refuses TLS settings without all of certificate, key and CA', async () => {
    await expect(
      createWorkerServer({
        listen: '127.0.0.1:0',
        workerId: 'half',
        dataDir: dir,
        backend: 'wasm',
        security: { tls: material() },
        logger: silentWorkerLogger,
      })
    ).rejects.toThrow(/security\.tls needs cert, key and ca/);
  });
});
