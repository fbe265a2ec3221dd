import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { SessionInfo } from '../api.js';
import { api, ApiRequestError } from './api-client.js';
import { ExperimentsPage } from './experiments-page.js';
import { link, useLocation } from './router.js';
import { WorkersPage } from './workers-page.js';

type ExperimentPageModule = typeof import('./experiment-page.js');

/**
 * The experiment page with its charts (Vega, Vega-Lite: most of the code) is loaded on first use, so that the
 * experiments and workers pages start quickly.
 */
function LazyExperimentPage(props: { id: string; onError: (e: unknown) => void }) {
  const [module, setModule] = useState<ExperimentPageModule | undefined>();
  useEffect(() => {
    import('./experiment-page.js').then(setModule, props.onError);
  }, []);
  return module ? <module.ExperimentPage {...props} /> : <p class="muted">Loading…</p>;
}

function Login(props: { onSignedIn: (s: SessionInfo) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  return (
    <form
      class="login"
      id="login"
      onSubmit={(e) => {
        e.preventDefault();
        setError('');
        // The token goes in a POST body, once, and is exchanged for an HttpOnly session cookie; never in a URL.
        api<SessionInfo>('/api/session', { method: 'POST', body: { token } }).then(
          (s) => {
            setToken('');
            props.onSignedIn(s);
          },
          (err: unknown) => setError(err instanceof Error ? err.message : String(err))
        );
      }}
    >
      <h1>Sign in</h1>
      <p>This coordinator asks for a token of its token file.</p>
      <input
        type="password"
        name="token"
        autocomplete="off"
        placeholder="token"
        value={token}
        onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)}
      />
      <button type="submit">Sign in</button>
      {error && (
        <p class="error" id="login-error">
          {error}
        </p>
      )}
    </form>
  );
}

function App() {
  const path = useLocation();
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [error, setError] = useState('');

  useEffect(() => {
    api<SessionInfo>('/api/session').then(setSession, () => setSession(null));
  }, []);
  const onError = useCallback((e: unknown) => {
    if (e instanceof ApiRequestError && e.status === 401) setSession(null);
    else setError(e instanceof Error ? e.message : String(e));
  }, []);
  useEffect(() => setError(''), [path]);

  if (session === undefined) return <p class="muted">Loading…</p>;
  if (session === null) return <Login onSignedIn={setSession} />;
  const experiment = /^\/experiments\/([A-Za-z0-9._-]+)$/.exec(path);
  return (
    <>
      <header>
        <a class="brand" {...link('/')}>
          supwalsh
        </a>
        <nav>
          <a {...link('/')} class={path === '/' ? 'active' : ''}>
            Experiments
          </a>
          <a {...link('/workers')} class={path === '/workers' ? 'active' : ''}>
            Workers
          </a>
        </nav>
        <span class="who">
          {session.principal.name} ({session.principal.role})
          {session.tokenRequired && (
            <button
              class="link"
              onClick={() => api('/api/session', { method: 'DELETE' }).then(() => setSession(null), onError)}
            >
              sign out
            </button>
          )}
        </span>
      </header>
      <main>
        {error && (
          <p class="error" id="error">
            {error}
          </p>
        )}
        {experiment ? (
          <LazyExperimentPage id={experiment[1]!} onError={onError} />
        ) : path === '/workers' ? (
          <WorkersPage onError={onError} />
        ) : (
          <ExperimentsPage onError={onError} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
