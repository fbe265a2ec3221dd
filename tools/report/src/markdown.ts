import type { ExperimentResult } from '@supwalsh/method';
import { formatSeconds } from './format.js';
import type { PlotName } from './plots.js';
import type { ResultSummary } from './summary.js';
import { markdownTable } from './table.js';
import { epochTable, formatOriginalTableMarkdown, pairedTable, pretrainingTable, seedTable } from './tables.js';

/** A plot written beside report.md (file names relative to it). */
export interface PlotLink {
  readonly name: PlotName;
  readonly caption: string;
  readonly svg: string;
  readonly png?: string;
}

/** The data and plot files report.md links to, relative to its directory. */
export interface ReportLinks {
  readonly json?: string;
  readonly csv?: string;
  readonly plots?: readonly PlotLink[];
}

/** Backend, package and device in one line; why faster backends were skipped, first sentence of each. */
function engineLine(engine: ExperimentResult['engine']): string {
  const e = engine as Record<string, unknown>;
  const parts = [`\`${engine.backend}\``];
  if (typeof e['package'] === 'string') parts.push(`${e['package']} ${String(e['version'] ?? '')}`.trim());
  if (e['gpu'] === true) parts.push('GPU');
  if (typeof e['threads'] === 'number') parts.push(`${e['threads']} thread${e['threads'] === 1 ? '' : 's'}`);
  if (e['simd'] === true) parts.push('SIMD');
  if (typeof e['requested'] === 'string') parts.push(`requested ${e['requested']}`);
  const skipped = Array.isArray(e['skipped'])
    ? (e['skipped'] as unknown[]).map((s) => String(s).split(/\. |\(/)[0])
    : [];
  if (skipped.length > 0) parts.push(`skipped: ${skipped.join('; ')}`);
  return parts.join(', ');
}

function runsTable(result: ExperimentResult): string {
  return markdownTable({
    header: ['Run', 'Arm', 'Initializer', 'Seed', 'Parameters', 'Status', 'Seconds'],
    rows: result.runs.map((r) => [
      r.runId,
      r.arm,
      r.initializer,
      String(r.seed),
      String(r.parameters),
      r.status === 'succeeded' ? r.status : `**${r.status}**${r.error ? `: ${r.error}` : ''}`,
      formatSeconds(r.seconds),
    ]),
    align: ['left', 'left', 'left', 'right', 'right', 'left', 'right'],
  });
}

/**
 * The whole report.md: what ran, on which engine, the original's table, statistics across seeds, paired
 * comparisons with the `without` arm, every arm's test accuracy per epoch, the Sup-Walsh pretraining, and links to
 * the data and plot files.
 */
export function formatReportMarkdown(
  result: ExperimentResult,
  summary: ResultSummary,
  links: ReportLinks = {}
): string {
  const out: string[] = [`# ${result.name}`, ''];
  if (result.description) out.push(result.description, '');
  out.push(
    `- Engine: ${engineLine(result.engine)}`,
    `- Preset: \`${result.preset}\``,
    `- Started ${result.startedAt}, finished ${result.finishedAt}`,
    `- Runs: ${result.runs.length} (${result.runs.length - summary.excluded.length} succeeded)`,
    '',
    '## Deviations from the preset',
    ''
  );
  if (result.deviations.length === 0) out.push(`None: every run followed the \`${result.preset}\` preset.`);
  else out.push(...result.deviations.map((d) => `- \`${d}\``));
  const known = result.knownDeviations ?? [];
  if (known.length > 0) {
    out.push('', '## Known deviations from the original', '', ...known.map((d) => `- ${d}`));
  }
  const nonFinite = result.runs.flatMap((r) => {
    const parts = [
      ...(r.pretraining?.nonFiniteSteps?.length
        ? [`pretraining steps ${r.pretraining.nonFiniteSteps.join(', ')}`]
        : []),
      ...(r.trainNonFiniteSteps?.length ? [`training steps ${r.trainNonFiniteSteps.join(', ')}`] : []),
    ];
    return parts.length === 0 ? [] : [`- \`${r.runId}\`: ${parts.join('; ')} (0-based)`];
  });
  if (nonFinite.length > 0) {
    out.push(
      '',
      '## Non-finite losses',
      '',
      'These runs trained on through a NaN or infinite loss, as the original does:',
      '',
      ...nonFinite
    );
  }

  out.push('', '## Runs', '', runsTable(result), '');

  out.push(
    "## The original's table",
    '',
    'Accuracy in percent; "without" is the arm with the default (PyTorch) initialization, "with" the Sup-Walsh arm; ' +
      'with several seeds each cell is the mean over seeds. Δ = with − without, in percentage points.',
    ''
  );
  if (summary.groups.length === 0) out.push('No run succeeded, so there is nothing to tabulate.');
  else out.push(formatOriginalTableMarkdown(summary));
  if (summary.excluded.length > 0) {
    out.push(
      '',
      `Left out of every table (did not succeed): ${summary.excluded.map((r) => `\`${r.runId}\` (${r.status})`).join(', ')}.`
    );
  }

  if (summary.groups.length > 0) {
    out.push(
      '',
      '## Across seeds',
      '',
      'Mean ± sample standard deviation over seeds (accuracy in percent); n is the number of seeds.',
      '',
      markdownTable(seedTable(summary)),
      '',
      '## Paired comparison with `without`',
      ''
    );
    if (summary.groups.every((g) => g.comparisons.length === 0)) {
      out.push('No arm with the `pytorch-default` initializer, so there is no baseline to compare with.');
    } else {
      out.push(
        'Each arm minus the `without` arm, paired by seed: mean and standard deviation of the differences ' +
          '(percentage points), paired t statistic, degrees of freedom and two-sided p-value.',
        '',
        markdownTable(pairedTable(summary))
      );
    }
    out.push(
      '',
      '## Every arm side by side',
      '',
      'Test accuracy (%) per epoch, mean over seeds; epoch 0 is the initialization alone.'
    );
    for (const group of summary.groups)
      out.push('', `### ${group.dataset} / ${group.model}`, '', markdownTable(epochTable(group)));
  }

  if (summary.pretraining.length > 0) {
    out.push(
      '',
      '## Sup-Walsh pretraining',
      '',
      'Selected step: the 0-based step whose weights (lowest pretraining loss) became the initialization. ' +
        'Incomplete groups: class groups whose batch lacked some class.',
      '',
      markdownTable(pretrainingTable(summary))
    );
  }

  const plots = links.plots ?? [];
  if (links.json || links.csv || plots.length > 0) {
    out.push('', '## Plots and data', '');
    if (links.json) out.push(`- [${links.json}](${links.json}): the whole experiment result`);
    if (links.csv) out.push(`- [${links.csv}](${links.csv}): one row per run and epoch`);
    for (const plot of plots) {
      out.push(`- ${plot.caption}: [SVG](${plot.svg})${plot.png ? ` · [PNG](${plot.png})` : ''}`);
    }
    for (const plot of plots) out.push('', `![${plot.caption}](${plot.png ?? plot.svg})`);
  }
  return out.join('\n') + '\n';
}
