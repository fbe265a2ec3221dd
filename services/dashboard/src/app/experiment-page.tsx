import { plotSpecs, seedTable, originalTable, summarizeRuns, type Table } from '@supwalsh/report/specs';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ExperimentDetail, LiveMessage } from '../api.js';
import { api } from './api-client.js';
import { Chart } from './chart.js';
import { formatBytes, formatDuration, formatTime } from './format.js';
import { liveCharts } from './live-charts.js';
import { applyEvents, initialState, phaseFraction, type LiveExperiment, type LiveRun } from './live-state.js';

type ExperimentResult = Parameters<typeof summarizeRuns>[0];
const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** One experiment: spec, runs with live progress, live curves, the finished tables and plots, artifacts, cancel. */
export function ExperimentPage(props: { id: string; onError: (e: unknown) => void }) {
  const [live, setLive] = useState<LiveExperiment | undefined>();
  const [result, setResult] = useState<ExperimentResult | undefined>();
  const [streamState, setStreamState] = useState<'connecting' | 'live' | 'ended' | 'reconnecting'>('connecting');

  useEffect(() => {
    let source: EventSource | undefined;
    let closed = false;
    setLive(undefined);
    setResult(undefined);
    api<ExperimentDetail>(`/api/experiments/${props.id}`).then((detail) => {
      if (closed) return;
      setLive(initialState(detail));
      // The stream replays every stored event from the start (the curves' history), then follows live; the browser
      // resumes after a dropped connection with Last-Event-ID, which the server answers with no gap and no duplicate.
      source = new EventSource(`/api/experiments/${props.id}/events`);
      source.onopen = () => setStreamState('live');
      source.onmessage = (message: MessageEvent<string>) => {
        const data = JSON.parse(message.data) as LiveMessage;
        setLive((state) => state && applyEvents(state, data.sequence, data.events));
        if (data.end) {
          source?.close();
          setStreamState('ended');
          // The final state, with every artifact.
          api<ExperimentDetail>(`/api/experiments/${props.id}`).then(
            (d) => setLive((state) => state && { ...state, detail: d, artifacts: d.artifacts, state: d.state }),
            props.onError
          );
        }
      };
      source.onerror = () => {
        if (source?.readyState === EventSource.CLOSED) {
          setStreamState('ended');
          // Refused (signed out, or no longer visible): the page says why.
          api<ExperimentDetail>(`/api/experiments/${props.id}`).catch(props.onError);
        } else setStreamState('reconnecting');
      };
    }, props.onError);
    return () => {
      closed = true;
      source?.close();
    };
  }, [props.id]);

  const resultsArtifact = live?.artifacts.find((a) => a.runId === '' && a.kind === 'RESULTS_JSON');
  useEffect(() => {
    if (!resultsArtifact || !live || !TERMINAL.includes(live.state)) return;
    fetch(`/api/artifacts/${resultsArtifact.id}`, { credentials: 'same-origin' })
      .then((r) => (r.ok ? (r.json() as Promise<ExperimentResult>) : Promise.reject(new Error(r.statusText))))
      .then(setResult, props.onError);
  }, [resultsArtifact?.id, live?.state]);

  const charts = useMemo(() => (live ? liveCharts(live.runs) : []), [live?.runs]);
  const finished = useMemo(() => {
    if (!result) return undefined;
    const summary = summarizeRuns(result);
    return {
      tables: [
        { title: 'Training accuracy (%) — the original paper’s table', table: originalTable(summary, 'train') },
        { title: 'Test accuracy (%) — the original paper’s table', table: originalTable(summary, 'test') },
        { title: 'Mean ± sd over seeds (%)', table: seedTable(summary) },
      ],
      plots: plotSpecs(result),
    };
  }, [result]);

  if (!live) return <p class="muted">Loading…</p>;
  const { detail } = live;
  const now = Date.now();
  return (
    <section>
      <div class="toolbar">
        <h1>
          {detail.name} <span class="muted">{detail.id}</span>
        </h1>
        <span class={`state state-${live.state.toLowerCase()}`} id="experiment-state">
          {live.state.toLowerCase()}
        </span>
        <span class={`stream stream-${streamState}`}>{streamState}</span>
        {detail.canCancel && !TERMINAL.includes(live.state) && (
          <CancelButton id={detail.id} name={detail.name} onError={props.onError} />
        )}
      </div>
      <p class="meta">
        owner {detail.owner || '—'} · created {formatTime(detail.createTime)}
        {detail.startTime !== null && ` · elapsed ${formatDuration((detail.endTime ?? now) - detail.startTime)}`}
        {live.statusMessage && ` · ${live.statusMessage}`}
      </p>

      <h2>Runs</h2>
      <table class="grid" id="runs">
        <thead>
          <tr>
            <th>run</th>
            <th>state</th>
            <th>phase</th>
            <th class="num">epoch</th>
            <th class="num">step</th>
            <th class="progress-col">progress</th>
            <th class="num">images/s</th>
            <th class="num">ETA</th>
            <th>workers</th>
          </tr>
        </thead>
        <tbody>
          {live.runs.map((run) => (
            <RunRow run={run} />
          ))}
        </tbody>
      </table>

      {charts.length > 0 && <h2>Live curves</h2>}
      {charts.map((g) => (
        <div class="chart-group" data-group={g.group}>
          <h3>{g.group}</h3>
          <div class="charts">
            {g.charts.map((c) => (
              <Chart spec={c.spec} label={`${g.group} ${c.key}`} />
            ))}
          </div>
        </div>
      ))}

      {finished && (
        <div id="results">
          <h2>Results</h2>
          {finished.tables.map((t) => (
            <TableView title={t.title} table={t.table} />
          ))}
          <div class="charts">
            {finished.plots.map((p) => (
              <Chart spec={p.spec} label={`report ${p.name}`} />
            ))}
          </div>
        </div>
      )}

      <h2>Artifacts</h2>
      <ul class="artifacts" id="artifacts">
        {[...live.artifacts]
          .sort((a, b) => (a.runId === b.runId ? a.name.localeCompare(b.name) : a.runId.localeCompare(b.runId)))
          .map((a) => (
            <li>
              <a href={`/api/artifacts/${a.id}`} download={a.name}>
                {a.runId ? `${live.runs.find((r) => r.id === a.runId)?.label ?? a.runId}/` : ''}
                {a.name}
              </a>{' '}
              <span class="muted">
                {a.kind.toLowerCase().replace(/_/g, ' ')} · {formatBytes(a.sizeBytes)}
              </span>
            </li>
          ))}
      </ul>
      {live.artifacts.length === 0 && <p class="muted">None yet.</p>}

      <h2>Spec</h2>
      <pre class="spec">{detail.specYaml}</pre>
    </section>
  );
}

function RunRow({ run }: { run: LiveRun }) {
  const p = run.progress;
  const active = run.state === 'RUNNING' || run.state === 'REFORMING';
  const fraction = phaseFraction(run);
  return (
    <tr data-run={run.id} data-state={run.state}>
      <td>{run.label}</td>
      <td>
        <span class={`state state-${run.state.toLowerCase()}`}>{run.state.toLowerCase()}</span>
        {run.restarts > 0 && <span class="muted"> ↻{run.restarts}</span>}
      </td>
      <td>{active && run.phase !== 'UNSPECIFIED' ? run.phase.toLowerCase() : '—'}</td>
      <td class="num">{p ? `${p.epoch}/${p.epochsTotal}` : '—'}</td>
      <td class="num" data-step>
        {p ? `${p.step}/${p.stepsTotal}` : '—'}
      </td>
      <td class="progress-col">
        <progress max={1000} value={Math.round(fraction * 1000)} data-fraction={fraction.toFixed(4)} />
      </td>
      <td class="num">{active && p ? p.imagesPerSecond.toFixed(0) : '—'}</td>
      <td class="num">{active && p?.etaSeconds != null ? formatDuration(p.etaSeconds * 1000) : '—'}</td>
      <td>{run.workerIds.join(', ') || '—'}</td>
    </tr>
  );
}

function TableView({ title, table }: { title: string; table: Table }) {
  return (
    <table class="grid result-table">
      <caption>{title}</caption>
      <thead>
        <tr>
          {table.header.map((h, i) => (
            <th class={table.align?.[i] === 'right' ? 'num' : ''}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {table.rows.map((row) => (
          <tr>
            {row.map((cell, i) => (
              <td class={table.align?.[i] === 'right' ? 'num' : ''}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CancelButton(props: { id: string; name: string; onError: (e: unknown) => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!confirming) {
    return (
      <button class="danger" id="cancel" onClick={() => setConfirming(true)}>
        Cancel experiment
      </button>
    );
  }
  return (
    <span class="confirm" role="alertdialog" aria-label="confirm cancel">
      Cancel {props.name}? Runs stop; what is stored stays.{' '}
      <button
        class="danger"
        id="cancel-confirm"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          api(`/api/experiments/${props.id}/cancel`, { method: 'POST', body: { reason: '' } }).then(
            () => setConfirming(false),
            (e: unknown) => {
              setBusy(false);
              props.onError(e);
            }
          );
        }}
      >
        Yes, cancel
      </button>{' '}
      <button id="cancel-keep" onClick={() => setConfirming(false)}>
        Keep running
      </button>
    </span>
  );
}
