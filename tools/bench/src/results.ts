import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchRow } from './benchmark.js';

export interface BenchResults {
  name: string;
  machine: { cpus: number; cpuModel: string; memory: number; node: string; backend: string };
  date: string;
  rows: BenchRow[];
}

export function describeMachine(backend: string): BenchResults['machine'] {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memory: os.totalmem(),
    node: process.version,
    backend,
  };
}

/** Renders rows as a Markdown table; numbers keep 4 significant digits. */
export function toMarkdown(results: BenchResults): string {
  const columns = [...new Set(results.rows.flatMap((row) => Object.keys(row)))];
  const cell = (v: BenchRow[string] | undefined) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v ?? '');
  const m = results.machine;
  return [
    `# ${results.name}`,
    '',
    `${m.cpus} × ${m.cpuModel}, ${(m.memory / 2 ** 30).toFixed(0)} GiB, Node ${m.node}, backend ${m.backend}, ${results.date}`,
    '',
    `| ${columns.join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...results.rows.map((row) => `| ${columns.map((c) => cell(row[c])).join(' | ')} |`),
    '',
  ].join('\n');
}

/** Writes `<dir>/<name>.json` and `<dir>/<name>.md`; returns their paths. */
export function writeResults(dir: string, results: BenchResults): { json: string; markdown: string } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${results.name}.json`);
  const markdown = path.join(dir, `${results.name}.md`);
  fs.writeFileSync(json, JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(markdown, toMarkdown(results));
  return { json, markdown };
}
