import type { MethodEvent } from '@supwalsh/method';
import { duration, epochText, stepText, type ProgressStream } from '@supwalsh/spec';

/**
 * Prints an experiment's events for a person: on a terminal, the running step rewrites one line (phase, epoch, bar,
 * loss, images/s, ETA); elsewhere (CI logs, files) a line per progress event. Epoch results and run ends always
 * get their own line.
 */
export function createProgressPrinter(stream: ProgressStream): (event: MethodEvent) => void {
  const tty = stream.isTTY === true;
  let live = false;
  const line = (text: string): void => {
    stream.write(`${live ? '\r\u001b[K' : ''}${text}\n`);
    live = false;
  };
  return (event) => {
    switch (event.type) {
      case 'experiment-started':
        line(`${event.runs.length} run${event.runs.length === 1 ? '' : 's'}: ${event.runs.join(', ')}`);
        break;
      case 'log':
        line(`${event.level === 'warning' ? 'warning: ' : ''}${event.message}`);
        break;
      case 'run-state':
        if (event.state === 'running') line(`▶ ${event.runId}`);
        break;
      case 'step': {
        const text = stepText(event);
        if (tty) {
          const width = stream.columns ?? 120;
          stream.write(`\r\u001b[K${text.slice(0, width - 1)}`);
          live = true;
        } else {
          line(text);
        }
        break;
      }
      case 'epoch': {
        line(epochText(event.metrics));
        break;
      }
      case 'run-finished': {
        const r = event.result;
        const pre = r.pretraining
          ? `, pretraining ${r.pretraining.seconds.toFixed(1)} s (t-SNE ${r.pretraining.tsneSeconds.toFixed(1)} s), snapshot of step ${r.pretraining.selectedStep + 1}/${r.pretraining.steps}`
          : '';
        line(`■ ${r.runId}: ${r.status}${r.error ? ` (${r.error})` : ''} in ${duration(r.seconds)}${pre}`);
        break;
      }
      case 'phase':
      case 'experiment-finished':
        break;
    }
  };
}
