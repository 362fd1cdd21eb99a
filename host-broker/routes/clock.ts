// RFC 3339 timestamps with nanoseconds for object keys. Date has only
// milliseconds, so the nanoseconds come from process.hrtime.bigint() offset
// from a wall-clock base taken once; each call returns a strictly larger value,
// so two messages of one topic never get the same key within a process.

export class NanoClock {
  private readonly baseNs: bigint;
  private readonly hrBase: bigint;
  private last = 0n;

  constructor(nowMs: number = Date.now(), hrNow: bigint = process.hrtime.bigint()) {
    this.baseNs = BigInt(Math.floor(nowMs)) * 1000000n;
    this.hrBase = hrNow;
  }

  /** Nanoseconds since the Unix epoch, strictly increasing. */
  nowNs(): bigint {
    let t = this.baseNs + (process.hrtime.bigint() - this.hrBase);
    if (t <= this.last) t = this.last + 1n;
    this.last = t;
    return t;
  }

  /** Never go below an earlier process's timestamps (for instance read back from the queue after a restart). */
  notBefore(ns: bigint): void {
    if (ns > this.last) this.last = ns;
  }

  now(): string {
    return formatRfc3339Nano(this.nowNs());
  }
}

/** e.g. 2024-05-01T12:34:56.123456789Z */
export function formatRfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1000000n);
  const frac = (ns % 1000000000n).toString().padStart(9, '0');
  return new Date(ms).toISOString().slice(0, 19) + '.' + frac + 'Z';
}

/** Inverse of formatRfc3339Nano (UTC 'Z' form only). */
export function parseRfc3339Nano(s: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{9})Z$/.exec(s);
  if (!m) throw new Error(`not an RFC 3339 UTC timestamp with nanoseconds: ${s}`);
  return BigInt(Date.parse(m[1] + 'Z')) * 1000000n + BigInt(m[2]);
}
