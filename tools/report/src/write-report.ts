import fs from 'node:fs/promises';
import path from 'node:path';
import type { ExperimentResult } from '@supwalsh/method';
import { toCsv } from './csv.js';
import { PlotRenderError } from './errors.js';
import { formatReportMarkdown, type PlotLink } from './markdown.js';
import { plotSpecs, type PlotOptions } from './plots.js';
import { renderSvg, svgToPng } from './render.js';
import { summarizeRuns } from './summary.js';

/** Options of {@link writeReport}. */
export interface ReportOptions extends PlotOptions {
  /** Render the plots (SVG). @default true */
  readonly plots?: boolean;
  /** Also rasterize every plot to PNG. @default true */
  readonly png?: boolean;
  /** PNG pixels per SVG unit. @default 1 */
  readonly pngScale?: number;
}

/** The files {@link writeReport} wrote, by kind (absolute or as `outDir` was given). */
export interface ReportFiles {
  readonly markdown: string;
  readonly json: string;
  readonly csv: string;
  readonly svg: readonly string[];
  readonly png: readonly string[];
}

/**
 * Writes an experiment's report into `outDir` (created when missing): `report.md`, `results.json` (the result as
 * is), `results.csv` (one row per run × epoch) and, unless turned off, the plots that have data as SVG and PNG.
 */
export async function writeReport(
  result: ExperimentResult,
  outDir: string,
  options: ReportOptions = {}
): Promise<ReportFiles> {
  const { plots = true, png = true, pngScale = 1 } = options;
  await fs.mkdir(outDir, { recursive: true });
  const file = (name: string) => path.join(outDir, name);

  await fs.writeFile(file('results.json'), JSON.stringify(result, null, 2) + '\n');
  await fs.writeFile(file('results.csv'), toCsv(result));

  const links: PlotLink[] = [];
  if (plots) {
    for (const plot of plotSpecs(result, options)) {
      let svg: string;
      try {
        svg = await renderSvg(plot.spec);
      } catch (error: unknown) {
        throw new PlotRenderError(plot.name, 'svg', { cause: error });
      }
      await fs.writeFile(file(`${plot.name}.svg`), svg);
      let pngName: string | undefined;
      if (png) {
        let bytes: Buffer;
        try {
          bytes = svgToPng(svg, { scale: pngScale });
        } catch (error: unknown) {
          throw new PlotRenderError(plot.name, 'png', { cause: error });
        }
        pngName = `${plot.name}.png`;
        await fs.writeFile(file(pngName), bytes);
      }
      links.push({
        name: plot.name,
        caption: plot.caption,
        svg: `${plot.name}.svg`,
        ...(pngName ? { png: pngName } : {}),
      });
    }
  }

  const markdown = formatReportMarkdown(result, summarizeRuns(result), {
    json: 'results.json',
    csv: 'results.csv',
    plots: links,
  });
  await fs.writeFile(file('report.md'), markdown);
  return {
    markdown: file('report.md'),
    json: file('results.json'),
    csv: file('results.csv'),
    svg: links.map((l) => file(l.svg)),
    png: links.flatMap((l) => (l.png ? [file(l.png)] : [])),
  };
}
