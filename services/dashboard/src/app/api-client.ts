import type { ApiError } from '../api.js';

/** An answer of the API other than 2xx; `status` 401 means: sign in. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** A JSON call to the coordinator's API; the session cookie goes along (same origin). */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const response = await fetch(path, {
    method: init.method ?? 'GET',
    credentials: 'same-origin',
    headers: init.body !== undefined ? { 'Content-Type': 'application/json' } : {},
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  if (response.status === 204) return undefined as T;
  const body = (await response.json().catch(() => ({ error: response.statusText }))) as T | ApiError;
  if (!response.ok) throw new ApiRequestError(response.status, (body as ApiError).error ?? response.statusText);
  return body as T;
}
