import { ATTR } from '@supwalsh/telemetry';

/**
 * Span names and attribute keys the worker emits (beside @supwalsh/telemetry's, which the collective library
 * records): one span per Worker RPC and one per shard.
 */
export const WORKER_SPAN_NAMES = {
  /** One `Worker.StartShard` call. */
  startShard: 'supwalsh.worker.start_shard',
  /** One `Worker.AbortShard` call. */
  abortShard: 'supwalsh.worker.abort_shard',
  /** One `Worker.GetWorkerStatus` call. */
  getWorkerStatus: 'supwalsh.worker.get_worker_status',
  /** A shard, from its acceptance to its acknowledged `ShardFinished`. */
  shard: 'supwalsh.worker.shard',
} as const;

/** Attribute keys of the worker's spans (run, generation and rank are @supwalsh/telemetry's `ATTR` keys). */
export const WORKER_ATTR = {
  /** The worker's id. */
  workerId: 'supwalsh.worker.id',
  runId: ATTR.runId,
  generation: ATTR.generation,
  rank: ATTR.rank,
} as const;
