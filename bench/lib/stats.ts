// Small statistics helpers: medians over rounds, ratios that stay readable.

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** ours / theirs, or NaN when either side is missing. */
export function ratio(ours: number, theirs: number): number {
  return Number.isFinite(ours) && Number.isFinite(theirs) && theirs !== 0 ? ours / theirs : NaN;
}

export function round(x: number, digits = 0): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.pow(10, digits);
  return Math.round(x * f) / f;
}

/**
 * Latency histogram with fixed 10 µs buckets up to 10 s (1 M buckets, 4 MB):
 * constant cost per sample however many millions arrive.
 */
export class LatencyHistogram {
  private static readonly STEP_MS = 0.01;
  private buckets = new Uint32Array(1_000_000);
  count = 0;
  max = 0;

  add(ms: number): void {
    let i = Math.floor(ms / LatencyHistogram.STEP_MS);
    if (i < 0) i = 0;
    if (i >= this.buckets.length) i = this.buckets.length - 1;
    this.buckets[i]++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  reset(): void {
    this.buckets.fill(0);
    this.count = 0;
    this.max = 0;
  }

  /** The q-quantile (0..1) in ms, to bucket resolution; NaN when empty. */
  quantile(q: number): number {
    if (!this.count) return NaN;
    const want = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= want) return (i + 1) * LatencyHistogram.STEP_MS;
    }
    return this.max;
  }
}
