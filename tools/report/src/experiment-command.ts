import path from 'node:path';
import { parseArgs } from 'node:util';
import { MethodSpecError, runExperiment, type ExperimentResult } from '@supwalsh/method';
import { duration, type ProgressStream } from '@supwalsh/spec';
import { errorMessage } from './errors.js';
import { createProgressPrinter } from './progress-printer.js';
import { readSpecFile } from './spec-file.js';
import { summarizeRuns } from './summary.js';
import { formatResultsTable } from './tables.js';
import { writeReport } from './write-report.js';

export const EXPERIMENT_USAGE = `Runs an experiment in this process and writes its report.

usage: npm run experiment -- --spec <file.yaml|json> [options]

  --spec <file>        experiment spec (YAML or JSON; see libs/method/README.md)          required
  --out <dir>          report directory                               default reports/<spec name>
  --data-dir <dir>     base of relative dataset roots                 default the current directory
  --cache-dir <dir>    preprocessed-dataset cache  default $SUPWALSH_CACHE_DIR or ~/.cache/supwalsh/datasets
  --no-plots           skip the SVG/PNG plots
  -h, --help           this text

Ctrl-C stops the current run; the runs already finished are still reported.`;

export interface CommandIo {
  readonly stdout: ProgressStream;
  readonly stderr: ProgressStream;
  /** Aborted by Ctrl-C (SIGINT) in main.ts. */
  readonly signal?: AbortSignal;
}

/**
 * `npm run experiment`: parse, validate, run with live progress, write the report, print the paper's table and
 * where the report is. Returns the process exit code: 0 when every run succeeded, 1 when some did not, 2 for
 * bad usage or a bad spec (nothing run).
 */
export async function experimentCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        spec: { type: 'string' },
        out: { type: 'string' },
        'data-dir': { type: 'string' },
        'cache-dir': { type: 'string' },
        'no-plots': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error: unknown) {
    io.stderr.write(`${errorMessage(error)}\n\n${EXPERIMENT_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${EXPERIMENT_USAGE}\n`);
    return 0;
  }
  if (values.spec === undefined) {
    io.stderr.write(`--spec is required\n\n${EXPERIMENT_USAGE}\n`);
    return 2;
  }
  let run;
  try {
    const spec = await readSpecFile(values.spec);
    run = runExperiment(spec, {
      ...(io.signal ? { signal: io.signal } : {}),
      ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
      ...(values['cache-dir'] ? { cacheDir: values['cache-dir'] } : {}),
    });
  } catch (error: unknown) {
    const where = error instanceof MethodSpecError ? `${values.spec}: invalid spec: ` : '';
    io.stderr.write(`${where}${errorMessage(error)}\n`);
    return 2;
  }
  const print = createProgressPrinter(io.stdout);
  let result: ExperimentResult;
  try {
    for await (const event of run.events) print(event);
    result = await run.result;
  } catch (error: unknown) {
    io.stderr.write(`experiment failed: ${errorMessage(error)}\n`);
    return 1;
  }
  const outDir = path.resolve(values.out ?? path.join('reports', result.name));
  const files = await writeReport(result, outDir, { plots: !values['no-plots'] });
  const seconds = (Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 1000;
  io.stdout.write(`\n${formatResultsTable(summarizeRuns(result))}\n\n`);
  io.stdout.write(
    `report: ${files.markdown}\n(${files.png.length + files.svg.length} plot files, results.json, results.csv in ${outDir}; ${duration(seconds)} in all)\n`
  );
  return result.runs.every((r) => r.status === 'succeeded') ? 0 : 1;
}
