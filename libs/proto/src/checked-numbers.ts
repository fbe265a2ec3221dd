import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

/**
 * Checked conversions between the wire's integers and JavaScript numbers. With ts-proto's `forceLong=number`,
 * 64-bit integers are `number`s: decoding a uint64 above `Number.MAX_SAFE_INTEGER` throws a message naming no field,
 * and encoding 2.5 or -3 into a uint32 throws "invalid uint32". These helpers run the generated codecs with a
 * reader or writer that notes the bad value instead, then find the field it landed in, so that the error names the
 * field's path (`spec.limits.experiment_timeout_seconds`) — on the server (INVALID_ARGUMENT) and in the SDK (before
 * anything is sent).
 */

/** A ts-proto message type (its codec). */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
}

/** Thrown when a message holds a number its field cannot carry; `path` is the field in proto names. */
export class WireNumberError extends Error {
  override readonly name = 'WireNumberError';
  constructor(
    /** The field's path in proto (snake_case) names, `spec.training.epochs`, `reports[0].sequence`. */
    readonly path: string,
    /** The offending value as text. */
    readonly value: string,
    message: string
  ) {
    super(message);
  }
}

/** Thrown when bytes are not a valid message of the type (truncated, wrong wire type, bad UTF-8). */
export class WireDecodeError extends Error {
  override readonly name = 'WireDecodeError';
}

/**
 * Stands in for a bad number so that it can be found in the decoded message: -5e-324 (the negative denormal
 * nearest 0) is never an integer, so no integer field holds it legitimately. A double field could, but that only
 * affects which path an error names.
 */
const DECODE_MARK = -5e-324;
/** Stands in for a bad uint32 / int32 / uint64 while encoding; found again by decoding. */
const ENCODE_MARK_32 = 0xdeadbeef;
const ENCODE_MARK_64 = 0x1deadbeefcafe; // < 2^53

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The paths, in proto names, of the values of `value` that equal `mark` (oneof `$case` names the field). */
function findMark(value: unknown, mark: number, path: string, out: string[]): void {
  if (typeof value === 'number') {
    if (Object.is(value, mark)) out.push(path);
    return;
  }
  if (value === null || typeof value !== 'object' || value instanceof Date || value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => findMark(item, mark, `${path}[${i}]`, out));
    return;
  }
  const record = value as Record<string, unknown>;
  if (typeof record['$case'] === 'string' && 'value' in record) {
    findMark(record['value'], mark, path ? `${path}.${snake(record['$case'])}` : snake(record['$case']), out);
    return;
  }
  for (const [key, item] of Object.entries(record)) {
    findMark(item, mark, path ? `${path}.${snake(key)}` : snake(key), out);
  }
}

/** A reader that returns {@link DECODE_MARK} for a 64-bit integer beyond ±(2^53 − 1) and remembers its value. */
class CheckedReader extends BinaryReader {
  readonly unsafe: string[] = [];
  override uint64(): bigint {
    return this.check(super.uint64());
  }
  override int64(): bigint {
    return this.check(super.int64());
  }
  private check(value: bigint | string): bigint {
    const n = BigInt(value);
    if (n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER)) return n;
    this.unsafe.push(n.toString());
    // ts-proto's longToNumber calls toString(): the mark passes its range check and lands in the field.
    return { toString: () => String(DECODE_MARK) } as unknown as bigint;
  }
}

/**
 * Decodes `bytes` as `codec`'s message. Throws {@link WireNumberError} naming the field (under `root`) of a 64-bit
 * integer beyond `Number.MAX_SAFE_INTEGER` (2^53 − 1), and {@link WireDecodeError} when the bytes are not a valid
 * message.
 */
export function decodeChecked<T>(codec: MessageCodec<T>, bytes: Uint8Array, root = '', typeName = 'message'): T {
  const reader = new CheckedReader(bytes);
  let message: T;
  try {
    message = codec.decode(reader);
  } catch (error: unknown) {
    throw new WireDecodeError(
      `the request is not a valid ${typeName}: ${error instanceof Error ? error.message : String(error)}`
    );
  }
  if (reader.unsafe.length > 0) {
    const paths: string[] = [];
    findMark(message, DECODE_MARK, root, paths);
    const path = paths[0] ?? (root || 'request');
    const value = reader.unsafe[0]!;
    throw new WireNumberError(
      path,
      value,
      `${path} must be at most ${Number.MAX_SAFE_INTEGER} (2^53 - 1), got ${value}`
    );
  }
  return message;
}

/** What a field of each integer kind accepts. */
const KINDS = {
  uint32: {
    ok: (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff,
    range: 'an integer from 0 to 4294967295',
  },
  int32: {
    ok: (v: number) => Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff,
    range: 'an integer from -2147483648 to 2147483647',
  },
  uint64: {
    ok: (v: number) => Number.isSafeInteger(v) && v >= 0,
    range: `an integer from 0 to ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`,
  },
  int64: { ok: (v: number) => Number.isSafeInteger(v), range: `a safe integer (at most 2^53 - 1 in magnitude)` },
} as const;
type IntKind = keyof typeof KINDS;

/** A writer that writes a mark in place of an integer its field cannot hold, and remembers what it replaced. */
class CheckedWriter extends BinaryWriter {
  readonly bad: { kind: IntKind; value: unknown; mark: number }[] = [];
  private checked(kind: IntKind, value: unknown, mark: number): number | undefined {
    if (typeof value === 'number' && KINDS[kind].ok(value)) return undefined;
    if (typeof value === 'bigint' || typeof value === 'string') return undefined; // left to the base writer
    this.bad.push({ kind, value, mark });
    return mark;
  }
  override uint32(value: number): this {
    return super.uint32(this.checked('uint32', value, ENCODE_MARK_32) ?? value);
  }
  override int32(value: number): this {
    return super.int32(this.checked('int32', value, ENCODE_MARK_32) ?? value);
  }
  override uint64(value: string | number | bigint): this {
    return super.uint64(this.checked('uint64', value, ENCODE_MARK_64) ?? value);
  }
  override int64(value: string | number | bigint): this {
    return super.int64(this.checked('int64', value, ENCODE_MARK_64) ?? value);
  }
}

const describe = (value: unknown): string =>
  typeof value === 'number'
    ? String(value)
    : value === undefined
      ? 'nothing'
      : `${typeof value} ${JSON.stringify(value)}`;

/**
 * Checks that `message` can be encoded as `codec`'s message without losing or refusing a number: every uint32 /
 * int32 an integer in range, every uint64 / int64 a safe integer. Throws {@link WireNumberError} naming the first
 * bad field's path under `root` (`spec.training.epochs must be an integer from 0 to 4294967295, got 2.5`).
 * Enum values are int32 too; whether a value is a known one is the validators' business.
 */
export function checkEncodable<T>(codec: MessageCodec<T>, message: T, root = ''): void {
  const writer = new CheckedWriter();
  codec.encode(message, writer);
  const first = writer.bad[0];
  if (!first) return;
  const decoded = codec.decode(writer.finish());
  const paths: string[] = [];
  findMark(decoded, first.mark, root, paths);
  const path = paths[0] ?? (root || 'message');
  const value = describe(first.value);
  throw new WireNumberError(path, value, `${path} must be ${KINDS[first.kind].range}, got ${value}`);
}
