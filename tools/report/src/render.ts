import fs from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { PLOT_FONT } from './plots.js';

/** Where Debian and Ubuntu keep the DejaVu fonts the plots name. */
const DEJAVU_DIR = '/usr/share/fonts/truetype/dejavu';

/** Compiles a Vega-Lite specification and renders it headless (no DOM, no canvas) to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Options of {@link svgToPng}. */
export interface PngOptions {
  /** Pixels per SVG unit. @default 1 */
  readonly scale?: number;
}

/** Rasterizes an SVG document to PNG bytes with resvg, using the system fonts (DejaVu Sans by default). */
export function svgToPng(svg: string, options: PngOptions = {}): Buffer {
  const { scale = 1 } = options;
  const resvg = new Resvg(svg, {
    font: {
      loadSystemFonts: true,
      fontDirs: fs.existsSync(DEJAVU_DIR) ? [DEJAVU_DIR] : [],
      defaultFontFamily: PLOT_FONT,
      sansSerifFamily: PLOT_FONT,
    },
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    background: 'white',
    logLevel: 'off',
  });
  return resvg.render().asPng();
}
