// Benchmark: the hub as an edge gateway. Devices publish QoS 1 to an edge broker
// that bridges the topics to an upstream Mosquitto, where the subscriber
// reads them: device -> edge -> upstream -> subscriber. The edges: our hub in
// memory, our hub on SQLite (its bridge queue written in the message's commit,
// fsynced before the device's PUBACK) and Mosquitto's own bridge (in memory,
// nothing on disk), all in this invocation, alternating; one upstream for all.
// Throughput (closed loop), latency at a fixed open-loop rate, and one message
// at a time. Medians over rounds, with ratios against the Mosquitto bridge.
import mqtt from 'mqtt';
import { EDGE_PEERS, startEdge, startUpstream } from './brokers/bridge-edges';
import type { Peer, PeerName } from './brokers/peers';
import { peerAvailable } from './brokers/peers';
import { runOnPeer, type PeerRun } from './brokers/run';
import type { Scenario } from './broker';
import { LoadGenerator } from './load/client';
import { median, ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';

export interface BridgeBenchConfig {
  edges: PeerName[];
  scenarios: Scenario[];
}

const BASELINE: PeerName = 'mosquitto-bridge';

export function bridgeConfig(quick: boolean): BridgeBenchConfig {
  const t = quick ? { warmupMs: 300, durationMs: 1500 } : { warmupMs: 700, durationMs: 4000 };
  const base = { qos: 1 as const, payloadBytes: 64, ...t };
  const rate = quick ? 1000 : 2000;
  return {
    edges: EDGE_PEERS,
    scenarios: [
      { name: 'bridge-qos1', what: '4 devices -> edge -> upstream -> 1 sub, closed loop', job: { ...base, kind: 'throughput', publishers: 4, subscribers: 1, window: 100 } },
      { name: `bridge-paced-${rate}`, what: `${rate} msg/s, 4 devices -> 1 sub, open loop`, job: { ...base, kind: 'paced', publishers: 4, subscribers: 1, window: 0, rate } },
      { name: 'bridge-rtt', what: '1 -> 1, one message at a time', job: { ...base, kind: 'latency', publishers: 1, subscribers: 1, window: 1, messages: quick ? 300 : 2000 } },
    ],
  };
}

/** Until a message published at the edge arrives upstream: the bridge is up. */
async function probe(edgePort: number, upstreamPort: number, name: string): Promise<void> {
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${upstreamPort}`, { reconnectPeriod: 0 });
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${edgePort}`, { reconnectPeriod: 0 });
  try {
    let arrived = false;
    sub.on('message', () => { arrived = true; });
    await sub.subscribeAsync('bench/probe/#', { qos: 1 });
    for (const end = Date.now() + 15_000; !arrived; await new Promise((r) => setTimeout(r, 200))) {
      if (Date.now() > end) throw new Error(`${name}: nothing crossed the bridge within 15 s`);
      await pub.publishAsync('bench/probe/x', 'probe', { qos: 1 });
    }
  } finally {
    await pub.endAsync(true);
    await sub.endAsync(true);
  }
}

export interface BridgeSummary {
  scenario: string; what: string; edge: string; runs: number;
  msgPerSec: number; p50Ms: number; p99Ms: number; edgeCpuPct: number; genCpuPct: number; lost: number; errors: string[];
}

export async function runBridgeBench(opts: BenchOptions, cfg = bridgeConfig(opts.quick)): Promise<BenchResult> {
  const why = peerAvailable(BASELINE);
  if (why) return { name: 'bridge', skipped: why, tables: [], data: {} };
  opts.log('starting the upstream Mosquitto');
  const upstream = await startUpstream();
  const edges: Peer[] = [];
  const gen = new LoadGenerator();
  try {
    for (const name of cfg.edges) {
      opts.log(`starting edge ${name}`);
      const e = await startEdge(name, upstream.port);
      edges.push(e);
      await probe(e.port, upstream.port, name);
    }
    const runs = new Map<string, PeerRun[]>();
    const notes: string[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      for (const [si, s] of cfg.scenarios.entries()) {
        for (let k = 0; k < edges.length; k++) {
          const e = edges[(k + r + si) % edges.length];
          // A tag per run: every run has its own topics at the shared upstream.
          const run = await runOnPeer(gen, e, { ...s.job, subscriberPort: upstream.port, tag: `b${si}r${r}e${edges.indexOf(e)}` });
          notes.push(...run.restarts.map((x) => `round ${r + 1}: ${x}`));
          const key = `${s.name}|${e.name}`;
          runs.set(key, [...(runs.get(key) ?? []), run]);
          opts.log(`${s.name} round ${r + 1}/${opts.rounds} ${e.name}: ${Math.round(run.deliveredPerSec)} msg/s p50 ${run.p50Ms} p99 ${run.p99Ms} ms edge ${Math.round(run.brokerCpuPct)}%${run.error ? ' ERROR ' + run.error : ''}`);
        }
      }
    }
    const summaries: BridgeSummary[] = [];
    for (const s of cfg.scenarios) {
      for (const e of edges) {
        const rs = runs.get(`${s.name}|${e.name}`) ?? [];
        summaries.push({
          scenario: s.name, what: s.what, edge: e.name, runs: rs.length,
          msgPerSec: median(rs.map((x) => x.deliveredPerSec)), p50Ms: median(rs.map((x) => x.p50Ms)), p99Ms: median(rs.map((x) => x.p99Ms)),
          edgeCpuPct: median(rs.map((x) => x.brokerCpuPct)), genCpuPct: median(rs.map((x) => x.genCpuPct)),
          lost: rs.reduce((a, x) => a + x.lost, 0), errors: rs.filter((x) => x.error).map((x) => x.error!),
        });
      }
    }
    const base = (scenario: string) => summaries.find((x) => x.scenario === scenario && x.edge === BASELINE);
    const rows = summaries.map((x) => {
      const b = base(x.scenario);
      const vs = (k: 'msgPerSec' | 'p50Ms' | 'p99Ms') => (x.edge === BASELINE || !b ? '' : fmtRatio(ratio(x[k], b[k])));
      const note = [x.errors.length ? x.errors[0].slice(0, 60) : '', x.genCpuPct >= 90 ? 'generator-bound' : ''].filter(Boolean).join('; ');
      return [x.scenario, x.edge, x.msgPerSec, x.p50Ms, x.p99Ms, vs('msgPerSec'), vs('p50Ms'), vs('p99Ms'), x.edgeCpuPct, x.genCpuPct, x.lost, note];
    });
    return {
      name: 'bridge',
      tables: [{
        title: `bridge: device -> edge -> upstream Mosquitto -> subscriber, QoS 1, 64 B (medians of ${opts.rounds} rounds)`,
        header: ['scenario', 'edge', 'msg/s', 'p50 ms', 'p99 ms', 'x/mosq msg/s', 'x/mosq p50', 'x/mosq p99', 'edge CPU%', 'gen CPU%', 'lost', 'note'],
        rows,
        notes: [
          ...cfg.scenarios.map((s) => `${s.name}: ${s.what}`),
          'edges: ours-bridge = our hub in memory; ours-sqlite-bridge = our hub on SQLite (synchronous=FULL): each message and its bridge queue row committed before the device\'s PUBACK, the row deleted on the upstream\'s PUBACK; mosquitto-bridge = Mosquitto 2 with a `connection` bridge (in memory, nothing on disk). All: QoS 1 out, 20 in flight, clean session',
          'msg/s = deliveries at the upstream subscriber per second; latency = publish written at the edge -> PUBLISH read upstream (one process clock)',
          'ratios are edge / mosquitto-bridge measured in this same run: above 1.00x is more msg/s, or a longer latency; CPU% is of one core',
          'lost = QoS 1 messages acknowledged by the edge and not upstream 5 s after publishing stopped',
          ...notes,
          ...edges.filter((p) => p.restarts).map((p) => `${p.name} was restarted ${p.restarts} time(s): ${p.deaths.join('; ')}`),
        ],
      }],
      data: { config: cfg, summaries, runs: Object.fromEntries(runs) },
    };
  } finally {
    await gen.stop();
    for (const e of edges) await e.stop();
    await upstream.stop();
  }
}
