import { status } from '@grpc/grpc-js';
import type { AbortShardRequest, CoordinatorClient, ShardStatus, WorkerInfo, WorkerState } from '@supwalsh/proto';
import { createBackoff, sleep, type BackoffOptions } from './backoff.js';
import { callUnary } from './coordinator-client.js';
import { isServiceError, toError } from './errors.js';
import type { LeaseKeeper, LeaseKeeperEvent } from './lease-keeper.js';
import { silentWorkerLogger, type WorkerLogger } from './logger.js';

/** What a heartbeat reports, and how to mark it sent. */
export interface HeartbeatContent {
  readonly state: WorkerState;
  /** Running shards, and ended ones not yet in a heartbeat. */
  readonly shards: ShardStatus[];
  /** Called once the coordinator has accepted this heartbeat (ended shards need not be sent again). */
  commit(): void;
}

/** Options of {@link createCoordinatorLink}. */
export interface CoordinatorLinkOptions {
  client: CoordinatorClient;
  /** The worker as it registers (identity, devices, state and the shards it still runs). */
  describe(): WorkerInfo;
  /** The next heartbeat's state and shards. */
  heartbeat(): HeartbeatContent;
  /**
   * Shards the coordinator says to abort (heartbeat and registration answers; step 8): each by run and generation
   * (`abort_shards`; a newer generation of the same run goes on), or, for `abort_run_ids`, generation 0 (every
   * shard of the run).
   */
  onAbort(shards: AbortShardRequest[]): void;
  /** Deadline of each membership call, in milliseconds. @default 5 000 */
  deadlineMs?: number;
  /** Backoff while the coordinator is unreachable. @default 200 ms doubling to 10 s, 40 % jitter */
  backoff?: BackoffOptions;
  /** Repeats the last heartbeat from another thread while this one is busy (lease-keeper.ts). */
  leaseKeeper?: LeaseKeeper;
  logger?: WorkerLogger;
}

/**
 * Lifecycle of the worker's membership:
 * - `REGISTERING`: calling `RegisterWorker` (again after NOT_FOUND), backing off while the coordinator is away;
 * - `REGISTERED`: holds a lease and heartbeats;
 * - `STOPPED`: stopped (`close`) or deregistered.
 */
export type CoordinatorLinkState = 'REGISTERING' | 'REGISTERED' | 'STOPPED';

/** The worker's membership with the coordinator (PROTOCOL.md steps 1–4). */
export interface CoordinatorLink {
  readonly state: CoordinatorLinkState;
  /** Lease of the current registration; empty while not registered. */
  readonly leaseId: string;
  /** Times the worker has registered (1 after the first registration). */
  readonly registrations: number;
  /** Starts registering and heartbeating in the background. */
  start(): void;
  /** Sends the next heartbeat now (e.g. the worker started draining). */
  heartbeatNow(): void;
  /** What the lease keeper's thread reports: aborts to apply, a lease the coordinator no longer knows. */
  onLeaseKeeperEvent(event: LeaseKeeperEvent): void;
  /** Resolves once registered (at once if registered), or false after `timeoutMs`. */
  whenRegistered(timeoutMs?: number): Promise<boolean>;
  /** Step 4: stops heartbeating and calls `DeregisterWorker` (errors are logged, not thrown). */
  deregister(reason: string): Promise<void>;
  /** Stops heartbeating without deregistering (the lease expires: step 3). */
  close(): Promise<void>;
}

/** Creates the membership loop; call `start()`. */
export function createCoordinatorLink(options: CoordinatorLinkOptions): CoordinatorLink {
  const { client } = options;
  const logger = options.logger ?? silentWorkerLogger;
  const deadlineMs = options.deadlineMs ?? 5_000;
  const backoff = createBackoff({ initialMs: 200, maxMs: 10_000, ...options.backoff });
  const stopController = new AbortController();
  let state: CoordinatorLinkState = 'REGISTERING';
  let leaseId = '';
  let registrations = 0;
  let intervalMs = 2_000;
  /** Wakes the loop's current wait early (heartbeatNow). */
  let wake: AbortController = new AbortController();
  let loop: Promise<void> | undefined;
  const registeredWaiters = new Set<() => void>();

  const keep = (workerId: string, workerState: WorkerState, shards: readonly ShardStatus[]) =>
    options.leaseKeeper?.update({ workerId, leaseId, intervalMs, state: workerState, shards });

  const applyAborts = (response: {
    readonly abortRunIds: readonly string[];
    readonly abortShards: readonly AbortShardRequest[];
  }) => {
    const shards = abortsOf(response);
    if (shards.length === 0) return;
    logger.info('the coordinator asks to abort shards', {
      shards: shards.map((s) => `${s.runId}@${s.generation || 'all'}`),
    });
    options.onAbort(shards);
  };

  /** Step 1: register (again); the answer carries the lease and the heartbeat interval. */
  let registering: Promise<void> | undefined;
  // One registration at a time: the loop is its only caller, but a lease-lost event from the keeper thread and a
  // NOT_FOUND heartbeat can both ask for one; they share the call in flight.
  const register = (): Promise<void> => {
    registering ??= registerOnce().finally(() => {
      registering = undefined;
    });
    return registering;
  };
  /** Marks the lease `lost` as gone (NOT_FOUND) once: a second report of the same lease, or of none, is ignored. */
  const leaseLost = (lost: string): boolean => {
    if (!lost || lost !== leaseId || state !== 'REGISTERED') return false;
    logger.warn('the coordinator does not know this lease; registering again', { leaseId: lost });
    state = 'REGISTERING';
    leaseId = '';
    return true;
  };
  const registerOnce = async (): Promise<void> => {
    const worker = options.describe();
    const response = await callUnary(client, client.registerWorker, { worker }, deadlineMs);
    leaseId = response.leaseId;
    intervalMs = response.heartbeatIntervalMs || 2_000;
    registrations += 1;
    state = 'REGISTERED';
    logger.info('registered with the coordinator', {
      workerId: worker.workerId,
      leaseId,
      heartbeatIntervalMs: intervalMs,
      leaseTtlMs: response.leaseTtlMs,
      registrations,
    });
    for (const resolve of registeredWaiters) resolve();
    registeredWaiters.clear();
    keep(worker.workerId, worker.state, worker.shards);
    applyAborts(response);
  };

  /** Step 2: renew the lease and report state and shards; the answer may list runs to abort (step 8). */
  /** Sends one heartbeat on `lease` (the lease it was sent on, for the NOT_FOUND check). */
  const heartbeat = async (lease: string): Promise<void> => {
    const content = options.heartbeat();
    const worker = options.describe();
    const response = await callUnary(
      client,
      client.heartbeat,
      { workerId: worker.workerId, leaseId: lease, state: content.state, shards: content.shards },
      deadlineMs
    );
    content.commit();
    if (response.heartbeatIntervalMs > 0) intervalMs = response.heartbeatIntervalMs;
    keep(worker.workerId, content.state, content.shards);
    applyAborts(response);
  };

  const wait = async (ms: number) => {
    wake = new AbortController();
    await sleep(ms, AbortSignal.any([stopController.signal, wake.signal]));
  };

  const run = async (): Promise<void> => {
    while (!stopController.signal.aborted) {
      if (state !== 'REGISTERED') {
        try {
          await register();
          backoff.reset();
        } catch (error: unknown) {
          const delay = backoff.next();
          logger.warn('RegisterWorker failed; retrying', { error: describe(error), delayMs: delay });
          await sleep(delay, stopController.signal);
          continue;
        }
      }
      await wait(intervalMs);
      if (stopController.signal.aborted) break;
      // Heartbeats (and their retries) until the lease is lost — here, or by the lease keeper while this loop waited
      // to retry (then there is no lease left to renew: register again).
      while (state === 'REGISTERED') {
        const lease = leaseId;
        try {
          await heartbeat(lease);
          backoff.reset();
          break;
        } catch (error: unknown) {
          if (stopController.signal.aborted) return;
          if (isServiceError(error) && error.code === status.NOT_FOUND) {
            // Step 2: unknown lease (the coordinator restarted, or the lease expired): register again at once —
            // unless the keeper thread already reported this lease lost (then the loop registers once, not twice).
            if (leaseLost(lease)) keep(options.describe().workerId, options.heartbeat().state, []);
            break;
          }
          // UNAVAILABLE and the like: the coordinator is away; retry with exponential backoff and jitter.
          const delay = backoff.next();
          logger.warn('Heartbeat failed; retrying', { error: describe(error), delayMs: delay });
          await sleep(delay, stopController.signal);
          if (stopController.signal.aborted) return;
        }
      }
    }
  };

  const stop = async () => {
    stopController.abort();
    await loop;
    state = 'STOPPED';
    leaseId = '';
    await options.leaseKeeper?.stop();
  };

  return {
    get state() {
      return state;
    },
    get leaseId() {
      return leaseId;
    },
    get registrations() {
      return registrations;
    },
    start() {
      loop ??= run().catch((error: unknown) => {
        logger.error('the coordinator link stopped unexpectedly', { error: toError(error) });
      });
    },
    heartbeatNow() {
      wake.abort();
    },
    onLeaseKeeperEvent(event) {
      if (event.type === 'abort') applyAborts(event);
      if (event.type === 'lease-lost' && leaseLost(event.leaseId)) wake.abort();
    },
    whenRegistered(timeoutMs = 30_000) {
      if (state === 'REGISTERED') return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          registeredWaiters.delete(done);
          resolve(false);
        }, timeoutMs);
        registeredWaiters.add(done);
      });
    },
    async deregister(reason) {
      const held = state === 'REGISTERED' ? leaseId : '';
      await stop();
      if (!held) return;
      const workerId = options.describe().workerId;
      try {
        // Step 4: the shard is finished or aborted by now; remove this worker.
        await callUnary(client, client.deregisterWorker, { workerId, leaseId: held, reason }, deadlineMs);
        logger.info('deregistered from the coordinator', { workerId, reason });
      } catch (error: unknown) {
        logger.warn('DeregisterWorker failed; the lease will expire', { workerId, error: describe(error) });
      }
      leaseId = '';
    },
    close: stop,
  };
}

/**
 * The shards an answer asks to abort: `abort_shards` by generation, and every generation (0) of the runs in
 * `abort_run_ids` (which a coordinator fills only for runs none of whose shards may go on; PROTOCOL.md step 8) that
 * `abort_shards` does not name. A run it names is aborted by generation only: the answer was made before the
 * coordinator could know of a shard of the run's next generation started here since, which must go on.
 */
export function abortsOf(response: {
  readonly abortRunIds: readonly string[];
  readonly abortShards: readonly AbortShardRequest[];
}): AbortShardRequest[] {
  const byGeneration = response.abortShards.filter((s) => s.runId && s.generation > 0);
  const named = new Set(byGeneration.map((s) => s.runId));
  const whole = response.abortRunIds
    .filter((runId) => !named.has(runId))
    .map((runId) => ({
      runId,
      generation: 0,
      reason: 'listed in abort_run_ids by the coordinator',
    }));
  return [...byGeneration, ...whole];
}

function describe(error: unknown): string {
  if (isServiceError(error)) return `${error.code} ${error.details || error.message}`;
  return toError(error).message;
}
