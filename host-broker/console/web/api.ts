// Calls to the control API from the page: same origin, the session cookie, and
// the header that marks a console request (the server's CSRF guard).
export class ApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(fn: () => void): void { onUnauthorized = fn; }

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { 'x-hub-console': '1', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  if (res.status === 401) onUnauthorized();
  if (!res.ok) throw new ApiError(res.status, json?.error ?? `HTTP ${res.status}`);
  return json as T;
}

export const enc = encodeURIComponent;
