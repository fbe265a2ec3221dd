import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { experimentFixture, TWO_SEED_RUNS } from './test-fixtures.js';
import { formatResultsTable, summarizeRuns } from './index.js';

/** The table README.md shows, so the README cannot drift from the code. */
describe('the README example', () => {
  it('prints the table the README shows', () => {
    const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const shown = /<!-- results-table -->\s*```text\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(shown).toBeDefined();
    const result = experimentFixture(TWO_SEED_RUNS, { name: 'quick-start' });
    expect(formatResultsTable(summarizeRuns(result))).toBe(shown);
  });
});
