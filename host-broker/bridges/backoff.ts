// Reconnect delays: capped exponential backoff with jitter. The cap keeps a hub
// retrying every maxMs during a long outage; the jitter (each delay drawn from
// its upper half) keeps a fleet of hubs that lost the same upstream together
// from all coming back in the same second.

export interface BackoffOptions { initialMs: number; maxMs: number }

/** Delay before attempt `attempt` (1 = the first retry): min(max, initial * 2^(attempt-1)), then a random point in its upper half. */
export function backoffDelay(attempt: number, b: BackoffOptions, random: () => number = Math.random): number {
  const cap = Math.min(b.maxMs, b.initialMs * Math.pow(2, Math.min(Math.max(attempt, 1) - 1, 40)));
  return Math.round(cap / 2 + random() * (cap / 2));
}
