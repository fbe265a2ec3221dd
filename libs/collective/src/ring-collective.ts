import type { Counter, Histogram, Tracer } from '@opentelemetry/api';
import { ATTR, getMeter, getTracer, METRIC_NAMES, SPAN_NAMES, withSpan } from '@supwalsh/telemetry';
import {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_TIMEOUT_MS,
  type AllReduceOptions,
  type CollectiveOptions,
  type Compression,
} from './collective-options.js';
import {
  BYTES_PER_ELEMENT,
  type ChunkKind,
  type Communicator,
  type RingMessage,
  type RingOperation,
  type WireEncoding,
} from './communicator.js';
import {
  CollectiveArgumentError,
  CollectiveClosedError,
  CollectiveProtocolError,
  CollectiveTimeoutError,
  PeerFailedError,
  toError,
} from './errors.js';
import { decodeHalf, encodeHalf } from './half-precision.js';
import { chunksOf, partition, type Region } from './segments.js';

/**
 * Lifecycle of a ring:
 * - `RUNNING`: operations may be called;
 * - `FAILED`: a peer failed, a message was rejected or an operation timed out; every pending and later
 *   operation rejects with `failure`, and the coordinator must form a new ring (new generation);
 * - `CLOSED`: `close()` was called.
 */
export type CollectiveState = 'RUNNING' | 'FAILED' | 'CLOSED';

/** Collective operations among the ranks of one ring. Every rank must call the same operations in the same order. */
export interface Collective {
  readonly rank: number;
  readonly worldSize: number;
  readonly runId: string;
  readonly generation: number;
  readonly state: CollectiveState;
  /** The error that failed the ring, once `state` is `FAILED`. */
  readonly failure: Error | undefined;
  /**
   * Sums (or averages) `buffer` element-wise across all ranks, in place, and resolves with it. Every rank ends
   * with the same bits; the same inputs always give the same bits. Several calls may be in flight at once.
   */
  allReduce(buffer: Float32Array, options?: AllReduceOptions): Promise<Float32Array>;
  /** Copies `root`'s buffer into every rank's `buffer` (same length everywhere), in place. */
  broadcast(buffer: Float32Array, root: number): Promise<Float32Array>;
  /** Resolves once every rank has called `barrier`. */
  barrier(): Promise<void>;
  /** Stops the ring: pending operations reject with `CollectiveClosedError`; channels close gracefully. */
  close(): Promise<void>;
}

/** Bucket bounds of `supwalsh.collective.duration`, in seconds: a barrier on loopback to a slow ring's large bucket. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Bucket bounds of the bandwidth histograms, in bytes per second: 1 MB/s to 100 GB/s. */
const BANDWIDTH_BUCKETS = [1e6, 1e7, 5e7, 1e8, 2.5e8, 5e8, 1e9, 2.5e9, 5e9, 1e10, 2.5e10, 5e10, 1e11];

const SPAN_OF: Record<RingOperation, string> = {
  all_reduce: SPAN_NAMES.collectiveAllReduce,
  broadcast: SPAN_NAMES.collectiveBroadcast,
  barrier: SPAN_NAMES.collectiveBarrier,
};
const FN_OF: Record<RingOperation, string> = { all_reduce: 'allReduce', broadcast: 'broadcast', barrier: 'barrier' };
const ENCODING_OF: Record<Compression, WireEncoding> = { none: 'f32', fp16: 'f16', bf16: 'bf16' };
/** How far ahead of this rank (in operations) a left neighbour may be before its messages are refused. */
const MAX_SEQUENCES_AHEAD = 1024;

interface Waiter {
  op: Operation;
  resolve(message: RingMessage): void;
}

/** Where a message belongs within its operation. */
interface Tag {
  kind: ChunkKind;
  ringStep: number;
  chunk: number;
}

/** Book-keeping of one running operation. */
class Operation {
  /** Sends not yet released by the transport, by `kind/ringStep/chunk`. */
  readonly sends = new Map<string, Promise<void>>();
  waitingForLeft = false;
  readonly timer: NodeJS.Timeout;
  constructor(
    readonly sequence: number,
    readonly kind: RingOperation,
    readonly totalLength: number,
    readonly phaseStep: number,
    readonly rootRank: number,
    timeoutMs: number,
    onStall: (op: Operation) => void
  ) {
    this.timer = setTimeout(() => onStall(this), timeoutMs);
  }
  progress(): void {
    this.timer.refresh();
  }
}

const tagKey = (t: Tag) => `${t.kind}/${t.ringStep}/${t.chunk}`;
const key = (sequence: number, t: Tag) => `${sequence}/${tagKey(t)}`;

/** The chunk kinds each operation is made of. */
const KINDS_OF: Record<RingOperation, readonly ChunkKind[]> = {
  all_reduce: ['reduce_scatter', 'all_gather'],
  broadcast: ['broadcast'],
  barrier: ['barrier'],
};
const OPERATION_OF: Record<ChunkKind, RingOperation> = {
  reduce_scatter: 'all_reduce',
  all_gather: 'all_reduce',
  broadcast: 'broadcast',
  barrier: 'barrier',
};

/**
 * The ring algorithms over any {@link Communicator}. See the README for the protocol; the numbered steps are
 * repeated at each algorithm below.
 */
class RingCollective implements Collective {
  readonly rank: number;
  readonly worldSize: number;
  readonly runId: string;
  readonly generation: number;
  state: CollectiveState = 'RUNNING';
  failure: Error | undefined;

  private readonly chunkLength: number;
  private readonly timeoutMs: number;
  private readonly compression: Compression;
  private readonly tracer: Tracer;
  private readonly metrics: {
    bytes: Counter;
    wireBytes: Counter;
    duration: Histogram;
    algbw: Histogram;
    busbw: Histogram;
    errors: Counter;
  };
  private readonly left: number;
  private readonly right: number;

  /** Next operation sequence number (call order; the same on every rank). */
  private nextSequence = 1;
  private readonly active = new Map<number, Operation>();
  /** Messages that arrived before their operation asked for them. */
  private readonly arrived = new Map<string, RingMessage>();
  /** Operations waiting for a message, by tag. */
  private readonly waiting = new Map<string, Waiter>();
  /** The left neighbour closed its channel: nothing more will arrive. */
  private leftEnded = false;
  /** Rejects when the ring fails or closes, so that no operation outlives the ring (never a hang). */
  private readonly stopped: Promise<never>;
  private rejectStopped!: (error: Error) => void;

  constructor(
    private readonly comm: Communicator,
    options: CollectiveOptions
  ) {
    this.rank = comm.rank;
    this.worldSize = comm.worldSize;
    this.runId = options.runId;
    this.generation = options.generation ?? 1;
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 4) {
      throw new CollectiveArgumentError('createCollective', 'chunkBytes', `must be an integer ≥ 4; got ${chunkBytes}`);
    }
    this.chunkLength = Math.floor(chunkBytes / 4);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) {
      throw new CollectiveArgumentError('createCollective', 'timeoutMs', `must be > 0; got ${this.timeoutMs}`);
    }
    this.compression = checkCompression('createCollective', options.compression ?? 'none');
    this.tracer = options.tracer ?? getTracer();
    const meter = options.meter ?? getMeter();
    this.metrics = {
      bytes: meter.createCounter(METRIC_NAMES.collectiveBytes, {
        unit: 'By',
        description: 'Buffer bytes of operations',
      }),
      wireBytes: meter.createCounter(METRIC_NAMES.collectiveWireBytes, { unit: 'By', description: 'Bytes sent' }),
      duration: meter.createHistogram(METRIC_NAMES.collectiveDuration, {
        unit: 's',
        description: 'Operation time',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      }),
      algbw: meter.createHistogram(METRIC_NAMES.collectiveAlgBandwidth, {
        unit: 'By/s',
        description: 'size / time',
        advice: { explicitBucketBoundaries: BANDWIDTH_BUCKETS },
      }),
      busbw: meter.createHistogram(METRIC_NAMES.collectiveBusBandwidth, {
        unit: 'By/s',
        description: 'bus bandwidth',
        advice: { explicitBucketBoundaries: BANDWIDTH_BUCKETS },
      }),
      errors: meter.createCounter(METRIC_NAMES.collectiveErrors, { description: 'Failed operations' }),
    };
    this.left = (this.rank - 1 + this.worldSize) % this.worldSize;
    this.right = (this.rank + 1) % this.worldSize;
    this.stopped = new Promise<never>((_, reject) => (this.rejectStopped = reject));
    this.stopped.catch(() => undefined);
    comm.listen({
      message: (message) => this.deliver(message),
      end: () => this.onLeftEnd(),
      failure: (error) => this.fail(error),
    });
  }

  // ── public operations ────────────────────────────────────────────────────────────────────────────────────

  allReduce(buffer: Float32Array, options: AllReduceOptions = {}): Promise<Float32Array> {
    checkBuffer('allReduce', buffer);
    const op = options.op ?? 'sum';
    if (op !== 'sum' && op !== 'mean') {
      throw new CollectiveArgumentError('allReduce', 'options.op', `must be 'sum' or 'mean'; got ${String(op)}`);
    }
    const compression = checkCompression('allReduce', options.compression ?? this.compression);
    const step = options.step ?? 0;
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new CollectiveArgumentError('allReduce', 'options.step', `must be an integer ≥ 0; got ${step}`);
    }
    return this.run(
      'all_reduce',
      buffer.length,
      step,
      0,
      { [ATTR.collectiveReduceOp]: op, [ATTR.collectiveCompression]: compression },
      (o) => this.ringAllReduce(o, buffer, op === 'mean', ENCODING_OF[compression])
    ).then(() => buffer);
  }

  broadcast(buffer: Float32Array, root: number): Promise<Float32Array> {
    checkBuffer('broadcast', buffer);
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) {
      throw new CollectiveArgumentError(
        'broadcast',
        'root',
        `must be an integer in 0 … ${this.worldSize - 1}; got ${root}`
      );
    }
    return this.run('broadcast', buffer.length, 0, root, { [ATTR.collectiveRoot]: root }, (o) =>
      this.ringBroadcast(o, buffer, root)
    ).then(() => buffer);
  }

  barrier(): Promise<void> {
    return this.run('barrier', 0, 0, 0, {}, (o) => this.ringBarrier(o));
  }

  async close(): Promise<void> {
    if (this.state === 'CLOSED') return;
    const wasRunning = this.state === 'RUNNING';
    this.state = 'CLOSED';
    const error = new CollectiveClosedError('close');
    this.stopAll(error);
    if (wasRunning && this.active.size > 0) this.comm.abort(this.rank, error);
    await this.comm.close();
  }

  // ── the algorithms ───────────────────────────────────────────────────────────────────────────────────────

  /**
   * Ring all-reduce of `buffer` (length L) on n ranks; rank r's neighbours are r−1 (left) and r+1 (right).
   *
   * 1. Cut the buffer into n segments of ⌊L/n⌋ or ⌈L/n⌉ elements (segment k starts where k−1 ends; some are
   *    empty when L < n), and each segment into chunks of at most `chunkBytes`.
   * 2. Reduce-scatter, steps t = 0 … n−2: rank r sends segment (r−t) mod n to the right and receives segment
   *    (r−t−1) mod n from the left, replacing its own values v with `received + v`. All chunks of step 0 are
   *    queued at once; every later chunk is sent the moment the chunk it depends on has been reduced, so
   *    sending, receiving and reducing overlap and the transport paces everything.
   *    Segment k is thus accumulated in the fixed order ((x_k + x_{k+1}) + x_{k+2}) + … + x_{k−1} (ranks mod n)
   *    whatever the timing: the result depends only on the inputs and the world size.
   * 3. After step n−2, rank r holds the final segment (r+1) mod n. For `mean` it divides it by n; with
   *    compression it rounds it to the wire encoding in place, so that its own bits equal what the others will
   *    decode.
   * 4. All-gather, steps t = n−1 … 2n−3 (u = t−n+1): rank r sends segment (r+1−u) mod n and receives segment
   *    (r−u) mod n, copying it (after the transport has released this rank's own earlier send of that region)
   *    and forwarding the received bytes unchanged. Every rank ends with the owners' bits: identical everywhere.
   * 5. The operation resolves once every send has been released by the transport, so the caller may reuse the
   *    buffer at once. Each rank sends and receives 2(n−1)/n · L elements.
   *
   * Every message names (run, generation, sender, sequence, operation, total length, step, chunk, offset,
   * length, encoding); a message that does not match what this rank expects at that tag fails the ring with
   * `CollectiveProtocolError` before anything is reduced.
   */
  private async ringAllReduce(
    op: Operation,
    buffer: Float32Array,
    mean: boolean,
    encoding: WireEncoding
  ): Promise<void> {
    const n = this.worldSize;
    const r = this.rank;
    const length = buffer.length;
    if (n === 1 || length === 0) return; // x / 1 is x: nothing to do for a mean either
    const mod = (k: number) => ((k % n) + n) % n;
    const segments = partition(length, n);
    const chunks = segments.map((s) => chunksOf(s, this.chunkLength));
    const lastStep = 2 * (n - 1) - 1;
    // Steps t = 0 … 2n−3 run the reduce-scatter's ring steps 0 … n−2, then the all-gather's.
    const tag = (t: number, chunk: number): Tag =>
      t < n - 1 ? { kind: 'reduce_scatter', ringStep: t, chunk } : { kind: 'all_gather', ringStep: t - (n - 1), chunk };
    const recvSegment = (t: number) => (t < n - 1 ? mod(r - t - 1) : mod(r - (t - (n - 1))));

    // Step 2, t = 0: this rank's own segment r, as it is.
    const own = chunks[r]!;
    own.forEach((region, c) =>
      this.send(op, tag(0, c), c === own.length - 1, region, encodeRegion(buffer, region, encoding), encoding)
    );
    for (let t = 0; t <= lastStep; t++) {
      const segmentChunks = chunks[recvSegment(t)]!;
      for (let c = 0; c < segmentChunks.length; c++) {
        const region = segmentChunks[c]!;
        const last = c === segmentChunks.length - 1;
        const message = await this.take(op, tag(t, c), last, region, encoding);
        const target = buffer.subarray(region.offset, region.offset + region.length);
        if (t < n - 1) {
          // Step 2: received partial sum + own values.
          accumulate(message, target);
          if (t < n - 2) {
            this.send(op, tag(t + 1, c), last, region, encodeRegion(buffer, region, encoding), encoding);
          } else {
            // Step 3: this rank owns the final values of the segment.
            if (mean) for (let i = 0; i < target.length; i++) target[i] = target[i]! / n;
            const data = encodeRegion(buffer, region, encoding);
            if (encoding !== 'f32') decodeHalf(encoding, halfView(data), target, false);
            this.send(op, tag(t + 1, c), last, region, data, encoding);
          }
        } else {
          // Step 4: copy the final values (once this rank's own send of the region is released), forward them.
          const ownSend = op.sends.get(tagKey(tag(t - (n - 1), c)));
          if (ownSend) await ownSend;
          copyInto(message, target);
          if (t < lastStep) this.send(op, tag(t + 1, c), last, region, message.data, encoding);
        }
      }
    }
    await this.allSent(op);
  }

  /**
   * Pipelined ring broadcast from `root`: rank r sits at position p = (r − root) mod n along the ring.
   *
   * 1. The root (p = 0) cuts the buffer into chunks and queues them all.
   * 2. Rank p ≥ 1 receives chunk c, copies it into its buffer and, unless it is the last rank before the root
   *    (p = n−1), forwards the received bytes. Chunks stream down the ring one behind the other, so the time is
   *    that of one pass of the buffer plus n−2 chunk hops. (Each rank receives every chunk once, so the ring
   *    step is always 0.)
   * 3. Each rank resolves once its own sends have been released by the transport.
   */
  private async ringBroadcast(op: Operation, buffer: Float32Array, root: number): Promise<void> {
    const n = this.worldSize;
    if (n === 1 || buffer.length === 0) return;
    const position = (this.rank - root + n) % n;
    const chunks = chunksOf({ offset: 0, length: buffer.length }, this.chunkLength);
    const tag = (chunk: number): Tag => ({ kind: 'broadcast', ringStep: 0, chunk });
    for (let c = 0; c < chunks.length; c++) {
      const region = chunks[c]!;
      const last = c === chunks.length - 1;
      if (position === 0) {
        this.send(op, tag(c), last, region, encodeRegion(buffer, region, 'f32'));
      } else {
        const message = await this.take(op, tag(c), last, region, 'f32');
        copyInto(message, buffer.subarray(region.offset, region.offset + region.length));
        if (position < n - 1) this.send(op, tag(c), last, region, message.data);
      }
    }
    await this.allSent(op);
  }

  /**
   * Ring barrier: a token goes twice round the ring, starting at rank 0.
   *
   * 1. Rank 0, on entering, sends the lap-0 token to the right.
   * 2. Every other rank, once it has entered and received the lap-0 token, passes it on. When it is back at
   *    rank 0, every rank has entered.
   * 3. Rank 0 then sends the lap-1 token; every other rank passes it on and leaves the barrier, rank 0 leaves
   *    when the token is back (so no message is left over).
   */
  private async ringBarrier(op: Operation): Promise<void> {
    if (this.worldSize === 1) return;
    const empty: Region = { offset: 0, length: 0 };
    const token = (lap: number): Tag => ({ kind: 'barrier', ringStep: lap, chunk: 0 });
    for (const lap of [0, 1]) {
      if (this.rank === 0) this.send(op, token(lap), true, empty, new Uint8Array(0));
      await this.take(op, token(lap), true, empty, 'f32');
      if (this.rank !== 0) this.send(op, token(lap), true, empty, new Uint8Array(0));
    }
    await this.allSent(op);
  }

  // ── operations, messages, failures ──────────────────────────────────────────────────────────────────────

  private run(
    kind: RingOperation,
    totalLength: number,
    phaseStep: number,
    rootRank: number,
    attributes: Record<string, string | number>,
    body: (op: Operation) => Promise<void>
  ): Promise<void> {
    const fn = FN_OF[kind];
    if (this.state === 'CLOSED') return Promise.reject(new CollectiveClosedError(fn));
    if (this.state === 'FAILED') return Promise.reject(this.failure);
    const sequence = this.nextSequence++;
    const op = new Operation(sequence, kind, totalLength, phaseStep, rootRank, this.timeoutMs, (o) => this.onStall(o));
    this.active.set(sequence, op);
    const bytes = totalLength * 4;
    const metricAttributes = {
      [ATTR.collectiveOperation]: kind,
      [ATTR.collectiveTransport]: this.comm.transport,
      [ATTR.worldSize]: this.worldSize,
      ...attributes,
    };
    const spanAttributes = {
      ...metricAttributes,
      [ATTR.rank]: this.rank,
      [ATTR.runId]: this.runId,
      [ATTR.generation]: this.generation,
      [ATTR.collectiveSequence]: sequence,
      [ATTR.collectiveBytes]: bytes,
    };
    return withSpan(this.tracer, SPAN_OF[kind], spanAttributes, async () => {
      const start = performance.now();
      try {
        await Promise.race([body(op), this.stopped]);
      } catch (error: unknown) {
        this.metrics.errors.add(1, { ...metricAttributes, [ATTR.errorType]: toError(error).name });
        throw error;
      } finally {
        clearTimeout(op.timer);
        this.active.delete(sequence);
        for (const [k, message] of this.arrived) if (message.sequence === sequence) this.arrived.delete(k);
      }
      const seconds = (performance.now() - start) / 1000;
      this.metrics.duration.record(seconds, metricAttributes);
      if (bytes > 0) {
        const n = this.worldSize;
        const algbw = bytes / seconds;
        const factor = kind === 'all_reduce' ? (2 * (n - 1)) / n : (n - 1) / n;
        this.metrics.bytes.add(bytes, metricAttributes);
        this.metrics.algbw.record(algbw, metricAttributes);
        this.metrics.busbw.record(algbw * factor, metricAttributes);
      }
    });
  }

  /** Queues one chunk to the right neighbour; a failed send fails the ring. */
  private send(
    op: Operation,
    tag: Tag,
    lastChunk: boolean,
    region: Region,
    data: Uint8Array,
    encoding: WireEncoding = 'f32'
  ): void {
    const message: RingMessage = {
      runId: this.runId,
      generation: this.generation,
      sequence: op.sequence,
      phaseStep: op.phaseStep,
      kind: tag.kind,
      senderRank: this.rank,
      rootRank: op.rootRank,
      ringStep: tag.ringStep,
      chunk: tag.chunk,
      lastChunk,
      offset: region.offset,
      length: region.length,
      totalLength: op.totalLength,
      encoding,
      data,
    };
    const k = tagKey(tag);
    const sent = this.comm.send(message).then(
      () => {
        op.progress();
        op.sends.delete(k);
        this.metrics.wireBytes.add(data.byteLength, { [ATTR.collectiveTransport]: this.comm.transport });
      },
      (error: unknown) => {
        op.sends.delete(k);
        this.fail(
          error instanceof PeerFailedError
            ? error
            : new PeerFailedError(this.right, this.comm.peerAddress(this.right), 'send failed', { cause: error })
        );
      }
    );
    op.sends.set(k, sent);
  }

  private async allSent(op: Operation): Promise<void> {
    // Each settled send leaves the map (fulfilled or not), so this loop ends.
    while (op.sends.size > 0 && this.state === 'RUNNING') await Promise.all(op.sends.values());
    if (this.state !== 'RUNNING') throw this.failure ?? new CollectiveClosedError(FN_OF[op.kind]);
  }

  /** Resolves with the message of `tag` once it has arrived and matches what the tag should carry. */
  private take(
    op: Operation,
    tag: Tag,
    lastChunk: boolean,
    region: Region,
    encoding: WireEncoding
  ): Promise<RingMessage> {
    const k = key(op.sequence, tag);
    const check = (message: RingMessage) => {
      this.validate(op, message, lastChunk, region, encoding);
      op.progress();
      return message;
    };
    if (this.state !== 'RUNNING') {
      return Promise.reject(this.failure ?? new CollectiveClosedError(FN_OF[op.kind]));
    }
    const ready = this.arrived.get(k);
    if (ready) {
      this.arrived.delete(k);
      return Promise.resolve(check(ready));
    }
    if (this.leftEnded) {
      const error = new PeerFailedError(this.left, this.comm.peerAddress(this.left), 'closed its connection');
      this.fail(error);
      return Promise.reject(error);
    }
    op.waitingForLeft = true;
    return new Promise<RingMessage>((resolve) => {
      this.waiting.set(k, { op, resolve });
    }).then((message) => {
      op.waitingForLeft = false;
      return check(message);
    });
  }

  /** Checks a message against what its tag should carry; throws (and fails the ring) on any difference. */
  private validate(op: Operation, m: RingMessage, lastChunk: boolean, region: Region, encoding: WireEncoding): void {
    const expect = (field: string, actual: string | number | boolean, expected: string | number | boolean) => {
      if (actual !== expected) this.reject(field, String(expected), String(actual));
    };
    expect('phaseStep', m.phaseStep, op.phaseStep);
    expect('rootRank', m.rootRank, op.rootRank);
    expect('totalLength', m.totalLength, op.totalLength);
    expect('offset', m.offset, region.offset);
    expect('length', m.length, region.length);
    expect('lastChunk', m.lastChunk, lastChunk);
    if (region.length > 0) expect('encoding', m.encoding, encoding);
    expect('data.byteLength', m.data.byteLength, m.length * BYTES_PER_ELEMENT[m.encoding]);
  }

  private reject(field: string, expected: string, actual: string): never {
    const error = new CollectiveProtocolError(field, expected, actual, this.left, this.comm.peerAddress(this.left));
    this.fail(error);
    throw error;
  }

  /** Files a message from the left neighbour under its tag, or hands it to the operation waiting for it. */
  private deliver(m: RingMessage): void {
    if (this.state !== 'RUNNING') return;
    try {
      if (m.runId !== this.runId) this.reject('runId', this.runId, m.runId);
      if (m.generation !== this.generation) this.reject('generation', String(this.generation), String(m.generation));
      if (m.senderRank !== this.left) this.reject('senderRank', String(this.left), String(m.senderRank));
      const ahead = this.nextSequence + MAX_SEQUENCES_AHEAD;
      if (!Number.isSafeInteger(m.sequence) || m.sequence < 1 || m.sequence >= ahead) {
        this.reject('sequence', `1 … ${ahead - 1}`, String(m.sequence));
      }
      if (m.sequence < this.nextSequence && !this.active.has(m.sequence)) {
        this.reject('sequence', 'a running or future operation', `${m.sequence} (already finished)`);
      }
      const op = this.active.get(m.sequence);
      if (op && !KINDS_OF[op.kind].includes(m.kind)) {
        this.reject('kind', KINDS_OF[op.kind].join(' or '), m.kind);
      }
      const maxStep = OPERATION_OF[m.kind] === 'all_reduce' ? this.worldSize - 2 : m.kind === 'barrier' ? 1 : 0;
      if (!Number.isInteger(m.ringStep) || m.ringStep < 0 || m.ringStep > maxStep) {
        this.reject('ringStep', `0 … ${maxStep}`, String(m.ringStep));
      }
      const k = key(m.sequence, m);
      const waiter = this.waiting.get(k);
      if (waiter) {
        this.waiting.delete(k);
        waiter.resolve(m);
      } else if (this.arrived.has(k)) {
        this.reject('chunk', 'a chunk not received before', `${m.chunk} of ${m.kind} step ${m.ringStep} again`);
      } else {
        this.arrived.set(k, m);
      }
    } catch {
      // already failed the ring
    }
  }

  private onLeftEnd(): void {
    this.leftEnded = true;
    if (this.waiting.size > 0) {
      this.fail(new PeerFailedError(this.left, this.comm.peerAddress(this.left), 'closed its connection'));
    }
  }

  private onStall(op: Operation): void {
    const peer = op.waitingForLeft ? this.left : this.right;
    this.fail(
      new CollectiveTimeoutError(FN_OF[op.kind], op.sequence, this.timeoutMs, peer, this.comm.peerAddress(peer))
    );
  }

  /** Fails the ring once: every pending and later operation rejects with `error`; the neighbours are told. */
  private fail(error: Error): void {
    if (this.state !== 'RUNNING') return;
    this.state = 'FAILED';
    this.failure = error;
    this.stopAll(error);
    const failedRank = error instanceof PeerFailedError ? error.peerRank : this.rank;
    this.comm.abort(failedRank, error);
  }

  private stopAll(error: Error): void {
    this.rejectStopped(error);
    for (const op of this.active.values()) clearTimeout(op.timer);
    this.waiting.clear();
    this.arrived.clear();
  }
}

// ── helpers ────────────────────────────────────────────────────────────────────────────────────────────────

function checkBuffer(fn: string, buffer: unknown): asserts buffer is Float32Array {
  if (!(buffer instanceof Float32Array)) {
    throw new CollectiveArgumentError(fn, 'buffer', `must be a Float32Array; got ${describe(buffer)}`);
  }
}

function checkCompression(fn: string, compression: Compression): Compression {
  if (compression !== 'none' && compression !== 'fp16' && compression !== 'bf16') {
    throw new CollectiveArgumentError(
      fn,
      'compression',
      `must be 'none', 'fp16' or 'bf16'; got ${String(compression)}`
    );
  }
  return compression;
}

function describe(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? value.constructor.name : typeof value;
}

/** The region's bytes on the wire: a view of the buffer for f32 (no copy), an encoded copy otherwise. */
function encodeRegion(buffer: Float32Array, region: Region, encoding: WireEncoding): Uint8Array {
  if (encoding === 'f32')
    return new Uint8Array(buffer.buffer, buffer.byteOffset + region.offset * 4, region.length * 4);
  const half = new Uint16Array(region.length);
  encodeHalf(encoding, buffer.subarray(region.offset, region.offset + region.length), half);
  return new Uint8Array(half.buffer);
}

function halfView(data: Uint8Array): Uint16Array {
  const aligned = data.byteOffset % 2 === 0 ? data : Uint8Array.prototype.slice.call(data);
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
}

function floatView(data: Uint8Array): Float32Array {
  const aligned = data.byteOffset % 4 === 0 ? data : Uint8Array.prototype.slice.call(data);
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** `target[i] = received[i] + target[i]` (this order: the reduction order of the protocol). */
function accumulate(message: RingMessage, target: Float32Array): void {
  if (message.encoding !== 'f32') {
    decodeHalf(message.encoding, halfView(message.data), target, true);
    return;
  }
  const source = floatView(message.data);
  const n = target.length;
  for (let i = 0; i < n; i++) target[i] = source[i]! + target[i]!;
}

function copyInto(message: RingMessage, target: Float32Array): void {
  if (message.encoding !== 'f32') decodeHalf(message.encoding, halfView(message.data), target, false);
  else new Uint8Array(target.buffer, target.byteOffset, target.byteLength).set(message.data);
}

/** Builds the ring algorithms on a transport. Every rank of the ring calls it with its own communicator. */
export function createCollective(communicator: Communicator, options: CollectiveOptions): Collective {
  return new RingCollective(communicator, options);
}
