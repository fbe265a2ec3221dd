/** E2E helper: runs a ring of `ring-worker` processes on loopback and talks to them over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { WorkerCommand, WorkerReply } from './ring-worker.js';

export interface RingCluster {
  readonly workers: ChildProcess[];
  /** Sends `command` (with a fresh id) to the given ranks and resolves with their replies, by rank. */
  run(command: DistributiveOmit<WorkerCommand & { id: number }, 'id'>, ranks?: number[]): Promise<WorkerReply[]>;
  /** Resolves with the next `started` reply of each given rank. */
  started(ranks: number[]): Promise<void>;
  close(): Promise<void>;
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** The compiled fixture (tests run from src/ and need `tsc -b` first, as the Nx test target does). */
const WORKER = path.resolve(import.meta.dirname, '..', '..', 'dist', 'e2e', 'ring-worker.js');

/** Starts `worldSize` workers, exchanges their bound addresses and forms the ring. */
export async function startRingCluster(
  worldSize: number,
  options: Record<string, number | string> = {},
  runId = 'e2e-run'
): Promise<RingCluster> {
  const workers = Array.from({ length: worldSize }, () =>
    fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  );
  const next = (worker: ChildProcess, accept: (r: WorkerReply) => boolean) =>
    new Promise<WorkerReply>((resolve, reject) => {
      const onMessage = (reply: WorkerReply) => {
        if (!accept(reply)) return;
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(reply);
      };
      const onExit = (code: number | null, signal: string | null) => {
        worker.off('message', onMessage);
        reject(new Error(`worker exited (${code ?? signal}) before replying`));
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
    });
  const addresses = await Promise.all(workers.map((w) => next(w, (r) => r.type === 'address')));
  const peers = addresses.map((r) => (r as { address: string }).address);
  await Promise.all(
    workers.map((w, rank) => {
      const joined = next(w, (r) => r.type === 'joined');
      w.send({ type: 'join', rank, worldSize, peers, runId, options } satisfies WorkerCommand);
      return joined;
    })
  );
  let nextId = 1;
  return {
    workers,
    async run(command, ranks = workers.map((_, r) => r)) {
      const id = nextId++;
      return Promise.all(
        ranks.map((rank) => {
          const w = workers[rank]!;
          const reply = next(w, (r) => (r.type === 'done' || r.type === 'failed') && r.id === id);
          w.send({ ...command, id });
          return reply;
        })
      );
    },
    async started(ranks) {
      await Promise.all(ranks.map((rank) => next(workers[rank]!, (r) => r.type === 'started')));
    },
    async close() {
      await Promise.all(
        workers.map((w) => {
          if (w.exitCode !== null || w.signalCode !== null) return undefined;
          const exited = new Promise((resolve) => w.once('exit', resolve));
          const timer = setTimeout(() => w.kill('SIGKILL'), 10_000);
          w.send({ type: 'close' } satisfies WorkerCommand);
          return exited.finally(() => clearTimeout(timer));
        })
      );
    },
  };
}
