import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as api from './index.js';

describe('README', () => {
  it('runs its usage example as written', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toContain("from '@supwalsh/tsne'");
    // The example is plain JavaScript apart from its import: run it with the library's exports in scope.
    const body = block!.replace(/^import .*$/m, '') + '\nreturn { embedding, klDivergence, iterations, out, report };';
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
      ...args: string[]
    ) => (...values: unknown[]) => Promise<Record<string, unknown>>;
    const names = Object.keys(api);
    const run = new AsyncFunction(...names, body);
    const result = await run(...names.map((name) => (api as Record<string, unknown>)[name]));
    expect(result['embedding']).toHaveLength(20);
    expect(result['iterations']).toBeGreaterThan(250);
    expect(result['out']).toEqual(result['embedding']);
    const report = result['report'] as api.TsneResult;
    expect(report.embedding).toHaveLength(1000);
    expect(report.embedding.every(Number.isFinite)).toBe(true);
  });
});
