// Delivery failures, sorted into two kinds: transient (the target is down,
// overloaded or slow: retry forever with backoff; the queue bound protects the
// hub) and permanent (the target refuses this message: retry a bounded number of
// times, then dead-letter it so it cannot block its topic).

export class DeliveryError extends Error {
  constructor(message: string, readonly permanent: boolean) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** Socket-level failures: always transient. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ABORT_ERR',
]);

export function isNetworkError(err: any): boolean {
  if (!err) return false;
  if (NETWORK_CODES.has(err.code) || err.name === 'AbortError' || err.name === 'TimeoutError') return true;
  if (Array.isArray(err.errors)) return err.errors.some(isNetworkError); // AggregateError from happy-eyeballs connects
  return isNetworkError(err.cause);
}

/** One line describing any thrown value, for hub events. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as any).code;
    let msg = err.message || err.name;
    if (!msg && Array.isArray((err as any).errors)) msg = (err as any).errors.map(describeError).join('; ');
    return (code && !msg.includes(String(code)) ? `${code}: ${msg}` : msg).replace(/\s+/g, ' ').slice(0, 500);
  }
  return String(err).slice(0, 500);
}

/** HTTP statuses that mean "try again later" rather than "no". */
export function transientHttpStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}
