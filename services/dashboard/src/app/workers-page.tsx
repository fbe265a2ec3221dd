import { useState } from 'preact/hooks';
import type { WorkerList } from '../api.js';
import { api } from './api-client.js';
import { formatDuration } from './format.js';
import { link, usePolling } from './router.js';

/** Workers: id, state, backend and device, current run and rank, last heartbeat age, recoveries. */
export function WorkersPage(props: { onError: (e: unknown) => void }) {
  const [list, setList] = useState<WorkerList | undefined>();
  usePolling(() => api<WorkerList>('/api/workers').then(setList, props.onError), 3000, []);
  return (
    <section>
      <div class="toolbar">
        <h1>Workers</h1>
      </div>
      <table class="grid" id="workers">
        <thead>
          <tr>
            <th>worker</th>
            <th>state</th>
            <th>backend</th>
            <th>device</th>
            <th>run (rank)</th>
            <th class="num">last heartbeat</th>
            <th class="num">recoveries</th>
          </tr>
        </thead>
        <tbody>
          {list?.workers.map((w) => (
            <tr data-worker={w.id}>
              <td>
                {w.id}
                {w.address && <span class="muted"> {w.address}</span>}
              </td>
              <td>
                <span class={`state state-${w.state.toLowerCase()}`}>{w.state.toLowerCase()}</span>
              </td>
              <td>{w.backend.toLowerCase()}</td>
              <td>{w.device || '—'}</td>
              <td>
                {w.runId && w.experimentId ? (
                  <a {...link(`/experiments/${w.experimentId}`)}>
                    {w.runId}
                    {w.rank !== null ? ` (rank ${w.rank})` : ''}
                  </a>
                ) : (
                  w.runId || '—'
                )}
              </td>
              <td class="num">{formatDuration(w.lastHeartbeatAgeMs)} ago</td>
              <td class="num">{w.recoveries}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list && list.workers.length === 0 && <p class="muted">No workers registered.</p>}
    </section>
  );
}
