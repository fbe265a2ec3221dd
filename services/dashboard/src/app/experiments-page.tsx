import { useState } from 'preact/hooks';
import { EXPERIMENT_STATE_NAMES, type ExperimentPage, type ExperimentStateName } from '../api.js';
import { api } from './api-client.js';
import { formatDuration, formatTime } from './format.js';
import { link, usePolling } from './router.js';

const PAGE_SIZE = 25;

/** Experiments, newest first: state, owner, name, runs done/total, created and elapsed; filter by state, paged. */
export function ExperimentsPage(props: { onError: (e: unknown) => void }) {
  const [state, setState] = useState<ExperimentStateName | ''>('');
  /** Page tokens of the pages before the current one (the first page's is ''). */
  const [tokens, setTokens] = useState<string[]>(['']);
  const [page, setPage] = useState<ExperimentPage | undefined>();
  const [now, setNow] = useState(Date.now());
  const token = tokens[tokens.length - 1]!;

  usePolling(
    () => {
      const query = new URLSearchParams({ pageSize: String(PAGE_SIZE) });
      if (state) query.set('state', state);
      if (token) query.set('pageToken', token);
      api<ExperimentPage>(`/api/experiments?${query}`).then((p) => {
        setPage(p);
        setNow(Date.now());
      }, props.onError);
    },
    3000,
    [state, token]
  );

  return (
    <section>
      <div class="toolbar">
        <h1>Experiments</h1>
        <label>
          state{' '}
          <select
            value={state}
            onChange={(e) => {
              setState((e.currentTarget as HTMLSelectElement).value as ExperimentStateName | '');
              setTokens(['']);
            }}
          >
            <option value="">all</option>
            {EXPERIMENT_STATE_NAMES.map((s) => (
              <option value={s}>{s.toLowerCase()}</option>
            ))}
          </select>
        </label>
      </div>
      <table class="grid" id="experiments">
        <thead>
          <tr>
            <th>state</th>
            <th>name</th>
            <th>owner</th>
            <th class="num">runs done</th>
            <th>created</th>
            <th class="num">elapsed</th>
          </tr>
        </thead>
        <tbody>
          {page?.experiments.map((e) => (
            <tr data-experiment={e.id}>
              <td>
                <span class={`state state-${e.state.toLowerCase()}`}>{e.state.toLowerCase()}</span>
              </td>
              <td>
                <a {...link(`/experiments/${e.id}`)}>{e.name}</a> <span class="muted">{e.id}</span>
              </td>
              <td>{e.owner || '—'}</td>
              <td class="num">
                {e.runsDone}/{e.runsTotal}
              </td>
              <td>{formatTime(e.createTime)}</td>
              <td class="num">{e.startTime !== null ? formatDuration((e.endTime ?? now) - e.startTime) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page && page.experiments.length === 0 && (
        <p class="muted">No experiments{state ? ` ${state.toLowerCase()}` : ''}.</p>
      )}
      <div class="pager">
        <button disabled={tokens.length <= 1} onClick={() => setTokens(tokens.slice(0, -1))}>
          ← newer
        </button>
        <span class="muted">page {tokens.length}</span>
        <button disabled={!page?.nextPageToken} onClick={() => page && setTokens([...tokens, page.nextPageToken])}>
          older →
        </button>
      </div>
    </section>
  );
}
