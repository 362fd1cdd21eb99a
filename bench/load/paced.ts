// Open-loop load at a fixed total publish rate: N publishers -> M subscribers,
// paced by the clock, not by deliveries. A closed-loop window keeps a fast
// broker's queue full (its latency is then queue depth), so latency is compared
// here at the same offered rate for every broker. Messages owed by the clock
// are written in batches, spread over the publishers, on a 1 ms timer and again
// whenever acknowledgements free a QoS 1/2 in-flight slot. A broker that cannot
// keep up shows as achieved < target (messages still owed are not written, so
// latency stays publish written -> PUBLISH read, as in the other scenarios).
import { LatencyHistogram } from '../lib/stats';
import { PublishTemplate, STAMP_BYTES, T_PUBACK, T_PUBCOMP, subscribePacket } from './packets';
import { connectMany } from './raw-client';
import { endAll, firstError, type LoadJob, type LoadResult, type Mark } from './scenario';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Most messages one publisher writes in one go (a burst after a stall is still split). */
const MAX_BATCH = 256;

export async function runPaced(job: LoadJob, mark: Mark = () => undefined): Promise<LoadResult> {
  if (!job.rate || job.rate <= 0) throw new Error(`paced job: rate must be a positive number of publishes per second, got ${job.rate}`);
  const rate = job.rate;
  const t0 = performance.now();
  const topic = `paced/${job.tag}`;
  const subs = await connectMany(job.port, Array.from({ length: job.subscribers }, (_, i) => `psub-${job.tag}-${i}`));
  await Promise.all(subs.map((s) => s.subscribe(subscribePacket(1, [`${topic}/+`], job.qos))));
  const pubs = await connectMany(job.port, Array.from({ length: job.publishers }, (_, i) => `ppub-${job.tag}-${i}`));
  const setupMs = performance.now() - t0;
  const templates = pubs.map((_, i) => new PublishTemplate(`${topic}/${i}`, job.qos, job.payloadBytes));
  const M = job.subscribers;
  const hist = new LatencyHistogram();
  const seq = new Array<number>(pubs.length).fill(0);
  const blocked = new Array<boolean>(pubs.length).fill(false);
  const unacked = new Array<number>(pubs.length).fill(0);
  const inflight = job.qos ? job.inflight ?? 20 : Infinity;
  let published = 0;
  let delivered = 0;
  let measuring = false;
  let stopping = false;
  let rr = 0;
  let pumpQueued = false;
  const start = performance.now();

  const pump = () => {
    pumpQueued = false;
    if (stopping) return;
    const now = performance.now();
    let owed = Math.floor(((now - start) * rate) / 1000) - published;
    for (let tries = 0; tries < pubs.length && owed > 0; tries++) {
      const p = rr;
      rr = (rr + 1) % pubs.length;
      if (blocked[p]) continue;
      // An even share of what is owed, at least one, within this publisher's in-flight window.
      const n = Math.min(Math.ceil(owed / (pubs.length - tries)), MAX_BATCH, inflight - unacked[p]);
      if (n <= 0) continue;
      if (job.qos) unacked[p] += n;
      const tpl = templates[p];
      const buf = Buffer.allocUnsafe(tpl.length * n);
      for (let k = 0; k < n; k++) {
        const s = seq[p]++;
        tpl.writeInto(buf, k * tpl.length, (s % 65535) + 1, p, s, now);
      }
      published += n;
      owed -= n;
      if (!pubs[p].write(buf)) {
        blocked[p] = true;
        pubs[p].sock.once('drain', () => { blocked[p] = false; schedule(); });
      }
    }
  };
  const schedule = () => {
    if (!pumpQueued) {
      pumpQueued = true;
      setImmediate(pump);
    }
  };
  pubs.forEach((c, p) => {
    c.onAck = (type) => { if (type === T_PUBACK || type === T_PUBCOMP) unacked[p]--; };
    if (job.qos) c.onChunk = schedule;
  });
  subs.forEach((s) => {
    s.onPublish = (m) => {
      delivered++;
      if (measuring && m.payloadEnd - m.payloadAt >= STAMP_BYTES) hist.add(performance.now() - m.buf.readDoubleLE(m.payloadAt + 6));
    };
  });
  const timer = setInterval(pump, 1);

  let result: LoadResult;
  try {
    pump();
    await sleep(job.warmupMs);
    measuring = true;
    mark('start');
    const d0 = delivered, p0 = published, c0 = process.cpuUsage(), w0 = performance.now();
    await sleep(job.durationMs);
    const d1 = delivered, p1 = published, c1 = process.cpuUsage(c0), w1 = performance.now();
    measuring = false;
    stopping = true;
    mark('end');
    const drainEnd = performance.now() + 5000;
    while (published * M > delivered && performance.now() < drainEnd && !firstError([...subs, ...pubs])) await sleep(20);
    const elapsedMs = w1 - w0;
    result = {
      published: p1 - p0,
      delivered: d1 - d0,
      lost: Math.max(0, published * M - delivered),
      elapsedMs,
      deliveredPerSec: ((d1 - d0) * 1000) / elapsedMs,
      publishedPerSec: ((p1 - p0) * 1000) / elapsedMs,
      p50Ms: hist.quantile(0.5),
      p99Ms: hist.quantile(0.99),
      p999Ms: hist.quantile(0.999),
      genCpuPct: (100 * (c1.user + c1.system)) / 1000 / elapsedMs,
      setupMs,
      error: firstError([...subs, ...pubs]),
    };
  } finally {
    clearInterval(timer);
    stopping = true;
  }
  await endAll([...pubs, ...subs]);
  return result;
}
