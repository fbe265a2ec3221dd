/** Thrown when a report function gets an argument outside its valid range (names the function and the argument). */
export class ReportArgumentError extends Error {
  override readonly name = 'ReportArgumentError';
  constructor(
    /** The function that rejected the call, e.g. `pairedTTest`. */
    readonly fn: string,
    /** The argument that was out of range. */
    readonly argument: string,
    message: string
  ) {
    super(`${fn}: ${argument} ${message}`);
  }
}

/** Thrown when a plot cannot be rendered to SVG or PNG; `plot` names it and `cause` holds the renderer's error. */
export class PlotRenderError extends Error {
  override readonly name = 'PlotRenderError';
  constructor(
    /** The plot's name, e.g. `test-accuracy`. */
    readonly plot: string,
    /** `svg` (Vega) or `png` (resvg). */
    readonly stage: 'svg' | 'png',
    options: { cause: unknown }
  ) {
    super(`could not render plot ${plot} to ${stage}: ${errorMessage(options.cause)}`, options);
  }
}

/** The message of any thrown value (catch variables are `unknown`). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
