import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(projectRoot, 'src/gen');
const STALE = 'libs/proto/src/gen is stale or hand-edited: run `npm run generate` at the repository root and commit it';

function tree(dir: string): Map<string, Buffer> {
  const files = readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile());
  return new Map(
    files.map((e) => [relative(dir, join(e.parentPath, e.name)), readFileSync(join(e.parentPath, e.name))])
  );
}

describe('generated code', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'supwalsh-proto-check-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('is byte-for-byte what `npm run generate` produces from proto/ now', () => {
    const fresh = join(scratch, 'gen');
    execFileSync(process.execPath, [join(projectRoot, 'scripts/generate.mjs'), '--out', fresh], { stdio: 'pipe' });
    const want = tree(fresh);
    const have = tree(committed);
    expect([...have.keys()].sort(), STALE).toEqual([...want.keys()].sort());
    for (const [file, bytes] of want) {
      expect(have.get(file)?.equals(bytes), `${STALE} (${file} differs)`).toBe(true);
    }
  });

  it('carries the @generated header in every file', () => {
    for (const [file, bytes] of tree(committed)) {
      expect(bytes.toString('utf8', 0, 200), file).toMatch(/^\/\/ @generated /);
    }
  });
});
