// Benchmark 4: broker throughput and latency. Our host broker, Aedes (npm) and
// Mosquitto (Debian), each in its own process on 127.0.0.1, driven in turn by
// one load generator process writing pre-encoded packets straight to sockets.
// Each round runs every peer once per scenario, rotating the order, and the
// table shows medians with ours / peer ratios. A second table does the same for
// persistent sessions on durable stores: ours on SQLite (synchronous=FULL,
// acknowledged = on disk) against Mosquitto saving its database on every change.
import { LoadGenerator } from './load/client';
import type { LoadJob } from './load/scenario';
import { ALL_PEERS, DURABLE_PEERS, peerAvailable, startPeer, type Peer, type PeerName } from './brokers/peers';
import { runOnPeer, type PeerRun } from './brokers/run';
import { median, ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { BenchOptions, BenchResult, TableOut } from './lib/types';

export interface Scenario { name: string; what: string; job: Omit<LoadJob, 'port' | 'tag'> }

export interface BrokerBenchConfig {
  scenarios: Scenario[];
  peers: PeerName[];
  /** Persistent-session scenarios on the durable peers (a table of their own); none if absent. */
  durable?: { scenarios: Scenario[]; peers: PeerName[] };
}

export function brokerConfig(quick: boolean): BrokerBenchConfig {
  const t = quick ? { warmupMs: 300, durationMs: 1500 } : { warmupMs: 700, durationMs: 4000 };
  const base = { payloadBytes: 64, window: 100, ...t };
  return {
    peers: ALL_PEERS,
    scenarios: [
      { name: 'qos0', what: '4 pub -> 4 sub, QoS 0', job: { ...base, kind: 'throughput', qos: 0, publishers: 4, subscribers: 4 } },
      { name: 'qos1', what: '4 pub -> 4 sub, QoS 1', job: { ...base, kind: 'throughput', qos: 1, publishers: 4, subscribers: 4 } },
      { name: 'qos2', what: '4 pub -> 4 sub, QoS 2', job: { ...base, kind: 'throughput', qos: 2, publishers: 4, subscribers: 4 } },
      { name: 'fanout', what: '1 pub -> 100 sub, QoS 0', job: { ...base, kind: 'throughput', qos: 0, publishers: 1, subscribers: quick ? 50 : 100, window: 20 } },
      { name: 'fanout-qos1', what: `1 pub -> ${quick ? 50 : 100} sub, QoS 1`, job: { ...base, kind: 'throughput', qos: 1, publishers: 1, subscribers: quick ? 50 : 100, window: 20 } },
      { name: 'rtt-qos1', what: '1 -> 1, one at a time, QoS 1', job: { ...base, kind: 'latency', qos: 1, publishers: 1, subscribers: 1, window: 1, messages: quick ? 500 : 3000 } },
    ],
    durable: {
      peers: DURABLE_PEERS,
      // As the issue measured them: 64 unacknowledged PUBLISHes per publisher, no per-client bounds in either broker.
      scenarios: [
        { name: 'persist-qos1', what: '4 pub -> 4 sub, QoS 1, persistent sessions', job: { ...base, kind: 'throughput', qos: 1, publishers: 4, subscribers: 4, inflight: 64, persistent: true } },
        { name: 'persist-qos2', what: '4 pub -> 4 sub, QoS 2, persistent sessions', job: { ...base, kind: 'throughput', qos: 2, publishers: 4, subscribers: 4, inflight: 64, persistent: true } },
      ],
    },
  };
}

/** Starts the peers that can run here; the others are reported as skipped. */
export async function startPeers(names: PeerName[], log: (l: string) => void): Promise<{ peers: Peer[]; skipped: string[] }> {
  const peers: Peer[] = [];
  const skipped: string[] = [];
  for (const n of names) {
    const why = peerAvailable(n);
    if (why) { skipped.push(`${n}: ${why}`); continue; }
    log(`starting ${n}`);
    peers.push(await startPeer(n));
  }
  return { peers, skipped };
}

export interface Summary {
  scenario: string;
  what: string;
  peer: string;
  runs: number;
  msgPerSec: number;
  p50Ms: number;
  p99Ms: number;
  genCpuPct: number;
  brokerCpuPct: number;
  rssMb: number;
  lost: number;
  errors: string[];
}

export function summarise(scenario: Scenario, peer: string, runs: PeerRun[]): Summary {
  return {
    scenario: scenario.name,
    what: scenario.what,
    peer,
    runs: runs.length,
    msgPerSec: median(runs.map((r) => r.deliveredPerSec)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    genCpuPct: median(runs.map((r) => r.genCpuPct)),
    brokerCpuPct: median(runs.map((r) => r.brokerCpuPct)),
    rssMb: median(runs.map((r) => r.rssEndMb)),
    lost: runs.reduce((a, r) => a + r.lost, 0),
    errors: runs.filter((r) => r.error).map((r) => r.error!),
  };
}

/** Runs every scenario `rounds` times on every peer, rotating which peer goes first. */
export async function runMatrix(gen: LoadGenerator, peers: Peer[], scenarios: Scenario[], rounds: number, log: (l: string) => void,
  tagPrefix: string): Promise<{ runs: Map<string, PeerRun[]>; notes: string[] }> {
  const runs = new Map<string, PeerRun[]>();
  const notes: string[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [si, s] of scenarios.entries()) {
      const order = peers.map((_, i) => peers[(i + r + si) % peers.length]);
      for (const p of order) {
        const run = await runOnPeer(gen, p, { ...s.job, tag: `${tagPrefix}${si}r${r}${p.name[0]}` });
        notes.push(...run.restarts.map((x) => `round ${r + 1}: ${x}`));
        const key = `${s.name}|${p.name}`;
        runs.set(key, [...(runs.get(key) ?? []), run]);
        log(`${s.name} round ${r + 1}/${rounds} ${p.name}: ${Math.round(run.deliveredPerSec)} msg/s p99 ${run.p99Ms} ms gen ${Math.round(run.genCpuPct)}% broker ${Math.round(run.brokerCpuPct)}%${run.error ? ' ERROR ' + run.error : ''}`);
      }
    }
  }
  return { runs, notes };
}

export function ratiosVs(ours: Summary | undefined, peer: Summary | undefined, key: 'msgPerSec' | 'p99Ms'): number {
  return ours && peer ? ratio(ours[key], peer[key]) : NaN;
}

/** One table of medians for a matrix run, with ratios of `ours` against each other peer. */
function matrixTable(title: string, ours: string, scenarios: Scenario[], peers: Peer[], runs: Map<string, PeerRun[]>, notes: string[]): { table: TableOut; summaries: Summary[] } {
  const summaries: Summary[] = [];
  for (const s of scenarios) for (const p of peers) summaries.push(summarise(s, p.name, runs.get(`${s.name}|${p.name}`) ?? []));
  const find = (s: string, p: string) => summaries.find((x) => x.scenario === s && x.peer === p);
  // Deliveries per broker CPU-second: what a message costs the broker, even when the generator is the limit.
  const perCpu = (x: Summary) => x.msgPerSec / (x.brokerCpuPct / 100);
  const rows = summaries.map((x) => {
    const o = find(x.scenario, ours);
    return [x.scenario, x.peer, x.msgPerSec, x.p50Ms, x.p99Ms,
      x.peer === ours ? '' : fmtRatio(ratiosVs(o, x, 'msgPerSec')),
      x.peer === ours ? '' : fmtRatio(ratiosVs(o, x, 'p99Ms')),
      x.genCpuPct, x.brokerCpuPct, perCpu(x),
      x.peer === ours || !o ? '' : fmtRatio(ratio(perCpu(o), perCpu(x))),
      x.rssMb, x.lost, x.errors.length ? x.errors[0].slice(0, 60) : x.genCpuPct >= 90 ? 'generator-bound' : ''];
  });
  return {
    summaries,
    table: {
      title,
      header: ['scenario', 'broker', 'msg/s', 'p50 ms', 'p99 ms', `${ours}/peer msg/s`, `${ours}/peer p99`, 'gen CPU%', 'broker CPU%', 'msg/CPU-s', `${ours}/peer msg/CPU-s`, 'RSS MB', 'lost', 'note'],
      rows,
      notes: [
        ...scenarios.map((s) => `${s.name}: ${s.what}, ${s.job.payloadBytes} B payload` + (s.job.kind === 'throughput'
          ? `, window ${s.job.window}/publisher, ${s.job.inflight ?? 20} unacknowledged/publisher, ${s.job.durationMs} ms measured` : `, ${s.job.messages} messages`)),
        ...notes,
        ...peers.filter((p) => p.restarts).map((p) => `${p.name} was restarted ${p.restarts} time(s): ${p.deaths.join('; ')}`),
      ],
    },
  };
}

export async function runBrokerBench(opts: BenchOptions, cfg = brokerConfig(opts.quick)): Promise<BenchResult> {
  const tables: TableOut[] = [];
  const data: Record<string, unknown> = { config: cfg };
  const gen = new LoadGenerator();
  try {
    /** Starts the peers, runs the scenarios on each, renders one table against `baseline`, stops them. */
    const table = async (peerNames: PeerName[], scenarios: Scenario[], tag: string, title: string, baseline: PeerName, notes: string[]) => {
      const { peers, skipped } = await startPeers(peerNames, opts.log);
      try {
        const m = await runMatrix(gen, peers, scenarios, opts.rounds, opts.log, tag);
        const t = matrixTable(`${title} (medians of ${opts.rounds} rounds; msg/s = deliveries per second at the subscribers)`, baseline, scenarios, peers, m.runs,
          [...notes, ...skipped.map((x) => `skipped ${x}`), ...m.notes]);
        tables.push(t.table);
        return { summaries: t.summaries, runs: Object.fromEntries(m.runs), notes: m.notes, skipped };
      } finally {
        for (const p of peers) await p.stop();
      }
    };
    Object.assign(data, await table(cfg.peers, cfg.scenarios, 'b', 'broker throughput and latency', 'ours', [
      'latency = publish written by the generator -> PUBLISH read by its subscriber (same process clock); under load for throughput rows',
      'p99 ratio: below 1.00x means ours is faster; CPU% is of one core; peers ran one at a time in the same invocation',
      'msg/CPU-s = deliveries per second of broker CPU; generator-bound = the generator used >= 90% of a core, so that msg/s is a lower bound for the broker',
    ]));
    if (cfg.durable && cfg.durable.scenarios.length) {
      const d = await table(cfg.durable.peers, cfg.durable.scenarios, 'd', 'persistent sessions on durable stores', 'ours-sqlite', [
        'publishers and subscribers connect with clean session = 0, so every QoS 1/2 message is stored for its subscribers',
        'ours-sqlite: SqliteStore, WAL, synchronous=FULL; PUBACK/PUBREC only after the commit holding the message is on disk; no per-client bounds (65535 in flight, 10,000,000 / 1 TiB queued)',
        'mosquitto-autosave: persistence true, autosave_on_changes true, autosave_interval 1, max_inflight_messages 0, max_queued_messages 0; it saves after acknowledging, so kill -9 can lose acknowledged messages',
      ]);
      Object.assign(data, { durableSummaries: d.summaries, durableRuns: d.runs, durableNotes: d.notes, durableSkipped: d.skipped });
    }
    return { name: 'broker', tables, data };
  } finally {
    await gen.stop();
  }
}
