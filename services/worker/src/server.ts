import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Server, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  createCollectiveServer,
  DEFAULT_FLOW_CONTROL_WINDOW_BYTES,
  MAX_CHUNK_BYTES,
  raiseServerFlowControlWindow,
} from '@supwalsh/collective';
import { initEngine, type BackendChoice, type EngineInfo } from '@supwalsh/engine';
import { WorkerService, type CoordinatorClient, type WorkerServer } from '@supwalsh/proto';
import {
  bindServer,
  createChannelCredentials,
  createServerCredentials,
  shutdownServer,
  type TlsMaterial,
} from '@supwalsh/security';
import { getTracer, withSpan } from '@supwalsh/telemetry';
import { createTracingServerInterceptor } from '@supwalsh/telemetry/grpc';
import { HealthImplementation } from 'grpc-health-check';
import type { BackoffOptions } from './backoff.js';
import { createCoordinatorClient } from './coordinator-client.js';
import { createCoordinatorLink, type CoordinatorLink } from './coordinator-link.js';
import { createDatasetCache } from './dataset-cache.js';
import { describeDevices } from './devices.js';
import { toGrpcStatus, WorkerArgumentError } from './errors.js';
import { startHealthThread, type HealthStatus, type HealthThread } from './health-thread.js';
import { startLeaseKeeper, type LeaseKeeperEvent } from './lease-keeper.js';
import type { WorkerLogger } from './logger.js';
import { addReflection } from './reflection.js';
import type { ShardDeps } from './shard.js';
import { WORKER_ATTR, WORKER_SPAN_NAMES } from './telemetry-names.js';
import { createWorkerRuntime, type WorkerRuntime, type WorkerStateName } from './worker-runtime.js';

/** What `createWorkerServer` needs. */
export interface WorkerServerDeps {
  /** `host:port` to bind; port 0 picks a free one (read it from `port`). */
  listen: string;
  /**
   * `host:port` the coordinator and the other workers reach this server at.
   * @default `listen` with the bound port (the host name for 0.0.0.0 / [::])
   */
  advertisedAddress?: string;
  /**
   * Worker id: 1–128 characters from [A-Za-z0-9._-], stable across restarts (e.g. the pod name); a function gets
   * the bound port (for the default `<hostname>-<port>`).
   */
  workerId: string | ((port: number) => string);
  /** Data directory (mirroring the coordinator's); dataset roots resolve inside it. */
  dataDir: string;
  /** Cache of preprocessed datasets. @default @supwalsh/datasets' default */
  cacheDir?: string;
  /** The coordinator's `host:port`; unset: the worker does not register (tests, or driven directly). */
  coordinator?: string;
  /** Labels for `WorkersSpec.selector` (at most 32; keys 1–63 characters from [a-z0-9._/-], values ≤ 256). */
  labels?: Record<string, string>;
  logger: WorkerLogger;
  /** Compute backend. @default 'auto' (SUPWALSH_BACKEND, else the fastest available) */
  backend?: BackendChoice;
  /** Compute threads for `initEngine` (wasm pool); unset: `SUPWALSH_THREADS`, else the cores the process may use. */
  threads?: number;
  /** HTTP/2 flow-control window of accepted connections (ring traffic). @default 16 MiB */
  flowControlWindowBytes?: number;
  /**
   * Security (PROTOCOL.md, Security). `tls` with `cert`, `key` and `ca`: the server requires a client certificate
   * signed by `ca` (no other process can start shards or join this worker's rings), and the worker's own calls —
   * to the coordinator and to ring peers — verify the other side against `ca` and present `cert`. `token`: sent
   * to the coordinator on every call (set-ups with tokens and no CA). @default plaintext, no token
   */
  security?: { tls?: TlsMaterial | undefined; token?: string | undefined };
  /**
   * `host:port` of a second, plaintext gRPC server with only `grpc.health.v1` (the same statuses), for Kubernetes
   * gRPC probes, which cannot present client certificates. It runs on its own thread (health-thread.ts), so it
   * answers during a long synchronous training step; it reads NOT_SERVING once the main thread has not run for
   * `healthStallMs`. @default none
   */
  healthListen?: string;
  /** How long the main thread may not run before the health port reads NOT_SERVING. @default 120 000 */
  healthStallMs?: number;
  /** Tuning of membership and reporting (tests shorten the backoffs and the batch window). */
  tuning?: {
    membershipBackoff?: BackoffOptions;
    maxReconnectBackoffMs?: number;
    shard?: Pick<ShardDeps, 'tmpDir' | 'reporter' | 'finishTimeoutMs'>;
  };
}

/** A running worker server. */
export interface WorkerServerHandle {
  readonly port: number;
  /** The advertised `host:port`. */
  readonly address: string;
  /** `host:port` of the plaintext health server, when `healthListen` was given. */
  readonly healthAddress: string | undefined;
  readonly workerId: string;
  readonly instanceId: string;
  readonly engine: EngineInfo;
  readonly runtime: WorkerRuntime;
  /** The membership loop; unset without a coordinator. */
  readonly link: CoordinatorLink | undefined;
  /**
   * Step 4: DRAINING (StartShard answers UNAVAILABLE, health NOT_SERVING), aborts the running shard, waits for
   * its reports, deregisters, then shuts the server down. Idempotent.
   */
  drain(reason?: string): Promise<void>;
  /** Shuts the server down now (running shards are aborted, nothing is waited for, no deregistration). */
  shutdown(): Promise<void>;
}

/** The package version (WorkerInfo.version). */
export const WORKER_VERSION: string = (
  JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }
).version;

/** The worker's executable (`dist/main.js`), for launching worker processes (the coordinator's local mode). */
export const WORKER_MAIN: string = path.join(import.meta.dirname, '..', 'dist', 'main.js');

const WORKER_ID = /^[A-Za-z0-9._-]{1,128}$/;
const LABEL_KEY = /^[a-z0-9._/-]{1,63}$/;
/** Largest message the server accepts: a ring chunk of the largest size and its envelope. */
const MAX_MESSAGE_BYTES = MAX_CHUNK_BYTES + (1 << 20);
/** Service names the health service reports. */
const HEALTH_SERVICES = ['', 'supwalsh.v1.Worker', 'supwalsh.v1.Collective'];

/**
 * Starts a worker: one gRPC server with the v1 `Worker` and `Collective` services, `grpc.health.v1` and server
 * reflection (PROTOCOL.md step 1), then — with a coordinator — registers and heartbeats (steps 1–2).
 */
export async function createWorkerServer(deps: WorkerServerDeps): Promise<WorkerServerHandle> {
  const fn = 'createWorkerServer';
  const { logger } = deps;
  if (typeof deps.workerId === 'string') checkWorkerId(fn, deps.workerId);
  const labels = checkLabels(fn, deps.labels ?? {});
  if (!deps.dataDir) throw new WorkerArgumentError(fn, 'dataDir', 'must be a directory path');
  const colon = deps.listen.lastIndexOf(':');
  if (colon <= 0 || !/^\d+$/.test(deps.listen.slice(colon + 1))) {
    throw new WorkerArgumentError(
      fn,
      'listen',
      `must be host:port (port 0 for any); got ${JSON.stringify(deps.listen)}`
    );
  }

  const tls = deps.security?.tls;
  if (tls && !(tls.cert && tls.key && tls.ca)) {
    throw new WorkerArgumentError(
      fn,
      'security.tls',
      'needs cert, key and ca (--tls-cert, --tls-key, --tls-ca): workers speak mutual TLS only'
    );
  }
  const engine = await initEngine({
    ...(deps.backend ? { backend: deps.backend } : {}),
    ...(deps.threads === undefined ? {} : { threads: deps.threads }),
    logger: { info: (m) => logger.info(m), warn: (m) => logger.warn(m) },
  });
  const devices = await describeDevices(engine);
  const instanceId = randomUUID();

  const server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    interceptors: [createTracingServerInterceptor()],
  });
  // Before binding (libs/collective README): ring streams are paced by this server's HTTP/2 windows.
  if (!raiseServerFlowControlWindow(server, deps.flowControlWindowBytes ?? DEFAULT_FLOW_CONTROL_WINDOW_BYTES)) {
    logger.warn('this grpc-js cannot raise the server flow-control window; ring traffic runs at 64 KiB windows');
  }
  const health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((s) => [s, 'NOT_SERVING'])));
  health.addToServer(server);
  const reflectionProblem = await addReflection(server);
  if (reflectionProblem) logger.warn(`server reflection is off: ${reflectionProblem}`);

  const port = await bindServer(server, deps.listen, createServerCredentials(tls, 'required'));
  let healthThread: HealthThread | undefined;
  if (deps.healthListen) {
    try {
      healthThread = await startHealthThread({
        listen: deps.healthListen,
        services: HEALTH_SERVICES,
        ...(deps.healthStallMs === undefined ? {} : { stallMs: deps.healthStallMs }),
      });
    } catch (error: unknown) {
      server.forceShutdown();
      throw error;
    }
  }
  const healthAddress = healthThread?.address;
  /** The main server's health and the health thread's, always the same. */
  const setHealth = (status: HealthStatus) => {
    for (const s of HEALTH_SERVICES) health.setStatus(s, status);
    healthThread?.setStatus(status);
  };
  const address = deps.advertisedAddress ?? advertise(deps.listen.slice(0, colon), port);
  const workerId = typeof deps.workerId === 'string' ? deps.workerId : deps.workerId(port);
  try {
    checkWorkerId(fn, workerId);
  } catch (error: unknown) {
    server.forceShutdown();
    await healthThread?.stop();
    throw error;
  }
  const collectiveServer = await createCollectiveServer({
    server,
    advertisedAddress: address,
    ...(tls ? { clientCredentials: createChannelCredentials(tls) } : {}),
  });

  const client: CoordinatorClient | undefined = deps.coordinator
    ? createCoordinatorClient(deps.coordinator, {
        tls,
        token: deps.security?.token,
        ...(deps.tuning?.maxReconnectBackoffMs === undefined
          ? {}
          : { maxReconnectBackoffMs: deps.tuning.maxReconnectBackoffMs }),
      })
    : undefined;
  let link: CoordinatorLink | undefined;
  const runtime = createWorkerRuntime({
    workerId,
    address,
    backend: engine.backend,
    threads: engine.threads,
    devices,
    labels,
    version: WORKER_VERSION,
    instanceId,
    dataDir: deps.dataDir,
    client,
    collectiveServer,
    datasets: createDatasetCache({
      dataDir: deps.dataDir,
      ...(deps.cacheDir === undefined ? {} : { cacheDir: deps.cacheDir }),
      logger,
    }),
    logger,
    ...(deps.tuning?.shard ? { shardOptions: deps.tuning.shard } : {}),
    onStateChange: (state: WorkerStateName) => {
      logger.debug('worker state', { state });
      link?.heartbeatNow();
    },
  });

  server.addService(WorkerService, createWorkerService(runtime, workerId));
  setHealth('SERVING');
  logger.info('worker listening', {
    workerId,
    address,
    port,
    backend: engine.backend,
    gpu: engine.gpu,
    instanceId,
    tls: tls ? 'mutual' : 'off',
    ...(healthAddress ? { healthAddress } : {}),
  });

  if (client && deps.coordinator) {
    let onKeeperEvent: (event: LeaseKeeperEvent) => void = () => undefined;
    const leaseKeeper = startLeaseKeeper({
      coordinator: deps.coordinator,
      security: { tls, token: deps.security?.token },
      onEvent: (e) => onKeeperEvent(e),
      logger,
    });
    link = createCoordinatorLink({
      client,
      ...(leaseKeeper ? { leaseKeeper } : {}),
      describe: () => runtime.registration(),
      heartbeat: () => runtime.heartbeat(),
      onAbort: (shards) => {
        for (const shard of shards) {
          runtime.abortShard(shard.runId, shard.generation, shard.reason || 'the coordinator asked to abort it');
        }
      },
      logger,
      ...(deps.tuning?.membershipBackoff ? { backoff: deps.tuning.membershipBackoff } : {}),
    });
    const started = link;
    onKeeperEvent = (event) => started.onLeaseKeeperEvent(event);
    link.start();
  }

  let closing: Promise<void> | undefined;
  const closeServer = async () => {
    setHealth('NOT_SERVING');
    await collectiveServer.shutdown().catch(() => undefined);
    await shutdownServer(server, 5_000);
    await healthThread?.stop();
    client?.close();
  };

  let draining: Promise<void> | undefined;
  return {
    port,
    address,
    healthAddress,
    workerId,
    instanceId,
    engine,
    runtime,
    get link() {
      return link;
    },
    drain(reason = 'draining') {
      draining ??= (async () => {
        logger.info('draining', { workerId, reason });
        setHealth('NOT_SERVING');
        await runtime.drain(reason);
        await link?.deregister(reason);
        runtime.stop();
        closing ??= closeServer();
        await closing;
        logger.info('drained', { workerId });
      })();
      return draining;
    },
    async shutdown() {
      runtime.stop();
      for (const shard of [runtime.current].filter((s) => s !== undefined)) shard.abort('worker shutting down');
      await link?.close();
      closing ??= closeServer();
      await closing;
    },
  };
}

/** The `Worker` service over a runtime: each handler maps errors through `toGrpcStatus` and records a span. */
function createWorkerService(runtime: WorkerRuntime, workerId: string): WorkerServer {
  const tracer = getTracer();
  const unary =
    <Req, Res>(span: string, handle: (request: Req) => Res) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      withSpan(tracer, span, { [WORKER_ATTR.workerId]: workerId }, async () => handle(call.request)).then(
        (response) => callback(null, response),
        (error: unknown) => callback(toGrpcStatus(error))
      );
    };
  return {
    // Step 6: validated, accepted at once (STARTING); the shard runs in the background (step 7).
    startShard: unary(WORKER_SPAN_NAMES.startShard, (request) => ({ shard: runtime.startShard(request) })),
    // Step 8.
    abortShard: unary(WORKER_SPAN_NAMES.abortShard, (request) => ({
      aborted: runtime.abortShard(request.runId, request.generation, request.reason),
    })),
    getWorkerStatus: unary(WORKER_SPAN_NAMES.getWorkerStatus, () => ({ worker: runtime.info() })),
  };
}

/** The advertised address for a bound host: the machine's host name for a wildcard host. */
function advertise(host: string, port: number): string {
  const wildcard = host === '0.0.0.0' || host === '[::]' || host === '::' || host === '';
  return `${wildcard ? os.hostname() : host}:${port}`;
}

function checkWorkerId(fn: string, workerId: string): void {
  if (!WORKER_ID.test(workerId)) {
    throw new WorkerArgumentError(
      fn,
      'workerId',
      `must be 1–128 characters from [A-Za-z0-9._-]; got ${JSON.stringify(workerId)}`
    );
  }
}

function checkLabels(fn: string, labels: Record<string, string>): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > 32)
    throw new WorkerArgumentError(fn, 'labels', `must have at most 32 entries; got ${entries.length}`);
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key)) {
      throw new WorkerArgumentError(
        fn,
        `labels[${JSON.stringify(key)}]`,
        'key must be 1–63 characters from [a-z0-9._/-]'
      );
    }
    if (typeof value !== 'string' || value.length > 256) {
      throw new WorkerArgumentError(
        fn,
        `labels[${JSON.stringify(key)}]`,
        'value must be a string of at most 256 characters'
      );
    }
  }
  return { ...labels };
}
