import { rm } from 'node:fs/promises';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import {
  Backend,
  DataType,
  LogLevel,
  Phase,
  RunSpec,
  StartShardRequest,
  WorkerClient,
  WorkersChange,
  type AbortShardResponse,
  type CheckpointRef,
  type CollectiveOptions,
  type Peer,
  type StartShardResponse,
} from '@supwalsh/proto';
import { ATTR, getTracer, SPAN_NAMES, withSpan } from '@supwalsh/telemetry';
import { createTracingClientInterceptor } from '@supwalsh/telemetry/grpc';
import { completeExperiment } from './completion.js';
import { newEffects, type AbortRequest, type CoordinatorContext, type Effects } from './context.js';
import { isServiceError, toError } from './errors.js';
import { emit, endRun, releaseWorker, setExperimentState, setRunState } from './lifecycle.js';
import { expireLeases } from './membership.js';
import { recordRecovery } from './metrics.js';
import { isActiveRunState, isTerminalRunState } from './states.js';
import type { ExperimentRecord, RunRecord, WorkerRecord } from './store.js';

/** Builds the client the coordinator calls a worker's `Worker` service through (one per address, cached). */
export type WorkerClientFactory = (address: string) => WorkerClient;

/** The default factory: a plaintext channel to `address` (server.ts builds a mutual-TLS one with a cluster CA). */
export const createWorkerClient: WorkerClientFactory = (address) =>
  new WorkerClient(address, credentials.createInsecure(), { interceptors: [createTracingClientInterceptor()] });

/** CollectiveOptions sent in every StartShard: worker.proto's defaults. */
export const DEFAULT_COLLECTIVE_OPTIONS: CollectiveOptions = {
  bucketBytes: 4 << 20,
  chunkBytes: 1 << 20,
  flowControlWindowBytes: 16 << 20,
  timeoutMs: 60_000,
  wireDtype: DataType.DATA_TYPE_FLOAT32,
};

/** Order in which BACKEND_AUTO picks a backend (spec.proto): the fastest that enough free workers have. */
const AUTO_BACKENDS: readonly Backend[] = [Backend.BACKEND_TENSORFLOW, Backend.BACKEND_WASM, Backend.BACKEND_CPU];

/** A ring the scheduler formed and now starts on its workers. */
interface RingStart {
  readonly experimentId: string;
  readonly runId: string;
  readonly generation: number;
  readonly run: RunSpec;
  readonly peers: readonly Peer[];
  /** The state the run left for this ring, and goes back to if the ring cannot start. */
  readonly from: 'QUEUED' | 'REFORMING';
  /** The checkpoint the ring resumes from (a re-formed ring, step 11). */
  readonly resumeFrom: CheckpointRef | undefined;
}

/** The workers and backend chosen for a run, or undefined when not enough free workers fit. */
function pickRing(
  free: readonly WorkerRecord[],
  experiment: ExperimentRecord,
  run: RunRecord
): { workers: WorkerRecord[]; backend: Backend } | undefined {
  const { minWorkers, maxWorkers, selector } = experiment.settings.workers;
  const matching = free.filter((w) => Object.entries(selector).every(([k, v]) => w.info.labels[k] === v));
  const wanted = experiment.resolvedSpec.backend;
  const candidates =
    wanted === Backend.BACKEND_AUTO || wanted === Backend.BACKEND_UNSPECIFIED ? AUTO_BACKENDS : [wanted];
  const batchSize = run.runSpec.training?.batchSize ?? Number.MAX_SAFE_INTEGER;
  for (const backend of candidates) {
    const group = matching.filter((w) => w.info.backend === backend);
    // World size: at most max_workers (0 = all free) and at most the global batch (StartShardRequest.world_size).
    const size = Math.min(maxWorkers === 0 ? group.length : maxWorkers, group.length, batchSize);
    if (size >= minWorkers && size > 0) return { workers: group.slice(0, size), backend };
  }
  return undefined;
}

/**
 * The scheduler (PROTOCOL.md steps 5, 6, 8, 10 and the timer of step 3): forms rings of free workers for queued
 * runs and starts their shards, aborts shards of runs that ended, expires leases, enforces time limits, and ends
 * experiments whose runs have all ended. Runs a pass whenever something changed (`kick`) and every
 * `scheduleIntervalMs`.
 */
export class Scheduler {
  private readonly clients = new Map<string, WorkerClient>();
  private readonly completing = new Map<string, Promise<void>>();
  /** When the scheduler first saw each REFORMING run wait for its ring's members (`mayReform`). */
  private readonly reformingSince = new Map<string, { generation: number; time: number }>();
  private readonly inflight = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private kickPending = false;
  private stopped = false;

  constructor(
    private readonly ctx: CoordinatorContext,
    private readonly clientFactory: WorkerClientFactory = createWorkerClient
  ) {}

  /** Starts the periodic pass and runs a first one. */
  start(): void {
    this.timer = setInterval(() => this.tick(), this.ctx.settings.scheduleIntervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Stops the timer, waits (up to `timeoutMs`) for worker calls and reports in flight, closes the clients. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise((resolve) => {
        timeout = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timeout);
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  /** Carries out what a committed change asked for (see `Effects`). */
  apply(effects: Effects): void {
    for (const path of effects.deletions) {
      this.track(
        rm(path, { force: true }).catch((e: unknown) =>
          this.ctx.logger.warn('could not delete', { path, error: toError(e).message })
        )
      );
    }
    for (const { cause } of effects.reformed) recordRecovery(cause === 'hand-over' ? 'hand_over' : 'ring_broken');
    if (this.stopped) return;
    for (const abort of effects.aborts) this.track(this.abortShard(abort));
    for (const experimentId of effects.completions) this.complete(experimentId);
    if (effects.schedule) this.kick();
  }

  /** Asks for a scheduling pass soon (coalesced). */
  kick(): void {
    if (this.kickPending || this.stopped) return;
    this.kickPending = true;
    setImmediate(() => {
      this.kickPending = false;
      if (!this.stopped) this.guard('schedule', () => this.schedulePass());
    });
  }

  /** The periodic pass: lease expiry (step 3), time limits, unfinished completions, then scheduling. */
  tick(): void {
    if (this.stopped) return;
    this.guard('lease expiry', () => expireLeases(this.ctx));
    this.guard('time limits', () => this.enforceTimeLimits());
    this.guard('completions', () => {
      for (const experimentId of this.ctx.store.listExperimentsAwaitingCompletion()) this.complete(experimentId);
    });
    this.guard('schedule', () => this.schedulePass());
  }

  /** Resolves once every completion and worker call started so far has settled (tests). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error: unknown) {
      this.ctx.logger.error(`scheduler: ${what} failed`, { error: toError(error).message });
    }
  }

  private track(promise: Promise<unknown>): void {
    this.inflight.add(promise);
    void promise.finally(() => this.inflight.delete(promise));
  }

  private client(address: string): WorkerClient {
    let client = this.clients.get(address);
    if (!client) {
      client = this.clientFactory(address);
      this.clients.set(address, client);
    }
    return client;
  }

  private deadline(): Date {
    return new Date(Date.now() + this.ctx.settings.workerCallDeadlineMs);
  }

  /** Step 10 for one experiment, at most once at a time. */
  private complete(experimentId: string): void {
    if (this.completing.has(experimentId) || this.stopped) return;
    const done = completeExperiment(this.ctx, experimentId)
      .catch((error: unknown) =>
        this.ctx.logger.error('completing the experiment failed', { experimentId, error: toError(error).message })
      )
      .finally(() => this.completing.delete(experimentId));
    this.completing.set(experimentId, done);
    this.track(done);
  }

  /** Free workers: IDLE, holding a lease, heard from within the lease, assigned nothing; by worker_id. */
  private freeWorkers(now: number): WorkerRecord[] {
    return this.ctx.store
      .listWorkers(['IDLE'])
      .filter(
        (w) => w.leaseId !== '' && w.assignedRunId === null && now - w.lastHeartbeat <= this.ctx.settings.leaseTtlMs
      );
  }

  /**
   * Step 5: walks unfinished experiments by priority then submission, and each one's QUEUED runs by index, giving
   * each run a ring of free workers (at least min_workers, at most max_workers, within max_parallel_runs). Step 6
   * (stored part): the run RUNNING with its ring, the workers BUSY; the StartShard calls follow after the commit.
   */
  private schedulePass(): void {
    const { store } = this.ctx;
    const starts: RingStart[] = [];
    // A REFORMING run that ended any other way (cancelled, failed, timed out) leaves no entry behind.
    for (const runId of this.reformingSince.keys()) {
      if (store.getRun(runId)?.state !== 'REFORMING') this.reformingSince.delete(runId);
    }
    store.transaction(() => {
      let free = this.freeWorkers(this.ctx.clock());
      if (free.length === 0) return;
      for (const listed of store.listActiveExperiments()) {
        if (free.length === 0) break;
        let experiment = listed;
        const runs = store.listRuns(experiment.id);
        let active = runs.filter((r) => isActiveRunState(r.state)).length;
        const { maxParallelRuns } = experiment.settings.workers;
        // Runs re-forming after a break (step 11) hold their place: they go first and count as active already.
        const waiting = [...runs.filter((r) => r.state === 'REFORMING'), ...runs.filter((r) => r.state === 'QUEUED')];
        for (const run of waiting) {
          const reforming = run.state === 'REFORMING';
          if (reforming && !this.mayReform(run)) continue;
          if (!reforming && maxParallelRuns > 0 && active >= maxParallelRuns) break;
          const ring = pickRing(free, experiment, run);
          if (!ring) break;
          free = free.filter((w) => !ring.workers.includes(w));
          starts.push(this.formRing(experiment, run, ring.workers, ring.backend));
          if (!reforming) active += 1;
          experiment = store.requireExperiment(experiment.id);
        }
      }
    });
    for (const start of starts) this.track(this.startShards(start));
  }

  /**
   * Whether a REFORMING run may form its next ring now (step 11): once the members of the broken ring have stopped
   * their shards, so that it re-forms with all of them — or, past `reformGraceMs`, with those free. Rank 0, the rank
   * that reports the run's progress and metrics, is always waited for while it lives: it sends its last reports
   * before its `ShardFinished`, and a new generation would refuse them as stale. (A dead rank 0's reports up to its
   * latest checkpoint are stored — it flushes them before each checkpoint — and the new ring reports the rest again.)
   */
  private mayReform(run: RunRecord): boolean {
    const stopping = (workerId: string | undefined) => {
      const worker = workerId === undefined ? undefined : this.ctx.store.getWorker(workerId);
      return worker !== undefined && worker.assignedRunId === run.id && worker.state !== 'LOST';
    };
    if (stopping(run.workerIds[0])) return false;
    if (!run.workerIds.some(stopping)) return true;
    const now = this.ctx.clock();
    const since = this.reformingSince.get(run.id);
    if (since === undefined || since.generation !== run.generation) {
      this.reformingSince.set(run.id, { generation: run.generation, time: now });
      return false;
    }
    return now - since.time >= this.ctx.settings.reformGraceMs;
  }

  /**
   * Step 6, stored part: experiment RUNNING, run RUNNING with its ring (events), workers BUSY. A re-formed ring
   * (step 11) keeps the run's phase and resumes from its latest checkpoint.
   */
  private formRing(experiment: ExperimentRecord, run: RunRecord, workers: WorkerRecord[], backend: Backend): RingStart {
    const { store } = this.ctx;
    const now = this.ctx.clock();
    const from = run.state === 'REFORMING' ? 'REFORMING' : 'QUEUED';
    this.reformingSince.delete(run.id);
    if (experiment.state === 'QUEUED') setExperimentState(this.ctx, experiment, 'RUNNING');
    const generation = run.generation + 1;
    const workerIds = workers.map((w) => w.workerId);
    setRunState(this.ctx, run, 'RUNNING', '', {
      worldSize: workers.length,
      generation,
      workerIds,
      backend,
      ...(from === 'QUEUED' ? { phase: Phase.PHASE_PREPARING } : {}),
      startTime: run.startTime ?? now,
    });
    emit(this.ctx, run.experimentId, run.id, {
      $case: 'workersChanged',
      value: {
        change:
          from === 'REFORMING' ? WorkersChange.WORKERS_CHANGE_RING_REFORMED : WorkersChange.WORKERS_CHANGE_RING_FORMED,
        workerId: '',
        worldSize: workers.length,
        generation,
        workerIds,
        reason: '',
      },
    });
    for (const worker of workers) store.updateWorker(worker.workerId, { state: 'BUSY', assignedRunId: run.id });
    this.ctx.logger.info(from === 'REFORMING' ? 'ring re-formed' : 'ring formed', {
      runId: run.id,
      generation,
      workerIds,
      resumeFrom: run.latestCheckpoint?.artifactId,
    });
    return {
      experimentId: run.experimentId,
      runId: run.id,
      generation,
      run: RunSpec.fromPartial({ ...run.runSpec, backend }),
      peers: workers.map((w, rank) => ({ rank, workerId: w.workerId, address: w.address })),
      from,
      resumeFrom: run.latestCheckpoint ?? undefined,
    };
  }

  private callStartShard(address: string, request: StartShardRequest): Promise<StartShardResponse> {
    return new Promise((resolve, reject) => {
      this.client(address).startShard(request, new Metadata(), { deadline: this.deadline() }, (error, response) =>
        error ? reject(error) : resolve(response)
      );
    });
  }

  /**
   * Step 6, calls: StartShard on every rank (deadline `workerCallDeadlineMs`). When a rank refuses (busy:
   * FAILED_PRECONDITION / RESOURCE_EXHAUSTED) or cannot be reached (then it is LOST), the run goes back to the state
   * it came from (QUEUED or REFORMING) and the ranks that accepted are aborted (step 8); a request the worker calls
   * invalid fails the run.
   */
  private startShards(start: RingStart): Promise<void> {
    // Its own trace: the pass that formed the ring may run inside any RPC's span (a heartbeat that freed a worker).
    return withSpan(
      getTracer(),
      SPAN_NAMES.coordinatorStartRing,
      { [ATTR.runId]: start.runId, [ATTR.generation]: start.generation, [ATTR.worldSize]: start.peers.length },
      () => this.callStartShards(start),
      { root: true }
    );
  }

  private async callStartShards(start: RingStart): Promise<void> {
    const worldSize = start.peers.length;
    const results = await Promise.allSettled(
      start.peers.map((peer) =>
        this.callStartShard(
          peer.address,
          StartShardRequest.fromPartial({
            experimentId: start.experimentId,
            runId: start.runId,
            run: start.run,
            rank: peer.rank,
            worldSize,
            peers: [...start.peers],
            generation: start.generation,
            resumeFrom: start.resumeFrom,
            phase: start.resumeFrom?.phase ?? Phase.PHASE_PREPARING,
            collective: DEFAULT_COLLECTIVE_OPTIONS,
          })
        )
      )
    );
    const failures = results.flatMap((result, rank) =>
      result.status === 'rejected' ? [{ rank, peer: start.peers[rank] as Peer, error: result.reason as unknown }] : []
    );
    if (failures.length === 0 || this.stopped) return;
    const { store } = this.ctx;
    const effects = newEffects();
    this.guard('start failure', () =>
      store.transaction(() => {
        const run = store.getRun(start.runId);
        if (!run || run.state !== 'RUNNING' || run.generation !== start.generation) return;
        const reasons: string[] = [];
        let invalid = false;
        for (const { peer, error } of failures) {
          const code = isServiceError(error) ? error.code : status.UNKNOWN;
          const detail = isServiceError(error) ? error.details || error.message : toError(error).message;
          reasons.push(`rank ${peer.rank} (${peer.workerId}): ${status[code] ?? code}: ${detail}`);
          const worker = store.getWorker(peer.workerId);
          if (!worker || worker.assignedRunId !== run.id) continue;
          if (code === status.INVALID_ARGUMENT) {
            invalid = true;
            releaseWorker(this.ctx, peer.workerId, run.id);
          } else if (code === status.FAILED_PRECONDITION || code === status.RESOURCE_EXHAUSTED) {
            // Busy or draining as far as the worker knows: BUSY until a heartbeat says otherwise.
            store.updateWorker(peer.workerId, {
              assignedRunId: null,
              state: worker.state === 'DRAINING' ? 'DRAINING' : 'BUSY',
            });
          } else {
            store.updateWorker(peer.workerId, { assignedRunId: null, state: 'LOST' });
          }
        }
        const message = `the ring of generation ${start.generation} could not start: ${reasons.join('; ')}`;
        this.ctx.logger.warn('StartShard failed', { runId: run.id, generation: start.generation, reasons });
        if (invalid) {
          endRun(this.ctx, effects, run, 'FAILED', message);
          return;
        }
        emit(this.ctx, run.experimentId, run.id, {
          $case: 'log',
          value: {
            level: LogLevel.LOG_LEVEL_WARNING,
            message: message.slice(0, 4096),
            code: 'RING_START_FAILED',
            workerId: '',
            rank: undefined,
          },
        });
        const failedRanks = new Set(failures.map((f) => f.rank));
        for (const peer of start.peers) {
          if (failedRanks.has(peer.rank)) continue;
          effects.aborts.push({
            workerId: peer.workerId,
            address: peer.address,
            runId: run.id,
            generation: run.generation,
            reason: message,
          });
        }
        setRunState(
          this.ctx,
          run,
          start.from,
          message,
          start.from === 'QUEUED' ? { phase: Phase.PHASE_UNSPECIFIED } : {}
        );
        effects.schedule = true;
      })
    );
    this.apply(effects);
  }

  /** Step 8: AbortShard on one worker; failures are logged (heartbeat answers list the run until it stops). */
  private async abortShard(abort: AbortRequest): Promise<void> {
    try {
      await new Promise<AbortShardResponse>((resolve, reject) => {
        this.client(abort.address).abortShard(
          { runId: abort.runId, generation: abort.generation, reason: abort.reason },
          new Metadata(),
          { deadline: this.deadline() },
          (error, response) => (error ? reject(error) : resolve(response))
        );
      });
      this.ctx.logger.info('shard aborted', { runId: abort.runId, workerId: abort.workerId });
    } catch (error: unknown) {
      this.ctx.logger.warn('AbortShard failed; the worker will be told in its next heartbeat', {
        runId: abort.runId,
        workerId: abort.workerId,
        error: toError(error).message,
      });
    }
  }

  /** LimitsSpec: run_timeout_seconds fails a run, experiment_timeout_seconds cancels the runs and fails the experiment. */
  private enforceTimeLimits(): void {
    const { store } = this.ctx;
    const now = this.ctx.clock();
    const effects = newEffects();
    store.transaction(() => {
      for (const experiment of store.listActiveExperimentsWithTimeLimits()) {
        const { experimentTimeoutSeconds, runTimeoutSeconds } = experiment.settings.limits;
        const runs = store.listRuns(experiment.id);
        if (
          experimentTimeoutSeconds > 0 &&
          experiment.startTime !== null &&
          now - experiment.startTime > experimentTimeoutSeconds * 1000
        ) {
          const message = `experiment timeout: running for more than limits.experiment_timeout_seconds = ${experimentTimeoutSeconds}`;
          for (const run of runs) {
            if (!isTerminalRunState(run.state)) endRun(this.ctx, effects, run, 'CANCELLED', message);
          }
          effects.completions.delete(experiment.id);
          setExperimentState(this.ctx, store.requireExperiment(experiment.id), 'FAILED', message);
          continue;
        }
        if (runTimeoutSeconds <= 0) continue;
        for (const run of runs) {
          if (isActiveRunState(run.state) && run.startTime !== null && now - run.startTime > runTimeoutSeconds * 1000) {
            endRun(
              this.ctx,
              effects,
              run,
              'FAILED',
              `run timeout: running for more than limits.run_timeout_seconds = ${runTimeoutSeconds}`
            );
          }
        }
      }
    });
    this.apply(effects);
  }
}
