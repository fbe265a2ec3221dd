import { describe, expect, it } from 'vitest';
import { duration, percent, progressBar } from './progress-text.js';

describe('progress text', () => {
  it('formats durations as m:ss and h:mm:ss', () => {
    expect([duration(0), duration(59.6), duration(61), duration(3725)]).toEqual(['0:00', '1:00', '1:01', '1:02:05']);
  });

  it('draws a 20-wide bar, clamped to [0, 1], and percentages with two decimals', () => {
    expect(progressBar(0.25)).toBe(`[${'#'.repeat(5)}${'.'.repeat(15)}]`);
    expect([progressBar(-1), progressBar(2)]).toEqual([`[${'.'.repeat(20)}]`, `[${'#'.repeat(20)}]`]);
    expect(percent(0.81234)).toBe('81.23%');
  });
});
