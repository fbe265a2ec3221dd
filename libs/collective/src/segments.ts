/** A contiguous range of a buffer, in elements. */
export interface Region {
  offset: number;
  length: number;
}

/**
 * Splits `length` elements into `parts` contiguous segments whose sizes differ by at most one (the first
 * `length % parts` segments get the extra element). Segments may be empty when `length < parts`.
 */
export function partition(length: number, parts: number): Region[] {
  const base = Math.floor(length / parts);
  const extra = length % parts;
  const regions: Region[] = [];
  let offset = 0;
  for (let k = 0; k < parts; k++) {
    const size = base + (k < extra ? 1 : 0);
    regions.push({ offset, length: size });
    offset += size;
  }
  return regions;
}

/** Cuts a region into chunks of at most `chunkLength` elements (none for an empty region). */
export function chunksOf(region: Region, chunkLength: number): Region[] {
  const chunks: Region[] = [];
  for (let start = 0; start < region.length; start += chunkLength) {
    chunks.push({ offset: region.offset + start, length: Math.min(chunkLength, region.length - start) });
  }
  return chunks;
}
