import { useEffect, useState } from 'preact/hooks';

/** Client-side navigation: the coordinator serves the page for every path, the page picks what to show. */
export function navigate(path: string): void {
  if (path === location.pathname + location.search) return;
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function useLocation(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return path;
}

/** Props of a link that navigates without reloading the page. */
export function link(path: string): { href: string; onClick: (e: MouseEvent) => void } {
  return {
    href: path,
    onClick: (e: MouseEvent) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
      e.preventDefault();
      navigate(path);
    },
  };
}

/** Calls `fn` now and every `ms` while the component is shown (pauses while the tab is hidden). */
export function usePolling(fn: () => void, ms: number, deps: readonly unknown[]): void {
  useEffect(() => {
    fn();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') fn();
    }, ms);
    return () => clearInterval(timer);
  }, deps);
}
