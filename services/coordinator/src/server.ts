import path from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { CoordinatorService } from '@supwalsh/proto';
import { HealthImplementation } from 'grpc-health-check';
import { DEFAULT_COORDINATOR_SETTINGS, type CoordinatorContext, type CoordinatorSettings } from './context.js';
import { COORDINATOR_SERVICE_NAME, createCoordinatorService, type ServiceState } from './coordinator-service.js';
import { newInstanceId } from './ids.js';
import type { CoordinatorLogger } from './logger.js';
import { voidPreviousLeases } from './membership.js';
import { addReflection } from './reflection.js';
import { Scheduler, type WorkerClientFactory } from './scheduler.js';
import type { Store } from './store.js';

/** Largest message the coordinator accepts: an UploadArtifact chunk (4 000 000 bytes) plus its header, with room. */
export const MAX_RECEIVE_MESSAGE_BYTES = 8 << 20;

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
}

/** A running coordinator. */
export interface CoordinatorServerHandle {
  /** The bound port. */
  readonly port: number;
  /** `host:port` as bound (the listen host with the bound port). */
  readonly address: string;
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
  const scheduler = new Scheduler(ctx, deps.workerClientFactory);
  voidPreviousLeases(ctx);

  const server = new Server({ 'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES });
  server.addService(CoordinatorService, createCoordinatorService(ctx, state));
  const health = new HealthImplementation({ '': 'SERVING', [COORDINATOR_SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  if (!addReflection(server, deps.protoDir)) {
    deps.logger.warn('server reflection is off: the .proto files were not found', { protoDir: deps.protoDir });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(deps.listen, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound)
    )
  );
  scheduler.start();
  const host = deps.listen.slice(0, deps.listen.lastIndexOf(':'));
  const address = `${host}:${port}`;
  deps.logger.info('coordinator listening', { address, dataDir: ctx.dataDir, instanceId: ctx.instanceId });

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      state.draining = true;
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(COORDINATOR_SERVICE_NAME, 'NOT_SERVING');
      deps.store.bus.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, settings.shutdownTimeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await scheduler.stop(settings.shutdownTimeoutMs);
      deps.logger.info('coordinator stopped', { address });
    })();
    return stopping;
  };
  return { port, address, shutdown };
}
