import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { epochAccuracyChart, stepLossChart } from './specs.js';

/** Every module `file` reaches through value imports (type-only imports are erased by the compiler). */
function valueImports(file: string, seen = new Map<string, string[]>()): Map<string, string[]> {
  if (seen.has(file)) return seen;
  const text = fs.readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
  seen.set(file, specifiers);
  for (const s of specifiers) {
    if (s.startsWith('.')) valueImports(path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts')), seen);
  }
  return seen;
}

describe('@supwalsh/report/specs', () => {
  it('reaches only its own modules at run time: nothing Node-only, no other package', () => {
    const graph = valueImports(path.join(import.meta.dirname, 'specs.ts'));
    expect(graph.size).toBeGreaterThan(3);
    const external = [...graph.entries()].flatMap(([file, specifiers]) =>
      specifiers.filter((s) => !s.startsWith('.')).map((s) => `${path.basename(file)} → ${s}`)
    );
    expect(external).toEqual([]);
  });

  it('builds one panel without a facet and several panels with one', () => {
    const rows = [
      { group: 'mnist / base', series: 'without', step: 1, loss: 2.3 },
      { group: 'mnist / base', series: 'sup-walsh', step: 1, loss: 2.1 },
    ];
    const options = {
      title: 't',
      xTitle: 'step',
      yTitle: 'loss',
      seriesTitle: 'arm',
      seriesOrder: ['without', 'sup-walsh'],
    };
    const one = stepLossChart(rows, { ...options, groupOrder: ['mnist / base'] }) as unknown as Record<string, unknown>;
    expect(one['facet']).toBeUndefined();
    expect((one['data'] as { values: unknown[] }).values).toEqual(rows);
    const two = stepLossChart(rows, {
      ...options,
      groupOrder: ['mnist / base', 'cifar10 / base'],
    }) as unknown as Record<string, unknown>;
    expect(two['facet']).toMatchObject({ field: 'group' });
    const accuracy = epochAccuracyChart([{ group: 'g', arm: 'without', epoch: 1, accuracy: 50, lo: 45, hi: 55 }], {
      title: 'a',
      yTitle: 'test accuracy (%)',
      armOrder: ['without'],
      groupOrder: ['g'],
      band: true,
    }) as { layer: { mark: { type: string } }[] };
    expect(accuracy.layer.map((l) => l.mark.type)).toEqual(['errorband', 'line']);
  });
});
