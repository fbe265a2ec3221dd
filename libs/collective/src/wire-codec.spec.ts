import { CollectiveOp, DataType, SendChunksRequest } from '@supwalsh/proto';
import { describe, expect, it } from 'vitest';
import type { RingMessage } from './communicator.js';
import {
  abortRequest,
  encodeChunkHead,
  fromRequest,
  GRPC_PREFIX_BYTES,
  serializeChunk,
  toRequest,
  WireFieldError,
} from './wire-codec.js';

const message = (bytes: number, runId = 'run-1'): RingMessage => ({
  runId,
  generation: 3,
  sequence: 17,
  phaseStep: 250,
  kind: 'all_gather',
  senderRank: 2,
  rootRank: 0,
  ringStep: 1,
  chunk: 6,
  lastChunk: true,
  offset: 123_456_789,
  length: bytes / 4,
  totalLength: 987_654_321,
  encoding: 'f32',
  data: Uint8Array.from({ length: bytes }, (_, i) => (i * 31) & 0xff),
});

/** What grpc-js hands the deserializer: the message after a 5-byte frame header, in a fresh buffer. */
const received = (serialized: Buffer) => Buffer.concat([Buffer.alloc(5), serialized]).subarray(5);

describe('the SendChunks wire codec', () => {
  it('frames a message for the http2 data path as the gRPC prefix and head, then the payload view uncopied', () => {
    for (const bytes of [0, 4, 1 << 20]) {
      for (const runId of ['r', 'x'.repeat(300)]) {
        const m = message(bytes, runId);
        const { head, data } = encodeChunkHead(toRequest(m), GRPC_PREFIX_BYTES);
        expect(data).toBe(m.data);
        const frame = Buffer.concat([head, data]);
        expect(frame[0]).toBe(0); // not compressed
        expect(frame.readUInt32BE(1)).toBe(frame.length - GRPC_PREFIX_BYTES);
        // the same bytes as the grpc-js data path's message, so receivers cannot tell the paths apart
        expect(frame.subarray(GRPC_PREFIX_BYTES).equals(serializeChunk(toRequest(m)))).toBe(true);
        if (bytes > 0) expect(head.length % 4).toBe(0); // payload 4-byte aligned after grpc-js strips the prefix
      }
    }
  });

  it('maps ring messages to SendChunksRequest and back without loss', () => {
    const m = message(64);
    expect(fromRequest(SendChunksRequest.decode(SendChunksRequest.encode(toRequest(m)).finish()))).toEqual(m);
  });

  it('serializes with one copy into bytes any protobuf decoder reads, payload 4-byte aligned where it is received', () => {
    for (const bytes of [0, 4, 12, 16_384, 1 << 20, (1 << 20) + 12]) {
      for (const runId of ['r', 'run-12', 'x'.repeat(300)]) {
        const m = message(bytes, runId);
        const decoded = SendChunksRequest.decode(received(serializeChunk(toRequest(m))));
        const { data, ...fields } = fromRequest(decoded);
        const { data: sent, ...expected } = m;
        expect(fields).toEqual(expected);
        expect(Buffer.compare(Buffer.from(data), Buffer.from(sent))).toBe(0);
        if (bytes > 0) expect(decoded.data.byteOffset % 4).toBe(0);
      }
    }
  });

  it('refuses chunks whose op or dtype this version does not know', () => {
    const r = toRequest(message(4));
    expect(() => fromRequest({ ...r, op: CollectiveOp.COLLECTIVE_OP_UNSPECIFIED })).toThrow(WireFieldError);
    expect(() => fromRequest({ ...r, dtype: DataType.DATA_TYPE_INT32 })).toThrow(/dtype is 4/);
  });

  it('builds the ABORT message naming the failed rank', () => {
    expect(abortRequest('run-1', 2, 3, 1, 'x'.repeat(2000))).toMatchObject({
      op: CollectiveOp.COLLECTIVE_OP_ABORT,
      sourceRank: 3,
      failedRank: 1,
      abortReason: 'x'.repeat(1024),
    });
  });
});
