// Load scenarios the generator runs against one broker: N publishers -> M
// subscribers at a QoS with an end-to-end window (a publisher may have at most
// `window` messages not yet delivered to every subscriber, so no broker queue
// overflows and the figure is sustained throughput), and a one-at-a-time
// round-trip latency run. Optional idle clients hold extra subscriptions or
// connections for the cost-growth bench.
import { LatencyHistogram } from '../lib/stats';
import { PublishTemplate, subscribePacket } from './packets';
import { PubSubLoad, endAll, firstError } from './pubsub';
import { RawClient, connectMany } from './raw-client';

export interface LoadJob {
  kind: 'throughput' | 'latency' | 'paced';
  port: number;
  /** Where the subscribers connect when not to `port` (the bridge bench: publishers at the edge, subscribers upstream). */
  subscriberPort?: number;
  qos: 0 | 1 | 2;
  publishers: number;
  subscribers: number;
  payloadBytes: number;
  /** Messages per publisher not yet delivered to all subscribers. */
  window: number;
  /**
   * QoS 1/2 messages a publisher may have unacknowledged (PUBACK / PUBCOMP), like
   * a real client's in-flight window. Mosquitto drops (yet acknowledges) incoming
   * QoS 1/2 beyond its max_inflight_messages (20), so the default is 20.
   */
  inflight?: number;
  warmupMs: number;
  durationMs: number;
  /** paced: total publishes per second over all publishers, open loop (bench/load/paced.ts). */
  rate?: number;
  /** latency: messages timed (after 10% warm-up). */
  messages?: number;
  /** Extra connected clients, and extra subscriptions spread over them (none match the load). */
  idleClients?: number;
  idleSubscriptions?: number;
  /**
   * Publishers and subscribers connect with clean session = 0: the broker keeps
   * their sessions, so a durable broker stores every QoS 1/2 message it routes.
   */
  persistent?: boolean;
  /** Makes client ids and topics unique per run. */
  tag: string;
}

export interface LoadResult {
  published: number;
  delivered: number;
  /** Messages never delivered (QoS 0 may drop; QoS 1/2 must not). */
  lost: number;
  elapsedMs: number;
  deliveredPerSec: number;
  publishedPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** paced runs only. */
  p999Ms?: number;
  /** The generator's own CPU in the measured window, % of one core. */
  genCpuPct: number;
  setupMs: number;
  error?: string;
}


async function idleSetup(job: LoadJob): Promise<RawClient[]> {
  const n = job.idleClients ?? 0;
  if (!n) return [];
  const clients = await connectMany(job.port, Array.from({ length: n }, (_, i) => `idle-${job.tag}-${i}`), 200);
  let subs = job.idleSubscriptions ?? 0;
  const per = Math.ceil(subs / n);
  const work: Promise<void>[] = [];
  for (let i = 0; i < n && subs > 0; i++) {
    const mine = Math.min(per, subs);
    subs -= mine;
    // Filters like a fleet's command topics, some with a wildcard; none matches bench/.
    const filters = Array.from({ length: mine }, (_, j) => (j % 4 === 3 ? `dev/${job.tag}/${i}/+/${j}` : `dev/${job.tag}/${i}/${j}/cmd`));
    work.push((async () => {
      for (let k = 0; k < filters.length; k += 100) {
        await clients[i].subscribe(subscribePacket(1 + (k / 100) % 60000, filters.slice(k, k + 100), 1));
      }
    })());
    if (work.length >= 50) await Promise.all(work.splice(0));
  }
  await Promise.all(work);
  return clients;
}

/** Told when the measured window starts and ends, so the parent can sample the broker then. */
export type Mark = (m: 'start' | 'end') => void;

export async function runThroughput(job: LoadJob, mark: Mark = () => undefined): Promise<LoadResult> {
  const t0 = performance.now();
  const idle = await idleSetup(job);
  const load = await PubSubLoad.connect(job, `bench/${job.tag}`, '', t0);
  const { pubs, subs, unacked, blocked, inflight, M } = load;
  let lost = 0;
  // Per subscriber: messages received, and messages written off as lost (QoS 0 only drops).
  const got = new Array<number>(M).fill(0);
  const written = new Array<number>(M).fill(0);
  // The slowest subscriber sets the window: a broker's queue is per subscriber.
  const slowest = () => {
    let m = Infinity;
    for (let i = 0; i < M; i++) if (got[i] + written[i] < m) m = got[i] + written[i];
    return m;
  };
  let lastProgress = performance.now();
  let rr = 0;

  load.pump = () => {
    if (load.stopping) return;
    const windowTotal = job.window * pubs.length;
    for (let tries = 0; tries < pubs.length; tries++) {
      const outstanding = load.published - slowest();
      let allowed = windowTotal - outstanding;
      if (allowed <= 0) return;
      const p = rr;
      rr = (rr + 1) % pubs.length;
      if (blocked[p] || unacked[p] >= inflight) continue;
      allowed = Math.min(allowed, Math.max(1, Math.ceil(job.window / 4)), 64, inflight - unacked[p]);
      load.writeBatch(p, allowed, performance.now());
    }
  };
  pubs.forEach((c, p) => {
    c.onAck = () => { unacked[p]--; };
    c.onChunk = load.schedule;
  });
  subs.forEach((s, i) => {
    s.onPublish = (m) => {
      got[i]++;
      load.deliveredOne(m);
    };
    s.onChunk = () => { lastProgress = performance.now(); load.schedule(); };
  });
  // QoS 0 may drop: after a second without progress, write the missing off as lost so the window reopens.
  const watchdog = setInterval(() => {
    if (performance.now() - lastProgress > 1000 && load.published * M > load.delivered + lost) {
      for (let i = 0; i < M; i++) written[i] = load.published - got[i];
      lost = load.published * M - load.delivered;
      lastProgress = performance.now();
      load.schedule();
    }
  }, 250);
  return load.measure(mark, () => load.published * M > load.delivered + lost, { others: idle, stop: () => clearInterval(watchdog) });
}

/** One message at a time, publisher -> broker -> subscriber, timed per message. */
export async function runLatency(job: LoadJob, mark: Mark = () => undefined): Promise<LoadResult> {
  const t0 = performance.now();
  const topic = `lat/${job.tag}`;
  const [sub] = await connectMany(job.subscriberPort ?? job.port, [`lsub-${job.tag}`]);
  await sub.subscribe(subscribePacket(1, [topic], job.qos));
  const [pub] = await connectMany(job.port, [`lpub-${job.tag}`]);
  const setupMs = performance.now() - t0;
  const tpl = new PublishTemplate(topic, job.qos, job.payloadBytes);
  const hist = new LatencyHistogram();
  const total = job.messages ?? 1000;
  const warm = Math.ceil(total / 10);
  let waiting: (() => void) | null = null;
  sub.onPublish = () => { if (waiting) waiting(); };
  mark('start');
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  let done = 0;
  let error: string | undefined;
  for (let i = 0; i < total + warm; i++) {
    const buf = Buffer.allocUnsafe(tpl.length);
    const sent = performance.now();
    tpl.writeInto(buf, 0, (i % 65535) + 1, 0, i, sent);
    const got = new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 5000);
      waiting = () => { clearTimeout(t); waiting = null; resolve(true); };
    });
    pub.write(buf);
    if (!(await got)) { error = `message ${i} not delivered within 5 s`; break; }
    if (i >= warm) { hist.add(performance.now() - sent); done++; }
  }
  const c1 = process.cpuUsage(c0);
  const elapsedMs = performance.now() - w0;
  mark('end');
  const result: LoadResult = {
    published: done, delivered: done, lost: 0, elapsedMs,
    deliveredPerSec: (done * 1000) / elapsedMs, publishedPerSec: (done * 1000) / elapsedMs,
    p50Ms: hist.quantile(0.5), p99Ms: hist.quantile(0.99),
    genCpuPct: (100 * (c1.user + c1.system)) / 1000 / elapsedMs, setupMs,
    error: error ?? firstError([pub, sub]),
  };
  await endAll([pub, sub]);
  return result;
}
