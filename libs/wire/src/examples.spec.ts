import fs from 'node:fs';
import path from 'node:path';
import { parseSpecText } from '@supwalsh/spec';
import { describe, expect, it } from 'vitest';
import { validateSpec } from './validate.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../../examples');

describe('the example specs', () => {
  const files = fs.readdirSync(EXAMPLES).filter((f) => /\.ya?ml$/.test(f));

  it('exist', () => {
    expect(files).toEqual(expect.arrayContaining(['quickstart.yaml', 'paper-sweep.yaml']));
  });

  it.each(files)('%s parses and validates', (file) => {
    const spec = parseSpecText(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'), file);
    const validated = validateSpec(spec, { dataDir: EXAMPLES });
    expect(validated.runs.length).toBeGreaterThan(0);
    expect(`${spec.name}.yaml`).toBe(file);
  });

  it('include the whole original comparison as one experiment', () => {
    const sweep = validateSpec(parseSpecText(fs.readFileSync(path.join(EXAMPLES, 'paper-sweep.yaml'), 'utf8')));
    expect(sweep.runs).toHaveLength(7 * 3 * 2);
    expect(sweep.deviations).toEqual([]);
  });
});
