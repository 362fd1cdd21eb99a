// Slows password guessing: an address with too many failed logins in a window
// has its new sockets refused for a while (an acceptSocket policy; the core's
// own limits cover total connections).
import type { BrokerHooks, HubEvent } from '../hooks';

export interface AuthThrottleOptions {
  /** Failures within windowMs that trigger a block; 0 turns the throttle off. Default 10. */
  maxFailures?: number;
  /** Default 60 s. */
  windowMs?: number;
  /** How long an address is refused; default 60 s. */
  blockMs?: number;
  /** Told once per block (e.g. broker.hubEvent). */
  report?: (ev: HubEvent) => void;
  /** Bound on tracked addresses, so a spray of sources cannot grow memory without end. Default 10000. */
  maxTracked?: number;
  now?: () => number;
}

/** The throttle's settings when the config says nothing (authThrottle in the config file). */
export const DEFAULT_AUTH_THROTTLE = { maxFailures: 10, windowMs: 60_000, blockMs: 60_000 };

interface Entry { failures: number[]; blockedUntil: number }

export class AuthFailureThrottle implements BrokerHooks {
  private readonly max: number;
  private readonly windowMs: number;
  private readonly blockMs: number;
  private readonly maxTracked: number;
  private readonly now: () => number;
  private readonly report?: (ev: HubEvent) => void;
  private readonly byAddress = new Map<string, Entry>();

  constructor(opts: AuthThrottleOptions = {}) {
    this.max = opts.maxFailures ?? DEFAULT_AUTH_THROTTLE.maxFailures;
    this.windowMs = opts.windowMs ?? DEFAULT_AUTH_THROTTLE.windowMs;
    this.blockMs = opts.blockMs ?? DEFAULT_AUTH_THROTTLE.blockMs;
    this.maxTracked = opts.maxTracked ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.report = opts.report;
    for (const [k, v] of [['maxFailures', this.max], ['windowMs', this.windowMs], ['blockMs', this.blockMs], ['maxTracked', this.maxTracked]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new Error(`authThrottle.${k}: expected an integer >= 0, got ${v}`);
    }
  }

  /** A login from `address` failed. */
  recordFailure(address: string): void {
    if (this.max === 0) return;
    const t = this.now();
    let e = this.byAddress.get(address);
    if (!e) {
      if (this.byAddress.size >= this.maxTracked) this.prune(t);
      if (this.byAddress.size >= this.maxTracked) this.byAddress.delete(this.byAddress.keys().next().value as string);
      e = { failures: [], blockedUntil: 0 };
      this.byAddress.set(address, e);
    }
    e.failures = e.failures.filter((f) => t - f < this.windowMs);
    e.failures.push(t);
    if (e.failures.length >= this.max && e.blockedUntil <= t) {
      e.blockedUntil = t + this.blockMs;
      e.failures = [];
      this.report?.({ kind: 'limit_exceeded', severity: 'warning', objectType: 'hub', objectId: 'auth-throttle',
        message: `${this.max} failed logins from ${address} within ${this.windowMs} ms: refusing its connections for ${this.blockMs} ms` });
    }
  }

  /** Milliseconds `address` is still refused for (0 = not blocked). */
  blockedFor(address: string): number {
    const e = this.byAddress.get(address);
    return e ? Math.max(0, e.blockedUntil - this.now()) : 0;
  }

  acceptSocket(info: { remoteAddress: string }): boolean {
    return this.blockedFor(info.remoteAddress) === 0;
  }

  private prune(t: number): void {
    for (const [k, e] of this.byAddress) {
      if (e.blockedUntil <= t && e.failures.every((f) => t - f >= this.windowMs)) this.byAddress.delete(k);
    }
  }
}
