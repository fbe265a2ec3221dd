import { useEffect, useRef } from 'preact/hooks';
import embed, { type Result } from 'vega-embed';
import { expressionInterpreter } from 'vega-interpreter';
import type { ChartSpec } from './live-charts.js';

/** Redraws of one chart are at most this often (live data arrives a few times a second). */
const MIN_REDRAW_MS = 1000;

/**
 * A Vega-Lite chart through vega-embed, safe under the page's Content-Security-Policy: expressions are evaluated by
 * vega-interpreter from their AST (no `new Function`), no default stylesheet is injected, no actions menu.
 */
export function Chart(props: { spec: ChartSpec; label: string }) {
  const container = useRef<HTMLDivElement>(null);
  const state = useRef<{ result?: Result; last: number; timer?: number; pending?: ChartSpec }>({ last: 0 });

  useEffect(() => {
    const s = state.current;
    s.pending = props.spec;
    const draw = () => {
      s.timer = undefined;
      const spec = s.pending;
      if (!spec || !container.current) return;
      s.pending = undefined;
      s.last = Date.now();
      const previous = s.result;
      void embed(container.current, spec as never, {
        ast: true,
        expr: expressionInterpreter,
        defaultStyle: false,
        actions: false,
        renderer: 'svg',
        tooltip: false,
      }).then((result) => {
        previous?.finalize();
        s.result = result;
      });
    };
    const wait = s.last + MIN_REDRAW_MS - Date.now();
    if (wait <= 0) draw();
    else s.timer ??= window.setTimeout(draw, wait);
  }, [props.spec]);

  useEffect(
    () => () => {
      const s = state.current;
      if (s.timer !== undefined) window.clearTimeout(s.timer);
      s.result?.finalize();
    },
    []
  );

  return <div class="chart" ref={container} role="img" aria-label={props.label} data-chart={props.label} />;
}
