// Open-loop load at a fixed total publish rate: N publishers -> M subscribers,
// paced by the clock, not by deliveries. A closed-loop window keeps a fast
// broker's queue full (its latency is then queue depth), so latency is compared
// here at the same offered rate for every broker. Messages owed by the clock
// are written in batches, spread over the publishers, on a 1 ms timer and again
// whenever acknowledgements free a QoS 1/2 in-flight slot. A broker that cannot
// keep up shows as achieved < target (messages still owed are not written, so
// latency stays publish written -> PUBLISH read, as in the other scenarios).
import { T_PUBACK, T_PUBCOMP } from './packets';
import { PubSubLoad } from './pubsub';
import type { LoadJob, LoadResult, Mark } from './scenario';

/** Most messages one publisher writes in one go (a burst after a stall is still split). */
const MAX_BATCH = 256;

export async function runPaced(job: LoadJob, mark: Mark = () => undefined): Promise<LoadResult> {
  if (!job.rate || job.rate <= 0) throw new Error(`paced job: rate must be a positive number of publishes per second, got ${job.rate}`);
  const rate = job.rate;
  const load = await PubSubLoad.connect(job, `paced/${job.tag}`, 'p', performance.now());
  const { pubs, subs, unacked, blocked, inflight, M } = load;
  let rr = 0;
  const start = performance.now();

  load.pump = () => {
    if (load.stopping) return;
    const now = performance.now();
    let owed = Math.floor(((now - start) * rate) / 1000) - load.published;
    for (let tries = 0; tries < pubs.length && owed > 0; tries++) {
      const p = rr;
      rr = (rr + 1) % pubs.length;
      if (blocked[p]) continue;
      // An even share of what is owed, at least one, within this publisher's in-flight window.
      const n = Math.min(Math.ceil(owed / (pubs.length - tries)), MAX_BATCH, inflight - unacked[p]);
      if (n <= 0) continue;
      load.writeBatch(p, n, now);
      owed -= n;
    }
  };
  pubs.forEach((c, p) => {
    c.onAck = (type) => { if (type === T_PUBACK || type === T_PUBCOMP) unacked[p]--; };
    if (job.qos) c.onChunk = load.schedule;
  });
  subs.forEach((s) => { s.onPublish = (m) => load.deliveredOne(m); });
  const timer = setInterval(load.pump, 1);
  return load.measure(mark, () => load.published * M > load.delivered, { stop: () => clearInterval(timer), p999: true });
}
