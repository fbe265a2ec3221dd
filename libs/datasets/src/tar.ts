import { DatasetFormatError } from './errors.js';

/** One regular file of a tar archive (its bytes are a view into the archive). */
export interface TarEntry {
  readonly name: string;
  readonly data: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

function field(header: Uint8Array, offset: number, length: number): string {
  const bytes = header.subarray(offset, offset + length);
  const end = bytes.indexOf(0);
  return decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

function octal(header: Uint8Array, offset: number, length: number, archive: string, what: string): number {
  const text = field(header, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) {
    throw new DatasetFormatError(archive, `tar header field ${what} is not octal (${JSON.stringify(text)})`);
  }
  return text === '' ? 0 : parseInt(text, 8);
}

/** Reads the `path` record of a pax extended header, if it has one. */
function paxPath(data: Uint8Array): string | undefined {
  const text = decoder.decode(data);
  let at = 0;
  while (at < text.length) {
    const space = text.indexOf(' ', at);
    if (space === -1) break;
    const length = parseInt(text.slice(at, space), 10);
    if (!(length > 0)) break;
    const record = text.slice(space + 1, at + length - 1);
    if (record.startsWith('path=')) return record.slice(5);
    at += length;
  }
  return undefined;
}

/**
 * Lists the regular files of an (uncompressed) ustar / GNU / pax tar archive held in memory: 512-byte headers, sizes
 * in octal, data padded to 512 bytes, two zero blocks at the end. GNU long names (`L`) and pax `path` records are
 * honoured; directories, links and other entries are skipped. Header checksums are verified.
 */
export function readTar(bytes: Uint8Array, archive: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= bytes.length) {
    const header = bytes.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return entries; // end of archive
    const stored = octal(header, 148, 8, archive, 'chksum');
    // The checksum counts the field itself as spaces; some old writers summed signed bytes, so accept either.
    let sum = 0;
    let signed = 0;
    for (let i = 0; i < BLOCK; i++) {
      const b = i >= 148 && i < 156 ? 0x20 : header[i]!;
      sum += b;
      signed += b > 127 ? b - 256 : b;
    }
    if (sum !== stored && signed !== stored) {
      throw new DatasetFormatError(archive, `tar header at byte ${offset} has checksum ${stored}, computed ${sum}`);
    }
    const size = octal(header, 124, 12, archive, 'size');
    const type = String.fromCharCode(header[156]!);
    const prefix = field(header, 257, 6) === 'ustar' ? field(header, 345, 155) : '';
    const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    const dataStart = offset + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new DatasetFormatError(
        archive,
        `is truncated: tar member ${name} needs ${size} bytes past byte ${dataStart}`
      );
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    longName = undefined;
    if (type === 'L') longName = field(data, 0, data.length);
    else if (type === 'x') longName = paxPath(data);
    else if (type === '0' || type === '\0' || type === '7') entries.push({ name, data });
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  if (offset !== bytes.length)
    throw new DatasetFormatError(archive, `is truncated inside a tar header at byte ${offset}`);
  return entries; // no end-of-archive blocks: accepted, as GNU tar does with a warning
}
