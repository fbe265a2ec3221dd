import type { Meter, Tracer } from '@opentelemetry/api';

/** How an all-reduce combines the ranks' buffers. */
export type ReduceOp = 'sum' | 'mean';

/**
 * Wire encoding of all-reduce chunks: `none` (float32, exact), `fp16` (IEEE binary16: half the bytes, 11
 * significant bits, magnitudes up to 65 504) or `bf16` (bfloat16: half the bytes, 8 significant bits, float32's
 * range). See the README for the error bound.
 */
export type Compression = 'none' | 'fp16' | 'bf16';

/** Default chunk size: the unit that is sent, received and reduced while the next one travels (measured). */
export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Default stall timeout of an operation. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** Options of a ring over any transport. */
export interface CollectiveOptions {
  /** The run the ring belongs to; every message carries it and is checked against it. */
  runId: string;
  /** Ring generation, ≥ 1 (bumped each time the coordinator re-forms the ring). @default 1 */
  generation?: number;
  /**
   * Largest chunk in bytes of float32 data: big buffers are cut into chunks that are pipelined so that sending,
   * receiving and reducing overlap. @default 1 MiB ({@link DEFAULT_CHUNK_BYTES})
   */
  chunkBytes?: number;
  /**
   * An operation that makes no progress for this long (nothing received from the left neighbour, nothing
   * accepted by the right one) fails with `CollectiveTimeoutError` and fails the ring. @default 60 000
   */
  timeoutMs?: number;
  /** Default wire compression of `allReduce` (never used by `broadcast`). @default 'none' */
  compression?: Compression;
  /** Tracer for one span per operation. @default getTracer() of `@supwalsh/telemetry` */
  tracer?: Tracer;
  /** Meter for the bytes, duration and bandwidth metrics. @default getMeter() of `@supwalsh/telemetry` */
  meter?: Meter;
}

export interface AllReduceOptions {
  /** @default 'sum' */
  op?: ReduceOp;
  /** @default the ring's `compression` */
  compression?: Compression;
  /**
   * Training step whose gradients this reduces (1-based; 0 outside a step). Every message carries it and every
   * rank checks it against its own, so ranks that disagree on the step fail instead of mixing gradients.
   * @default 0
   */
  step?: number;
}
