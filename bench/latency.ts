// Benchmark: latency at equal fixed rates. The broker bench's loads are closed
// loop (a window of undelivered messages per publisher), so a broker that moves
// more messages keeps its window fuller and its latency is its queue depth; here
// every broker gets the same open-loop publish rate (bench/load/paced.ts), QoS 1,
// 4 -> 4, 64 B, and latency is compared at equal load. Ours, Aedes and Mosquitto
// alternate in one invocation; medians over rounds.
import { LoadGenerator } from './load/client';
import { runMatrix, startPeers, type Scenario } from './broker';
import { ALL_PEERS, type PeerName } from './brokers/peers';
import type { PeerRun } from './brokers/run';
import { median, ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';

export interface LatencyBenchConfig {
  peers: PeerName[];
  /** Total publishes per second (all publishers together). */
  rates: number[];
  job: Omit<Scenario['job'], 'rate'>;
}

/** A rate counts as sustained when at least this share of it reached the subscribers. */
export const SUSTAINED = 0.95;

export function latencyConfig(quick: boolean): LatencyBenchConfig {
  return {
    peers: ALL_PEERS,
    rates: quick ? [2000, 10000] : [10000, 50000, 100000],
    job: { kind: 'paced', qos: 1, publishers: 4, subscribers: 4, payloadBytes: 64, window: 0, warmupMs: quick ? 300 : 700, durationMs: quick ? 1500 : 3000 },
  };
}

export interface LatencySummary {
  rate: number;
  peer: string;
  runs: number;
  /** Messages per second that reached every subscriber (deliveries / subscribers). */
  achievedPerSec: number;
  sustained: boolean;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  genCpuPct: number;
  brokerCpuPct: number;
  lost: number;
  errors: string[];
}

function summary(rate: number, peer: string, runs: PeerRun[], subscribers: number): LatencySummary {
  const achievedPerSec = median(runs.map((r) => r.deliveredPerSec / subscribers));
  return {
    rate, peer, runs: runs.length, achievedPerSec,
    sustained: achievedPerSec >= SUSTAINED * rate,
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    p999Ms: median(runs.map((r) => r.p999Ms ?? NaN)),
    genCpuPct: median(runs.map((r) => r.genCpuPct)),
    brokerCpuPct: median(runs.map((r) => r.brokerCpuPct)),
    lost: runs.reduce((a, r) => a + r.lost, 0),
    errors: runs.filter((r) => r.error).map((r) => r.error!),
  };
}

export async function runLatencyBench(opts: BenchOptions, cfg = latencyConfig(opts.quick)): Promise<BenchResult> {
  const scenarios: Scenario[] = cfg.rates.map((rate) => ({ name: `paced-${rate}`, what: `${rate} msg/s`, job: { ...cfg.job, rate } }));
  const { peers, skipped } = await startPeers(cfg.peers, opts.log);
  const gen = new LoadGenerator();
  try {
    const { runs, notes } = await runMatrix(gen, peers, scenarios, opts.rounds, opts.log, 'l');
    const summaries: LatencySummary[] = [];
    for (const s of scenarios) for (const p of peers) summaries.push(summary(s.job.rate!, p.name, runs.get(`${s.name}|${p.name}`) ?? [], cfg.job.subscribers));
    const find = (rate: number, p: string) => summaries.find((x) => x.rate === rate && x.peer === p);
    const rows = summaries.map((x) => {
      const ours = find(x.rate, 'ours');
      const vs = (k: 'p50Ms' | 'p99Ms' | 'p999Ms') => (x.peer === 'ours' || !ours ? '' : fmtRatio(ratio(ours[k], x[k])));
      const note = [
        x.errors.length ? x.errors[0].slice(0, 60) : '',
        x.sustained ? '' : `NOT SUSTAINED: ${Math.round((100 * x.achievedPerSec) / x.rate)}% of target`,
        x.genCpuPct >= 90 ? 'generator-bound' : '',
      ].filter(Boolean).join('; ');
      return [x.rate, x.peer, x.achievedPerSec, x.p50Ms, x.p99Ms, x.p999Ms, vs('p50Ms'), vs('p99Ms'), vs('p999Ms'), x.genCpuPct, x.brokerCpuPct, x.lost, note];
    });
    const verdicts = cfg.rates.map((rate) => {
      const ours = find(rate, 'ours');
      const others = peers.filter((p) => p.name !== 'ours').map((p) => find(rate, p.name)!);
      if (!ours || !others.length) return `${rate} msg/s: no comparison`;
      const worse = others.filter((o) => !(ours.p99Ms <= o.p99Ms));
      const unsustained = [ours, ...others].filter((o) => !o.sustained).map((o) => o.peer);
      return `${rate} msg/s: p99 goal ${worse.length ? `MISSED (worse than ${worse.map((o) => o.peer).join(', ')})` : 'met'}`
        + (unsustained.length ? `; not sustained by ${unsustained.join(', ')}` : '');
    });
    return {
      name: 'latency',
      tables: [{
        title: `latency at equal fixed rates: QoS 1, ${cfg.job.publishers} pub -> ${cfg.job.subscribers} sub, ${cfg.job.payloadBytes} B, open loop (medians of ${opts.rounds} rounds)`,
        header: ['target msg/s', 'broker', 'achieved msg/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'ours/peer p50', 'ours/peer p99', 'ours/peer p99.9', 'gen CPU%', 'broker CPU%', 'undelivered', 'note'],
        rows,
        notes: [
          `target = publishes per second over all ${cfg.job.publishers} publishers, paced by a 1 ms timer in batches (and on acknowledgements), at most ${cfg.job.inflight ?? 20} QoS 1 unacknowledged per publisher; ${cfg.job.durationMs} ms measured after ${cfg.job.warmupMs} ms warm-up`,
          `achieved = messages per second delivered to every subscriber (deliveries / ${cfg.job.subscribers}); below ${SUSTAINED * 100}% of target the row says NOT SUSTAINED`,
          'latency = publish written by the generator -> PUBLISH read by its subscriber (same process clock); messages the clock owes but the in-flight window holds back are not yet stamped',
          'undelivered = QoS 1 messages published (and acknowledged) but not at every subscriber 5 s after publishing stopped: dropped, or a backlog still queued',
          'generator-bound = the generator used >= 90% of a core: its own reading and writing are then part of the latency and may limit the achieved rate',
          'ratios below 1.00x mean ours is faster; CPU% is of one core; peers ran one at a time in the same invocation, order rotating',
          ...verdicts,
          ...skipped.map((s) => `skipped ${s}`),
          ...notes,
          ...peers.filter((p) => p.restarts).map((p) => `${p.name} was restarted ${p.restarts} time(s): ${p.deaths.join('; ')}`),
        ],
      }],
      data: { config: cfg, summaries, runs: Object.fromEntries(runs), notes, skipped },
    };
  } finally {
    await gen.stop();
    for (const p of peers) await p.stop();
  }
}
