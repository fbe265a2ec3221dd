import { describe, expect, it } from 'vitest';
import { imageBatch, labelBatch } from './batch.js';
import { DatasetArgumentError } from './errors.js';
import type { ImageSet } from './load.js';

/** A 3-image set of 2×2 pixels: image i holds i·10 + p. */
const set: ImageSet = {
  kind: 'mnist',
  split: 'test',
  length: 3,
  height: 2,
  width: 2,
  channels: 1,
  numClasses: 10,
  classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  pixels: Uint8Array.from([0, 1, 2, 3, 10, 11, 12, 13, 255, 21, 22, 23]),
  resizeRoute: 'pil',
  labels: Uint8Array.from([7, 2, 9]),
  source: 'memory',
};

describe('imageBatch', () => {
  it('gathers the images at the indices, channel-last, scaled to [0, 1] or kept in [0, 255]', () => {
    expect(Array.from(imageBatch(set, [2, 0], 'raw255'))).toEqual([255, 21, 22, 23, 0, 1, 2, 3]);
    const unit = imageBatch(set, Uint32Array.from([2, 1]), 'unit');
    expect(unit).toHaveLength(8);
    expect(unit[0]).toBe(1);
    expect(unit[4]).toBe(Math.fround(10 / 255));
    expect(imageBatch(set, [], 'unit')).toHaveLength(0);
  });

  it('writes into out when it is long enough and returns a view of its first part', () => {
    const out = new Float32Array(12).fill(-1);
    const result = imageBatch(set, [1], 'raw255', out);
    expect(result.buffer).toBe(out.buffer);
    expect(Array.from(result)).toEqual([10, 11, 12, 13]);
    expect(out[4]).toBe(-1);
    const short = new Float32Array(3);
    expect(imageBatch(set, [1], 'raw255', short).buffer).not.toBe(short.buffer);
  });

  it('rejects indices outside the set, naming the position and the valid range', () => {
    expect(() => imageBatch(set, [0, 3], 'unit')).toThrow(DatasetArgumentError);
    expect(() => imageBatch(set, [0, 3], 'unit')).toThrow(
      'imageBatch: indices[1] must be an integer sample index in [0, 3); got 3'
    );
    expect(() => imageBatch(set, [-1], 'unit')).toThrow(
      'imageBatch: indices[0] must be an integer sample index in [0, 3); got -1'
    );
    expect(() => imageBatch(set, [0.5], 'unit')).toThrow(/indices\[0\] .* got 0\.5/);
    expect(() => imageBatch(set, null as never, 'unit')).toThrow(
      'imageBatch: indices must be an array or typed array of sample indices; got null'
    );
  });

  it('rejects an unknown scale, a wrong out and something that is not an ImageSet', () => {
    expect(() => imageBatch(set, [0], 'percent' as never)).toThrow(
      'imageBatch: scale must be one of unit, raw255; got "percent"'
    );
    expect(() => imageBatch(set, [0], 'unit', new Float64Array(4) as never)).toThrow(
      'imageBatch: out must be a Float32Array or undefined'
    );
    expect(() => imageBatch({ ...set, length: 4 }, [0], 'unit')).toThrow(
      'imageBatch: set must be an ImageSet from loadDataset'
    );
  });
});

describe('labelBatch', () => {
  it('gathers the labels at the indices as int32, into out when it is long enough', () => {
    expect(Array.from(labelBatch(set, [2, 2, 0]))).toEqual([9, 9, 7]);
    const out = new Int32Array(5);
    const result = labelBatch(set, [1], out);
    expect(result.buffer).toBe(out.buffer);
    expect(Array.from(result)).toEqual([2]);
  });

  it('rejects indices outside the set', () => {
    expect(() => labelBatch(set, [5], undefined)).toThrow(
      'labelBatch: indices[0] must be an integer sample index in [0, 3); got 5'
    );
    expect(() => labelBatch(set, [0], new Uint8Array(2) as never)).toThrow(
      'labelBatch: out must be an Int32Array or undefined'
    );
  });
});
