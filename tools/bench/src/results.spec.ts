import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeMachine, toMarkdown, writeResults } from './results.js';

describe('bench results', () => {
  it('writes the JSON record and a Markdown table with one row per measurement', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
    const results = {
      name: 'demo',
      machine: describeMachine('wasm'),
      date: 'now',
      rows: [{ n: 16, speedup: 3.14159 }],
    };
    const files = writeResults(dir, results);
    expect(JSON.parse(fs.readFileSync(files.json, 'utf8'))).toMatchObject({
      name: 'demo',
      machine: { cpus: os.cpus().length, backend: 'wasm' },
      rows: [{ n: 16, speedup: 3.14159 }],
    });
    const md = toMarkdown(results);
    expect(md).toContain('| n | speedup |');
    expect(md).toContain('| 16 | 3.142 |');
  });
});
