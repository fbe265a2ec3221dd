import { CollectiveOp, DataType, SendChunksRequest } from '@supwalsh/proto';
import type { ChunkKind, RingMessage, WireEncoding } from './communicator.js';

const OP_OF_KIND: Record<ChunkKind, CollectiveOp> = {
  reduce_scatter: CollectiveOp.COLLECTIVE_OP_REDUCE_SCATTER,
  all_gather: CollectiveOp.COLLECTIVE_OP_ALL_GATHER,
  broadcast: CollectiveOp.COLLECTIVE_OP_BROADCAST,
  barrier: CollectiveOp.COLLECTIVE_OP_BARRIER,
};
const KIND_OF_OP = new Map<number, ChunkKind>(Object.entries(OP_OF_KIND).map(([kind, op]) => [op, kind as ChunkKind]));
const DTYPE_OF_ENCODING: Record<WireEncoding, DataType> = {
  f32: DataType.DATA_TYPE_FLOAT32,
  f16: DataType.DATA_TYPE_FLOAT16,
  bf16: DataType.DATA_TYPE_BFLOAT16,
};
const ENCODING_OF_DTYPE = new Map<number, WireEncoding>(
  Object.entries(DTYPE_OF_ENCODING).map(([encoding, dtype]) => [dtype, encoding as WireEncoding])
);

/** Thrown by {@link fromRequest} when a field of a received chunk has a value this version does not know. */
export class WireFieldError extends Error {
  override readonly name = 'WireFieldError';
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly actual: string
  ) {
    super(`${field} is ${actual}, expected ${expected}`);
  }
}

/** A ring message as the v1 `SendChunksRequest` (`data` stays a view). */
export function toRequest(m: RingMessage): SendChunksRequest {
  return {
    runId: m.runId,
    generation: m.generation,
    operation: m.sequence,
    step: m.phaseStep,
    op: OP_OF_KIND[m.kind],
    sourceRank: m.senderRank,
    rootRank: m.rootRank,
    ringStep: m.ringStep,
    chunkIndex: m.chunk,
    elementOffset: m.offset,
    elementCount: m.length,
    dtype: DTYPE_OF_ENCODING[m.encoding],
    totalElements: m.totalLength,
    lastChunk: m.lastChunk,
    data: m.data,
    failedRank: 0,
    abortReason: '',
  };
}

/** A received `SendChunksRequest` as a ring message; throws {@link WireFieldError} on an unknown op or dtype. */
export function fromRequest(r: SendChunksRequest): RingMessage {
  const kind = KIND_OF_OP.get(r.op);
  if (!kind) throw new WireFieldError('op', 'REDUCE_SCATTER, ALL_GATHER, BROADCAST or BARRIER', String(r.op));
  const encoding = ENCODING_OF_DTYPE.get(r.dtype);
  if (!encoding) throw new WireFieldError('dtype', 'FLOAT32, FLOAT16 or BFLOAT16', String(r.dtype));
  return {
    runId: r.runId,
    generation: r.generation,
    sequence: r.operation,
    phaseStep: r.step,
    kind,
    senderRank: r.sourceRank,
    rootRank: r.rootRank,
    ringStep: r.ringStep,
    chunk: r.chunkIndex,
    lastChunk: r.lastChunk,
    offset: r.elementOffset,
    length: r.elementCount,
    totalLength: r.totalElements,
    encoding,
    data: r.data,
  };
}

/** The ABORT message a failing rank sends to its right neighbour before cancelling its stream. */
export function abortRequest(
  runId: string,
  generation: number,
  sourceRank: number,
  failedRank: number,
  reason: string
): SendChunksRequest {
  return {
    runId,
    generation,
    operation: 0,
    step: 0,
    op: CollectiveOp.COLLECTIVE_OP_ABORT,
    sourceRank,
    rootRank: 0,
    ringStep: 0,
    chunkIndex: 0,
    elementOffset: 0,
    elementCount: 0,
    dtype: DataType.DATA_TYPE_UNSPECIFIED,
    totalElements: 0,
    lastChunk: false,
    data: new Uint8Array(0),
    failedRank,
    abortReason: reason.slice(0, 1024),
  };
}

/** Tag of `data` (field 15, length-delimited) in a SendChunksRequest. */
const DATA_TAG = (15 << 3) | 2;
/**
 * Where a message's first byte lands, modulo 4, in the buffer grpc-js hands the deserializer: grpc-js 1.14
 * reassembles each message with `Buffer.concat` into a new (8-byte aligned) buffer and strips the 5-byte frame
 * header.
 */
const RECEIVED_MESSAGE_OFFSET = 5;

/** Writes `value` as a varint of exactly `bytes` bytes (over-long encodings are valid protobuf). */
function writeVarint(out: Uint8Array, at: number, value: number, bytes: number): number {
  for (let i = 0; i < bytes - 1; i++) {
    out[at++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Bytes of the gRPC message prefix: compressed flag (1) and big-endian message length (4). */
export const GRPC_PREFIX_BYTES = 5;

/**
 * The bytes of a SendChunksRequest up to its payload, and the payload itself (a view, not copied): the message
 * is `head` (minus `prefixBytes`) followed by `data`. Valid protobuf: the fields other than `data` come from the
 * generated encoder, then `data` as field 15 (field order is free in protobuf). The tag and length varints of
 * `data` are written over-long where needed (valid: parsers read varints up to their maximal length) so that
 * the payload lands 4-byte aligned on a grpc-js receiver and decodes as a Float32Array view without a copy.
 * With `prefixBytes` = {@link GRPC_PREFIX_BYTES}, `head` starts with the gRPC length prefix of the message.
 */
export function encodeChunkHead(
  request: SendChunksRequest,
  prefixBytes: 0 | typeof GRPC_PREFIX_BYTES = 0
): { head: Buffer; data: Uint8Array } {
  const data = request.data;
  const fields = SendChunksRequest.encode({ ...request, data: EMPTY }).finish();
  const size = data.byteLength;
  let tagBytes = 0;
  let lengthBytes = 0;
  if (size > 0) {
    const minimal = varintLength(size);
    tagBytes = 1;
    lengthBytes = minimal;
    while ((RECEIVED_MESSAGE_OFFSET + fields.length + tagBytes + lengthBytes) % 4 !== 0) {
      if (lengthBytes < 5) lengthBytes++;
      else {
        tagBytes++;
        lengthBytes = minimal;
      }
    }
  }
  const headBytes = prefixBytes + fields.length + tagBytes + lengthBytes;
  const head = Buffer.allocUnsafe(headBytes);
  if (prefixBytes) {
    head[0] = 0; // not compressed
    head.writeUInt32BE(headBytes - prefixBytes + size, 1);
  }
  head.set(fields, prefixBytes);
  if (size > 0) {
    const at = writeVarint(head, prefixBytes + fields.length, DATA_TAG, tagBytes);
    writeVarint(head, at, size, lengthBytes);
  }
  return { head, data };
}

/**
 * Serializes a SendChunksRequest into one Buffer with a single copy of `data` (the layout of
 * {@link encodeChunkHead}) — the grpc-js data path. ts-proto's `encode().finish()` plus grpc-js's `Buffer.from`
 * copy the payload three times; see the README for what this saved.
 */
export function serializeChunk(
  request: SendChunksRequest,
  allocate: (bytes: number) => Buffer = (bytes) => Buffer.allocUnsafeSlow(bytes)
): Buffer {
  const { head, data } = encodeChunkHead(request);
  const total = head.length + data.byteLength;
  const out = allocate(total).subarray(0, total);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

const EMPTY = new Uint8Array(0);
