#!/usr/bin/env node
/**
 * `npm run bench -- <name> [args…]`: runs one benchmark (or `all`) and writes bench-results/<name>.json + .md.
 * `--list` shows what there is. Figures are medians on whatever machine runs them: compare ratios within one run.
 */
import path from 'node:path';
import { BENCHMARKS } from './benchmarks/index.js';
import { describeMachine, toMarkdown, writeResults } from './results.js';

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--list' || name === '--help') {
    console.log('usage: npm run bench -- <name|all> [args…]\n');
    for (const b of BENCHMARKS) console.log(`  ${b.name.padEnd(12)} ${b.description}`);
    return name ? 0 : 2;
  }
  const selected = name === 'all' ? BENCHMARKS : BENCHMARKS.filter((b) => b.name === name);
  if (selected.length === 0) {
    console.error(`unknown benchmark "${name}"; known: ${BENCHMARKS.map((b) => b.name).join(', ')}, all`);
    return 2;
  }
  const outDir = path.resolve(process.env['SUPWALSH_BENCH_DIR'] ?? 'bench-results');
  for (const benchmark of selected) {
    let backend = 'js';
    console.log(`# ${benchmark.name}: ${benchmark.description}`);
    const rows = await benchmark.run({
      args,
      log: (message) => console.log(`  ${message}`),
      setBackend: (b) => (backend = b),
    });
    const results = { name: benchmark.name, machine: describeMachine(backend), date: new Date().toISOString(), rows };
    const files = writeResults(outDir, results);
    console.log(`\n${toMarkdown(results)}\nwrote ${files.json} and ${files.markdown}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  }
);
