import path from 'node:path';
import type { ServerCredentials } from '@grpc/grpc-js';
import { Server, type ServerInterceptor } from '@grpc/grpc-js';
import { WorkerClient } from '@supwalsh/proto';
import {
  bindServer,
  shutdownServer,
  startHealthServer,
  createChannelCredentials,
  createServerCredentials,
  parseCertificates,
  TLS_OPTIONS,
  TlsConfigError,
  type TlsMaterial,
  type TokenSet,
} from '@supwalsh/security';
import { createTracingClientInterceptor, createTracingServerInterceptor } from '@supwalsh/telemetry/grpc';
import { HealthImplementation } from 'grpc-health-check';
import {
  canAccessExperiment,
  canSeeWorkerAddresses,
  createCoordinatorAuthInterceptor,
  isAuthConfigured,
  type CoordinatorAuth,
} from './auth-policy.js';
import { DEFAULT_COORDINATOR_SETTINGS, type CoordinatorContext, type CoordinatorSettings } from './context.js';
import { COORDINATOR_SERVICE_NAME, createCoordinatorService, type ServiceState } from './coordinator-service.js';
import type { DashboardAuth } from './http/http-auth.js';
import { startDashboardServer, type DashboardServerHandle } from './http/http-server.js';
import { newInstanceId } from './ids.js';
import type { CoordinatorLogger } from './logger.js';
import { voidPreviousLeases } from './membership.js';
import { registerCoordinatorMetrics } from './metrics.js';
import { addReflection } from './reflection.js';
import { createDecodeGuardInterceptor, createGuardedCoordinatorService } from './request-decoding.js';
import { Scheduler, type WorkerClientFactory } from './scheduler.js';
import type { Store } from './store.js';

/**
 * Largest message the coordinator accepts by default (`--max-message-bytes`): an UploadArtifact chunk (4 000 000
 * bytes) plus its header, with room.
 */
export const MAX_RECEIVE_MESSAGE_BYTES = DEFAULT_COORDINATOR_SETTINGS.maxMessageBytes;

/** TLS and authentication of the coordinator (PROTOCOL.md, Security). Never logged. */
export interface CoordinatorSecurity {
  /**
   * `cert` + `key`: serve TLS. `ca` (the cluster CA; needs `cert` + `key`): client certificates are requested and
   * those it signed authenticate workers (required for worker calls) and clients; the scheduler calls workers
   * over mutual TLS with `cert`/`key`, verifying them against `ca`.
   */
  readonly tls?: TlsMaterial | undefined;
  /** Accepted bearer tokens with their principals and roles (`--token-file`): clients, workers, admins. */
  readonly tokens?: TokenSet | undefined;
}

/** What {@link createCoordinatorServer} needs. */
export interface CoordinatorServerDeps {
  /** The open store (`openStore(dataDir)`); the caller closes it after `shutdown()`. */
  readonly store: Store;
  /** The data directory: dataset roots of specs must stay inside it (invariant 5). */
  readonly dataDir: string;
  /** Where artifacts are stored (`<dataDir>/artifacts` by convention). */
  readonly artifactsDir: string;
  /** `host:port` to bind; port 0 picks a free one (read it from `port`). */
  readonly listen: string;
  readonly logger: CoordinatorLogger;
  /** Milliseconds since the Unix epoch. @default Date.now */
  readonly clock?: () => number;
  /** How the scheduler reaches workers. @default an insecure `WorkerClient` per address */
  readonly workerClientFactory?: WorkerClientFactory;
  /** Overrides of {@link DEFAULT_COORDINATOR_SETTINGS} (lease length, heartbeat interval, …). */
  readonly settings?: Partial<CoordinatorSettings>;
  /** Directory of the .proto files served by reflection. @default the repository's `proto/` */
  readonly protoDir?: string;
  /** TLS and authentication. @default none: plaintext and open to anyone who can connect (a warning is logged) */
  readonly security?: CoordinatorSecurity;
  /**
   * `host:port` of a second, plaintext gRPC server with only `grpc.health.v1` (the same statuses), for Kubernetes
   * gRPC probes, which cannot present certificates. @default none
   */
  readonly healthListen?: string;
  /**
   * `host:port` of the web dashboard (HTTP, or HTTPS with `security.tls`'s certificate); port 0 picks a free one
   * (read it from `dashboardUrl`). @default none: no dashboard
   */
  readonly httpListen?: string;
  /**
   * How the dashboard authenticates and authorizes. @default from `security`: with a token file every valid token is
   * an admin (as every valid token may do everything over gRPC today); with only a cluster CA nobody can sign in
   * (browsers present no certificate); with neither every caller is the local admin
   */
  readonly dashboardAuth?: Partial<DashboardAuth>;
}

/** A running coordinator. */
export interface CoordinatorServerHandle {
  /** The bound port. */
  readonly port: number;
  /** `host:port` as bound (the listen host with the bound port). */
  readonly address: string;
  /** `host:port` of the plaintext health server, when `healthListen` was given. */
  readonly healthAddress: string | undefined;
  /** The dashboard's address (`http://127.0.0.1:8080/`), when `httpListen` was given. */
  readonly dashboardUrl: string | undefined;
  /**
   * Stops it: health NOT_SERVING, new calls UNAVAILABLE, watch streams end UNAVAILABLE; `tryShutdown` lets calls in
   * flight finish for up to `shutdownTimeoutMs`, then `forceShutdown`; the scheduler's worker calls and report
   * writing get as long. Idempotent. Does not close the store.
   */
  shutdown(): Promise<void>;
}

/**
 * Starts the coordinator: the v1 `Coordinator` service, `grpc.health.v1.Health` and server reflection on one gRPC
 * server bound to `listen`, and the scheduler. Leases granted by a previous process on the same store are void
 * (workers register again).
 */
export async function createCoordinatorServer(deps: CoordinatorServerDeps): Promise<CoordinatorServerHandle> {
  const settings: CoordinatorSettings = { ...DEFAULT_COORDINATOR_SETTINGS, ...deps.settings };
  const state: ServiceState = { draining: false };
  const ctx: CoordinatorContext = {
    store: deps.store,
    clock: deps.clock ?? Date.now,
    logger: deps.logger,
    dataDir: path.resolve(deps.dataDir),
    artifactsDir: path.resolve(deps.artifactsDir),
    settings,
    instanceId: newInstanceId(),
    apply: (effects) => scheduler.apply(effects),
  };
  const security = securitySetup(deps);
  const scheduler = new Scheduler(ctx, deps.workerClientFactory ?? security.workerClientFactory);
  voidPreviousLeases(ctx);

  const server = new Server({
    'grpc.max_receive_message_length': settings.maxMessageBytes,
    interceptors: security.interceptors,
  });
  server.addService(createGuardedCoordinatorService(), createCoordinatorService(ctx, state));
  const health = new HealthImplementation({ '': 'SERVING', [COORDINATOR_SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  if (!addReflection(server, deps.protoDir)) {
    deps.logger.warn('server reflection is off: the .proto files were not found', { protoDir: deps.protoDir });
  }
  const port = await bindServer(server, deps.listen, security.credentials);
  let healthServer: Server | undefined;
  let healthAddress: string | undefined;
  if (deps.healthListen) {
    try {
      ({ server: healthServer, address: healthAddress } = await startHealthServer(health, deps.healthListen));
    } catch (error: unknown) {
      server.forceShutdown();
      throw error;
    }
  }
  let dashboard: DashboardServerHandle | undefined;
  if (deps.httpListen) {
    try {
      dashboard = await startDashboardServer({
        ctx,
        listen: deps.httpListen,
        auth: dashboardAuth(deps),
        tls:
          security.tlsMaterial?.cert && security.tlsMaterial.key
            ? { cert: security.tlsMaterial.cert, key: security.tlsMaterial.key }
            : undefined,
      });
    } catch (error: unknown) {
      server.forceShutdown();
      healthServer?.forceShutdown();
      throw error;
    }
  }
  scheduler.start();
  const metrics = registerCoordinatorMetrics(deps.store); // gauges: queue length, live workers
  const address = `${hostOf(deps.listen)}:${port}`;
  deps.logger.info('coordinator listening', {
    address,
    dataDir: ctx.dataDir,
    instanceId: ctx.instanceId,
    tls: security.tls,
    ...(healthAddress ? { healthAddress } : {}),
    ...(dashboard ? { dashboardUrl: dashboard.url } : {}),
  });

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      state.draining = true;
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(COORDINATOR_SERVICE_NAME, 'NOT_SERVING');
      deps.store.bus.close();
      await dashboard?.close();
      await shutdownServer(server, settings.shutdownTimeoutMs);
      healthServer?.forceShutdown();
      await scheduler.stop(settings.shutdownTimeoutMs);
      metrics.close();
      deps.logger.info('coordinator stopped', { address });
    })();
    return stopping;
  };
  return { port, address, healthAddress, dashboardUrl: dashboard?.url, shutdown };
}

/** The dashboard's authentication and authorization from the coordinator's security settings (see `dashboardAuth`). */
function dashboardAuth(deps: CoordinatorServerDeps): DashboardAuth {
  const tokens = deps.security?.tokens;
  const caOnly = !tokens && deps.security?.tls?.ca !== undefined;
  if (caOnly) {
    deps.logger.warn('the dashboard refuses every sign-in: the coordinator has a cluster CA but no --token-file');
  }
  return {
    authenticate: tokens ? (token) => tokens.authenticate(token) : caOnly ? () => undefined : undefined,
    // The gRPC API's rules (auth-policy.ts): one place decides for both.
    canAccessExperiment,
    canSeeWorkerAddresses,
    ...deps.dashboardAuth,
  };
}

function hostOf(listen: string): string {
  return listen.slice(0, listen.lastIndexOf(':'));
}

/**
 * The server credentials, interceptors (tracing, then the authorization policy) and the scheduler's worker
 * clients that `deps.security` asks for; warns when the coordinator is open or a token is short.
 */
function securitySetup(deps: CoordinatorServerDeps): {
  credentials: ServerCredentials;
  interceptors: ServerInterceptor[];
  workerClientFactory: WorkerClientFactory | undefined;
  tls: 'off' | 'server' | 'mutual';
  tlsMaterial: TlsMaterial | undefined;
} {
  const { tls, tokens } = deps.security ?? {};
  if (tls?.ca && !tls.cert) {
    throw new TlsConfigError(
      TLS_OPTIONS.ca.flag,
      undefined,
      `needs ${TLS_OPTIONS.cert.flag} and ${TLS_OPTIONS.key.flag}: the coordinator serves TLS to check client certificates`
    );
  }
  const clusterCa = tls?.ca ? parseCertificates(tls.ca, TLS_OPTIONS.ca.flag) : undefined;
  const auth: CoordinatorAuth = { tokens, clusterCa };
  // Authentication runs on every coordinator: an open one makes every caller the admin principal "local".
  const interceptors = [
    createTracingServerInterceptor(),
    createCoordinatorAuthInterceptor(auth, deps.logger),
    createDecodeGuardInterceptor(),
  ];
  if (!isAuthConfigured(auth)) {
    deps.logger.warn(
      'the coordinator is open: without --token-file or --tls-ca every caller is the admin "local" and may submit, cancel and download any experiment and register workers'
    );
  }
  if (tokens && tokens.short > 0) {
    deps.logger.warn(`${tokens.short} of the ${tokens.size} accepted tokens are shorter than 16 characters`);
  }
  if (tokens && tokens.bare > 0) {
    deps.logger.warn(
      `${tokens.bare} token file lines hold only a token: each authenticates a client named token-<digest>; write "<token> <principal> <role>" instead`
    );
  }
  const workerCredentials = clusterCa ? createChannelCredentials(tls) : undefined;
  return {
    credentials: createServerCredentials(tls?.cert ? tls : undefined, clusterCa ? 'optional' : 'none'),
    interceptors,
    workerClientFactory: workerCredentials
      ? (address) => new WorkerClient(address, workerCredentials, { interceptors: [createTracingClientInterceptor()] })
      : undefined,
    tls: clusterCa ? 'mutual' : tls?.cert ? 'server' : 'off',
    tlsMaterial: tls,
  };
}
