// Benchmark 5: cost growth. The same QoS 1 load (2 publishers -> 2 subscribers)
// while the broker also holds many subscriptions, or many connected clients,
// none of which the load matches: how throughput and broker memory change with
// size, for ours, Aedes and Mosquitto alternating.
import { LoadGenerator } from './load/client';
import { startPeers, summarise, type Scenario } from './broker';
import { ALL_PEERS, type PeerName } from './brokers/peers';
import { runOnPeer, type PeerRun } from './brokers/run';
import { median, ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';

export interface GrowthConfig {
  peers: PeerName[];
  subscriptions: number[];
  clients: number[];
  load: Scenario['job'];
}

export function growthConfig(quick: boolean): GrowthConfig {
  return {
    peers: ALL_PEERS,
    subscriptions: quick ? [1, 100, 1000] : [1, 100, 10000],
    clients: quick ? [10, 200, 1000] : [10, 1000, 5000],
    load: { kind: 'throughput', qos: 1, publishers: 2, subscribers: 2, payloadBytes: 64, window: 100, warmupMs: quick ? 300 : 500, durationMs: quick ? 1000 : 2500 },
  };
}

interface Point { dimension: 'subscriptions' | 'clients'; size: number; idleClients: number; idleSubscriptions: number }

export async function runGrowthBench(opts: BenchOptions, cfg = growthConfig(opts.quick)): Promise<BenchResult> {
  const points: Point[] = [
    // Extra subscriptions held by up to 10 idle clients.
    ...cfg.subscriptions.map((n) => ({ dimension: 'subscriptions' as const, size: n, idleClients: Math.min(10, n), idleSubscriptions: n })),
    // Idle clients with one subscription each (a device's command topic).
    ...cfg.clients.map((n) => ({ dimension: 'clients' as const, size: n, idleClients: n, idleSubscriptions: n })),
  ];
  const { peers, skipped } = await startPeers(cfg.peers, opts.log);
  const gen = new LoadGenerator();
  const runs = new Map<string, PeerRun[]>();
  const notes: string[] = [];
  try {
    for (let r = 0; r < opts.rounds; r++) {
      for (const [pi, pt] of points.entries()) {
        for (let k = 0; k < peers.length; k++) {
          const p = peers[(k + r + pi) % peers.length];
          const run = await runOnPeer(gen, p, { ...cfg.load, idleClients: pt.idleClients, idleSubscriptions: pt.idleSubscriptions, tag: `g${pi}r${r}${p.name[0]}` }, 300000);
          notes.push(...run.restarts.map((x) => `round ${r + 1}: ${x}`));
          const key = `${pi}|${p.name}`;
          runs.set(key, [...(runs.get(key) ?? []), run]);
          opts.log(`growth ${pt.dimension}=${pt.size} round ${r + 1}/${opts.rounds} ${p.name}: ${Math.round(run.deliveredPerSec)} msg/s, RSS ${run.rssStartMb.toFixed(1)} MB, setup ${Math.round(run.setupMs)} ms${run.error ? ' ERROR ' + run.error : ''}`);
        }
      }
    }
    const scenario = (pt: Point): Scenario => ({ name: `${pt.dimension}=${pt.size}`, what: '', job: cfg.load });
    const rows = [];
    const data = [];
    for (const [pi, pt] of points.entries()) {
      const ours = runs.get(`${pi}|ours`) ?? [];
      const oursRate = median(ours.map((x) => x.deliveredPerSec));
      const oursRss = median(ours.map((x) => x.rssStartMb));
      for (const p of peers) {
        const rs = runs.get(`${pi}|${p.name}`) ?? [];
        const s = summarise(scenario(pt), p.name, rs);
        const first = points.findIndex((x) => x.dimension === pt.dimension);
        const firstRate = median((runs.get(`${first}|${p.name}`) ?? []).map((x) => x.deliveredPerSec));
        const rss = median(rs.map((x) => x.rssStartMb));
        const setup = median(rs.map((x) => x.setupMs));
        rows.push([pt.dimension, pt.size, p.name, s.msgPerSec, fmtRatio(ratio(s.msgPerSec, firstRate)), s.p99Ms, rss, setup / 1000,
          p.name === 'ours' ? '' : fmtRatio(ratio(oursRate, s.msgPerSec)), p.name === 'ours' ? '' : fmtRatio(ratio(oursRss, rss)),
          s.errors.length ? s.errors[0].slice(0, 50) : '']);
        data.push({ ...pt, ...s, rssWithIdleMb: rss, setupMs: setup });
      }
    }
    return {
      name: 'growth',
      tables: [{
        title: `cost growth: QoS 1, 2 pub -> 2 sub beside idle load (medians of ${opts.rounds} rounds)`,
        header: ['dimension', 'size', 'broker', 'msg/s', 'vs smallest', 'p99 ms', 'RSS MB', 'setup s', 'ours/peer msg/s', 'ours/peer RSS', 'error'],
        rows,
        notes: [
          'subscriptions: extra filters (1 in 4 with a +) held by up to 10 idle clients; clients: idle connections with one filter each; none matches the load',
          'RSS = broker resident memory with the idle clients and subscriptions in place, as the measured window starts',
          ...skipped.map((s) => `skipped ${s}`), ...notes,
          ...peers.filter((p) => p.restarts).map((p) => `${p.name} was restarted ${p.restarts} time(s): ${p.deaths.join('; ')}`),
        ],
      }],
      data: { config: cfg, points: data },
    };
  } finally {
    await gen.stop();
    for (const p of peers) await p.stop();
  }
}
