import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { plotSpecs } from './plots.js';
import { experimentFixture, lossCurve, TWO_SEED_RUNS, type RunFixture } from './test-fixtures.js';
import { writeReport } from './write-report.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Checks that a document is well-formed XML as far as elements go: every tag closed, in order, quotes balanced. */
function expectWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^>]*\?>/, '').replace(/<!--[\s\S]*?-->/g, '');
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  let last = 0;
  let roots = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    expect(text, `stray markup before ${m[0]}`).not.toMatch(/[<>]/);
    expect(text, 'entities').not.toMatch(/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[\da-fA-F]+);)/);
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing) expect(stack.pop(), `</${name}>`).toBe(name);
    else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
  }
  expect(body.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

function svgSize(svg: string): { width: number; height: number } {
  const m = /<svg[^>]*\swidth="(\d+(?:\.\d+)?)"[^>]*\sheight="(\d+(?:\.\d+)?)"/.exec(svg);
  if (!m) throw new Error('svg without width/height');
  return { width: Math.ceil(Number(m[1])), height: Math.ceil(Number(m[2])) };
}

/** Width and height from a PNG's IHDR chunk (right after the 8-byte signature and the chunk header). */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

const FULL_RUNS: RunFixture[] = [
  ...TWO_SEED_RUNS.map((r) => ({ ...r, trainLossPerStep: lossCurve(60, 2.3, 0.3) })),
  { arm: 'he', seed: 0, train: [0.7, 0.8, 0.9], test: [0.7, 0.8, 0.9], trainLossPerStep: lossCurve(60, 2.3, 0.4) },
  { arm: 'zero', seed: 0, status: 'failed', error: 'worker 1 lost, "rank 1"' },
];

describe('writeReport', () => {
  it('writes report.md, results.json, results.csv and every plot as SVG and PNG', async () => {
    const dir = path.join(tempDir(), 'nested', 'out');
    const result = experimentFixture(FULL_RUNS, { deviations: ['training.epochs: 3 (preset: 10)'] });
    const files = await writeReport(result, dir);

    const names = ['pretraining-loss', 'test-accuracy', 'tsne-groups', 'train-loss'];
    expect(files).toEqual({
      markdown: path.join(dir, 'report.md'),
      json: path.join(dir, 'results.json'),
      csv: path.join(dir, 'results.csv'),
      svg: names.map((n) => path.join(dir, `${n}.svg`)),
      png: names.map((n) => path.join(dir, `${n}.png`)),
    });
    expect(fs.readdirSync(dir).sort()).toEqual(
      ['report.md', 'results.csv', 'results.json', ...names.flatMap((n) => [`${n}.png`, `${n}.svg`])].sort()
    );

    expect(JSON.parse(fs.readFileSync(files.json, 'utf8'))).toEqual(result);
    expect(fs.readFileSync(files.csv, 'utf8').split('\r\n')).toHaveLength(1 + 4 * 3 + 3 + 1 + 1);

    for (const [i, svgFile] of files.svg.entries()) {
      const svg = fs.readFileSync(svgFile, 'utf8');
      expect(svg).toContain('<svg');
      expect(svg).toContain('DejaVu Sans');
      expectWellFormedXml(svg);
      const size = svgSize(svg);
      expect(size.width).toBeGreaterThan(400);
      expect(size.width).toBeLessThan(1000);
      expect(size.height).toBeGreaterThan(250);
      expect(size.height).toBeLessThan(700);
      const png = fs.readFileSync(files.png[i]!);
      expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
      expect(pngSize(png)).toEqual(size);
    }

    const md = fs.readFileSync(files.markdown, 'utf8');
    expect(md).toMatch(/^# fixture\n\nA synthetic experiment for tests\.\n/);
    for (const heading of [
      '## Deviations from the preset',
      '## Runs',
      "## The original's table",
      '## Across seeds',
      '## Paired comparison with `without`',
      '## Every arm side by side',
      '## Sup-Walsh pretraining',
      '## Plots and data',
    ]) {
      expect(md).toContain(`\n${heading}\n`);
    }
    expect(md).toContain('- Engine: `wasm`, @tensorflow/tfjs-backend-wasm 4.22.0, 1 thread');
    expect(md).toContain('- `training.epochs: 3 (preset: 10)`');
    expect(md).toContain('| mnist | base | 79.00 | 84.50 | +5.50 | 94.00 | 96.50 | +2.50 |');
    expect(md).toContain('| mnist | base | he | train acc. epoch 1 | 1 | −10.00 | – | n/a (needs ≥ 2 seeds) | – | – |');
    expect(md).toContain('**failed**: worker 1 lost, "rank 1"');
    expect(md).toContain('Left out of every table (did not succeed): `mnist/base/zero/seed-0` (failed).');
    expect(md).toContain('| mnist/base/sup-walsh/seed-0 | 50 | 47 | 0.2100 | 4.0 | 75.0 % | 0 |');
    expect(md).toContain('[SVG](tsne-groups.svg) · [PNG](tsne-groups.png)');
    expect(md).toContain('![Test accuracy per epoch for every arm (mean over seeds, band ±1 sd)](test-accuracy.png)');
  });

  it('makes no plot without its data, and no PNG or no plot at all when asked', async () => {
    const bare = experimentFixture([
      { arm: 'without', train: [0.5, 0.6], test: [0.5, 0.6] },
      { arm: 'sup-walsh', train: [0.6, 0.7], test: [0.6, 0.7], pretraining: false },
    ]);
    const dir = tempDir();
    const files = await writeReport(bare, dir, { png: false });
    expect(files.svg).toEqual([path.join(dir, 'test-accuracy.svg')]);
    expect(files.png).toEqual([]);
    expect(fs.readdirSync(dir).sort()).toEqual(['report.md', 'results.csv', 'results.json', 'test-accuracy.svg']);
    expect(fs.readFileSync(files.markdown, 'utf8')).not.toContain('## Sup-Walsh pretraining');

    const noTest = experimentFixture([{ arm: 'without', train: [0.5] }]);
    expect(plotSpecs(noTest)).toEqual([]);

    const off = await writeReport(experimentFixture(FULL_RUNS), tempDir(), { plots: false });
    expect(off.svg).toEqual([]);
    expect(off.png).toEqual([]);
  });

  it('scales the PNGs when asked', async () => {
    const files = await writeReport(experimentFixture(TWO_SEED_RUNS.slice(0, 1)), tempDir(), { pngScale: 2 });
    expect(files.png).toHaveLength(1);
    const size = svgSize(fs.readFileSync(files.svg[0]!, 'utf8'));
    expect(pngSize(fs.readFileSync(files.png[0]!))).toEqual({ width: size.width * 2, height: size.height * 2 });
  });

  it('says so when no run succeeded', async () => {
    const files = await writeReport(experimentFixture([{ arm: 'without', status: 'cancelled' }]), tempDir());
    expect(files.svg).toEqual([]);
    expect(fs.readFileSync(files.markdown, 'utf8')).toContain('No run succeeded, so there is nothing to tabulate.');
  });
});
