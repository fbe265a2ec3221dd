import { describe, expect, it } from 'vitest';
import { CSV_COLUMNS, csvField, toCsv } from './csv.js';
import { experimentFixture, TWO_SEED_RUNS } from './test-fixtures.js';

/** A small RFC 4180 reader, independent of the writer, to check what a spreadsheet would see. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  expect(field, 'the file ends with CRLF').toBe('');
  return rows;
}

describe('toCsv', () => {
  it('writes a header and one row per run and epoch', () => {
    const csv = toCsv(experimentFixture(TWO_SEED_RUNS));
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(1 + 4 * 3);
    expect(rows[1]).toEqual([
      'mnist/base/without/seed-0',
      'mnist',
      'base',
      'without',
      'pytorch-default',
      '0',
      'succeeded',
      '1',
      String(1 - 0.8),
      '0.8',
      String(1.1 - 0.82),
      '0.82',
      '2.5',
    ]);
    expect(rows.every((r) => r.length === CSV_COLUMNS.length)).toBe(true);
  });

  it('quotes fields with commas, quotes and line breaks the RFC 4180 way', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(undefined)).toBe('');
    expect(csvField(NaN)).toBe('NaN');
    const result = experimentFixture([{ arm: 'odd, "quoted"\narm', model: 'net,v2', train: [0.5], test: [0.4] }]);
    const rows = parseCsv(toCsv(result));
    expect(rows).toHaveLength(2);
    expect(rows[1]!.slice(0, 4)).toEqual([
      'mnist/net,v2/odd, "quoted"\narm/seed-0',
      'mnist',
      'net,v2',
      'odd, "quoted"\narm',
    ]);
  });

  it('adds an epoch-0 row for the initialization and keeps runs that never finished an epoch', () => {
    const rows = parseCsv(
      toCsv(
        experimentFixture([
          { arm: 'he', train: [0.5, 0.6], test: [undefined, 0.7], initial: { testLoss: 2.3, testAccuracy: 0.11 } },
          { arm: 'zero', status: 'failed', error: 'out of memory' },
        ])
      )
    );
    expect(rows).toHaveLength(1 + 3 + 1);
    expect(rows[1]!.slice(7)).toEqual(['0', '', '', '2.3', '0.11', '']);
    expect(rows[2]!.slice(10, 12)).toEqual(['', '']);
    expect(rows[4]!.slice(6, 8)).toEqual(['failed', '']);
  });
});
