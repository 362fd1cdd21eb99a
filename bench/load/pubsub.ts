// What the two N publishers -> M subscribers loads share (scenario.ts closed loop,
// paced.ts open loop): connecting, writing stamped PUBLISH batches, counting
// deliveries, and the measured window with its drain and result. Each load keeps
// only its own pacing: when, and how many, to write.
import { LatencyHistogram } from '../lib/stats';
import { PublishTemplate, STAMP_BYTES, subscribePacket } from './packets';
import { RawClient, connectMany } from './raw-client';
import type { LoadJob, LoadResult, Mark } from './scenario';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function endAll(clients: RawClient[]): Promise<void> {
  for (let i = 0; i < clients.length; i += 500) await Promise.all(clients.slice(i, i + 500).map((c) => c.end()));
}

export function firstError(clients: RawClient[]): string | undefined {
  const c = clients.find((x) => x.error || x.closed);
  if (!c) return undefined;
  return `${c.clientId}: ${c.error ? c.error.message : 'closed by the broker'}`;
}

export class PubSubLoad {
  readonly M: number;
  readonly hist = new LatencyHistogram();
  readonly templates: PublishTemplate[];
  readonly seq: number[];
  readonly blocked: boolean[];
  /** QoS 1/2 messages each publisher has written and not yet had acknowledged. */
  readonly unacked: number[];
  readonly inflight: number;
  published = 0;
  delivered = 0;
  measuring = false;
  stopping = false;
  /** The load's own pacing; run by schedule() at most once per event-loop turn. */
  pump: () => void = () => undefined;
  private pumpQueued = false;

  private constructor(readonly job: LoadJob, readonly subs: RawClient[], readonly pubs: RawClient[], topic: string, readonly setupMs: number) {
    this.M = job.subscribers;
    this.templates = pubs.map((_, i) => new PublishTemplate(`${topic}/${i}`, job.qos, job.payloadBytes));
    this.seq = new Array<number>(pubs.length).fill(0);
    this.blocked = new Array<boolean>(pubs.length).fill(false);
    this.unacked = new Array<number>(pubs.length).fill(0);
    this.inflight = job.qos ? job.inflight ?? 20 : Infinity;
  }

  /** Subscribers on `<topic>/+`, then publishers, each on `<topic>/<i>`; setupMs counts from t0. */
  static async connect(job: LoadJob, topic: string, idPrefix: string, t0: number): Promise<PubSubLoad> {
    const clean = !job.persistent;
    const subs = await connectMany(job.subscriberPort ?? job.port, Array.from({ length: job.subscribers }, (_, i) => `${idPrefix}sub-${job.tag}-${i}`), 100, 0, clean);
    await Promise.all(subs.map((s) => s.subscribe(subscribePacket(1, [`${topic}/+`], job.qos))));
    const pubs = await connectMany(job.port, Array.from({ length: job.publishers }, (_, i) => `${idPrefix}pub-${job.tag}-${i}`), 100, 0, clean);
    return new PubSubLoad(job, subs, pubs, topic, performance.now() - t0);
  }

  readonly schedule = (): void => {
    if (!this.pumpQueued) {
      this.pumpQueued = true;
      setImmediate(() => { this.pumpQueued = false; this.pump(); });
    }
  };

  /** Writes n PUBLISHes from publisher p in one socket write, stamped `now`. */
  writeBatch(p: number, n: number, now: number): void {
    if (this.job.qos) this.unacked[p] += n;
    const tpl = this.templates[p];
    const buf = Buffer.allocUnsafe(tpl.length * n);
    for (let k = 0; k < n; k++) {
      const s = this.seq[p]++;
      tpl.writeInto(buf, k * tpl.length, (s % 65535) + 1, p, s, now);
    }
    this.published += n;
    if (!this.pubs[p].write(buf)) {
      this.blocked[p] = true;
      this.pubs[p].sock.once('drain', () => { this.blocked[p] = false; this.schedule(); });
    }
  }

  /** Counts a delivery to a subscriber and, in the measured window, its latency. */
  deliveredOne(m: { buf: Buffer; payloadAt: number; payloadEnd: number }): void {
    this.delivered++;
    if (this.measuring && m.payloadEnd - m.payloadAt >= STAMP_BYTES) this.hist.add(performance.now() - m.buf.readDoubleLE(m.payloadAt + 6));
  }

  /**
   * Warm-up, the measured window, then a drain of up to 5 s while `pending()`;
   * `stop()` ends the load's timers; every client (and `others`) is closed after.
   */
  async measure(mark: Mark, pending: () => boolean, opts: { others?: RawClient[]; stop: () => void; p999?: boolean }): Promise<LoadResult> {
    const all = [...this.subs, ...this.pubs, ...(opts.others ?? [])];
    let result: LoadResult;
    try {
      this.pump();
      await sleep(this.job.warmupMs);
      this.measuring = true;
      mark('start');
      const d0 = this.delivered, p0 = this.published, c0 = process.cpuUsage(), w0 = performance.now();
      await sleep(this.job.durationMs);
      const d1 = this.delivered, p1 = this.published, c1 = process.cpuUsage(c0), w1 = performance.now();
      this.measuring = false;
      this.stopping = true;
      mark('end');
      // Drain: everything published should reach every subscriber.
      const drainEnd = performance.now() + 5000;
      while (pending() && performance.now() < drainEnd && !firstError([...this.subs, ...this.pubs])) await sleep(20);
      const elapsedMs = w1 - w0;
      result = {
        published: p1 - p0,
        delivered: d1 - d0,
        lost: Math.max(0, this.published * this.M - this.delivered),
        elapsedMs,
        deliveredPerSec: ((d1 - d0) * 1000) / elapsedMs,
        publishedPerSec: ((p1 - p0) * 1000) / elapsedMs,
        p50Ms: this.hist.quantile(0.5),
        p99Ms: this.hist.quantile(0.99),
        ...(opts.p999 ? { p999Ms: this.hist.quantile(0.999) } : {}),
        genCpuPct: (100 * (c1.user + c1.system)) / 1000 / elapsedMs,
        setupMs: this.setupMs,
        error: firstError(all),
      };
    } finally {
      opts.stop();
      this.stopping = true;
    }
    await endAll([...this.pubs, ...this.subs, ...(opts.others ?? [])]);
    return result;
  }
}
