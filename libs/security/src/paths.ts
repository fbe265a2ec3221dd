import { realpathSync } from 'node:fs';
import path from 'node:path';
import { PathEscapeError } from './errors.js';

const inside = (dir: string, candidate: string) => candidate === dir || candidate.startsWith(`${dir}${path.sep}`);

/** The real path of `p`'s deepest existing ancestor (itself when it exists) joined with the rest. */
function realpathOfExisting(p: string): string {
  const missing: string[] = [];
  let current = p;
  for (;;) {
    try {
      return path.join(realpathSync(current), ...missing.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return p;
      missing.push(path.basename(current));
      current = parent;
    }
  }
}

/**
 * Resolves `relative` inside `dir` and refuses anything that would leave it: an absolute path, `..` above `dir`,
 * or a symbolic link (anywhere along the existing part of the path) pointing outside. `dir` itself may be a
 * symbolic link. Returns the resolved path (not the real one, so messages show what the user wrote). Throws
 * {@link PathEscapeError} naming `field`.
 */
export function resolveInside(dir: string, relative: string, field: string): string {
  // A NUL byte would cut the path short in the file system calls below the JavaScript strings.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(relative)) {
    throw new PathEscapeError(
      field,
      relative,
      `${field} must not contain control characters (NUL, newlines, …), got ${JSON.stringify(relative)}`
    );
  }
  if (path.isAbsolute(relative)) {
    throw new PathEscapeError(
      field,
      relative,
      `${field} must be relative to the data directory, got ${JSON.stringify(relative)}`
    );
  }
  const base = path.resolve(dir);
  const resolved = path.resolve(base, relative);
  if (!inside(base, resolved)) {
    throw new PathEscapeError(
      field,
      relative,
      `${field} must stay inside the data directory, got ${JSON.stringify(relative)}`
    );
  }
  const realBase = realpathOfExisting(base);
  if (!inside(realBase, realpathOfExisting(resolved))) {
    throw new PathEscapeError(
      field,
      relative,
      `${field} must stay inside the data directory, got ${JSON.stringify(relative)} (a symbolic link leads outside)`
    );
  }
  return resolved;
}
