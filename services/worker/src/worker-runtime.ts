import type { CollectiveServer } from '@supwalsh/collective';
import type { BackendName } from '@supwalsh/engine';
import {
  Backend,
  WorkerState,
  type CoordinatorClient,
  type DeviceInfo,
  type ShardStatus,
  type StartShardRequest,
  type WorkerInfo,
} from '@supwalsh/proto';
import type { HeartbeatContent } from './coordinator-link.js';
import type { DatasetCache } from './dataset-cache.js';
import { ShardRequestError, WorkerBusyError, WorkerDrainingError } from './errors.js';
import type { WorkerLogger } from './logger.js';
import { parseStartShard } from './shard-request.js';
import { startShard, type Shard, type ShardDeps } from './shard.js';

/**
 * Lifecycle of a worker process:
 * - `IDLE`: running no shard, accepting one;
 * - `BUSY`: running a shard (capacity 1), accepting only a newer generation of its run;
 * - `DRAINING`: shutting down (SIGTERM): accepts nothing, aborts its shard, waits for its reports (step 4);
 * - `STOPPED`: drained and deregistered; the server is closing.
 */
export type WorkerStateName = 'IDLE' | 'BUSY' | 'DRAINING' | 'STOPPED';

const BACKEND: Record<BackendName, Backend> = {
  tensorflow: Backend.BACKEND_TENSORFLOW,
  wasm: Backend.BACKEND_WASM,
  cpu: Backend.BACKEND_CPU,
};

/** Ended shards kept for `GetWorkerStatus` ("running and recently ended"). */
const ENDED_KEPT = 16;

/** Options of {@link createWorkerRuntime}. */
export interface WorkerRuntimeOptions {
  workerId: string;
  /** `host:port` peers and the coordinator reach this worker at. */
  address: string;
  backend: BackendName;
  /** Compute threads of this process (`EngineInfo.threads`), advertised in WorkerInfo.threads. */
  threads?: number;
  devices: DeviceInfo[];
  labels: Record<string, string>;
  version: string;
  instanceId: string;
  dataDir: string;
  client: CoordinatorClient | undefined;
  collectiveServer: CollectiveServer;
  datasets: DatasetCache;
  logger: WorkerLogger;
  /** Passed to every shard (temporary directory, reporter tuning, finish timeout). */
  shardOptions?: Pick<ShardDeps, 'tmpDir' | 'reporter' | 'finishTimeoutMs'>;
  /** Called whenever the worker's state changes (to heartbeat at once). */
  onStateChange?: (state: WorkerStateName) => void;
  /** Longest wait for a draining shard to reach a step and store its hand-over checkpoint. @default 60 000 */
  handOverTimeoutMs?: number;
}

/** The worker's shards and state: what the Worker service and the coordinator link act on. */
export interface WorkerRuntime {
  readonly state: WorkerStateName;
  /** The running shard, if any. */
  readonly current: Shard | undefined;
  /** Step 6: starts (or, for a repeated request, returns) a shard; throws the errors `toGrpcStatus` maps. */
  startShard(request: StartShardRequest): ShardStatus;
  /** Step 8: aborts the shards of `runId` (of `generation`, or every generation for 0); returns them. */
  abortShard(runId: string, generation: number, reason: string): ShardStatus[];
  /** The worker as WorkerInfo (state and shards, running and recently ended). */
  info(): WorkerInfo;
  /** The worker as it registers (step 1): WorkerInfo with only the shards it still runs. */
  registration(): WorkerInfo;
  /** The next heartbeat's state and shards (running, and ended since the previous heartbeat). */
  heartbeat(): HeartbeatContent;
  /**
   * Step 4: DRAINING; the running shard hands its run over (a checkpoint at its next step, then it stops) and this
   * waits until its `ShardFinished` is delivered.
   */
  drain(reason: string): Promise<void>;
  /** Marks the worker STOPPED (after deregistering). */
  stop(): void;
}

/** Creates the runtime of one worker process (capacity 1). */
export function createWorkerRuntime(options: WorkerRuntimeOptions): WorkerRuntime {
  const { logger } = options;
  let draining = false;
  let stopped = false;
  /** Every shard started, newest last; ended ones are trimmed to ENDED_KEPT. */
  let shards: Shard[] = [];
  /** Ended shards whose final status has been in an accepted heartbeat. */
  const heartbeatReported = new WeakSet<Shard>();

  const running = () => shards.filter((s) => !s.ended);
  const stateName = (): WorkerStateName => {
    if (stopped) return 'STOPPED';
    if (draining) return 'DRAINING';
    return running().length > 0 ? 'BUSY' : 'IDLE';
  };
  const protoState = (): WorkerState => {
    switch (stateName()) {
      case 'IDLE':
        return WorkerState.WORKER_STATE_IDLE;
      case 'BUSY':
        return WorkerState.WORKER_STATE_BUSY;
      default:
        return WorkerState.WORKER_STATE_DRAINING;
    }
  };
  const trim = () => {
    const ended = shards.filter((s) => s.ended);
    if (ended.length > ENDED_KEPT) {
      const drop = new Set(ended.slice(0, ended.length - ENDED_KEPT));
      shards = shards.filter((s) => !drop.has(s));
    }
  };

  const info = (): WorkerInfo => ({
    workerId: options.workerId,
    address: options.address,
    backend: BACKEND[options.backend],
    devices: options.devices,
    capacity: 1,
    labels: options.labels,
    version: options.version,
    state: protoState(),
    shards: shards.map((s) => s.status()),
    registerTime: undefined,
    lastHeartbeatTime: undefined,
    instanceId: options.instanceId,
    threads: options.threads ?? 0,
  });

  const startShardImpl = (request: StartShardRequest): ShardStatus => {
    if (draining || stopped) throw new WorkerDrainingError(options.workerId);
    const parsed = parseStartShard(request, { dataDir: options.dataDir, backend: options.backend });
    const same = shards.findLast((s) => s.request.runId === parsed.runId && s.request.generation === parsed.generation);
    if (same) {
      // Idempotent (worker.proto): the same (run, generation, rank) returns that shard's status, never a rerun.
      if (same.request.rank === parsed.rank) return same.status();
      throw new ShardRequestError(
        'rank',
        `differs from this worker's shard of run ${parsed.runId} generation ${parsed.generation} (rank ${same.request.rank}); got ${parsed.rank}`
      );
    }
    const active = running();
    const newer = active.find((s) => s.request.runId === parsed.runId && s.request.generation > parsed.generation);
    if (newer) {
      throw new WorkerBusyError(
        parsed.runId,
        parsed.generation,
        { runId: newer.request.runId, generation: newer.request.generation },
        `a newer generation (${newer.request.generation}) of run ${parsed.runId} already runs here; got generation ${parsed.generation}`
      );
    }
    const older = active.filter((s) => s.request.runId === parsed.runId);
    const others = active.filter((s) => s.request.runId !== parsed.runId);
    if (others.length > 0) {
      const busy = others[0]!.request;
      // Step 6: capacity 1; the coordinator re-queues the run.
      throw new WorkerBusyError(
        parsed.runId,
        parsed.generation,
        { runId: busy.runId, generation: busy.generation },
        `worker ${options.workerId} is busy with run ${busy.runId} generation ${busy.generation} (capacity 1)`
      );
    }
    // worker.proto: a newer generation of a run replaces (aborts) this worker's older shard of it.
    for (const s of older) s.abort(`replaced by generation ${parsed.generation}`);
    const shard = startShard({
      request: parsed,
      workerId: options.workerId,
      instanceId: options.instanceId,
      client: options.client,
      collectiveServer: options.collectiveServer,
      datasets: options.datasets,
      logger,
      ...options.shardOptions,
      ...(older.length > 0 ? { after: Promise.all(older.map((s) => s.done)) } : {}),
    });
    shards.push(shard);
    trim();
    options.onStateChange?.(stateName());
    void shard.done.then(() => {
      trim();
      options.onStateChange?.(stateName());
    });
    return shard.status();
  };

  return {
    get state() {
      return stateName();
    },
    get current() {
      return running().at(-1);
    },
    startShard: startShardImpl,
    abortShard(runId, generation, reason) {
      if (!runId) throw new ShardRequestError('run_id', 'is required');
      const targets = running().filter(
        (s) => s.request.runId === runId && (generation === 0 || s.request.generation === generation)
      );
      for (const s of targets) s.abort(reason);
      return targets.map((s) => s.status());
    },
    info,
    registration() {
      return { ...info(), shards: running().map((s) => s.status()) };
    },
    heartbeat() {
      const included = shards.filter((s) => !s.ended || !heartbeatReported.has(s));
      // Only shards already ended when the heartbeat was taken have had their final status sent.
      const endedNow = included.filter((s) => s.ended);
      return {
        state: protoState(),
        shards: included.map((s) => s.status()),
        commit: () => {
          for (const s of endedNow) heartbeatReported.add(s);
        },
      };
    },
    async drain(reason) {
      if (!draining) {
        draining = true;
        options.onStateChange?.(stateName());
      }
      // Step 4: the running shard stores a checkpoint at its next step and stops; the run re-forms without us.
      await Promise.all(running().map((s) => s.handOver(reason, options.handOverTimeoutMs ?? 60_000)));
    },
    stop() {
      stopped = true;
      options.onStateChange?.(stateName());
    },
  };
}
