// Smoke test for the benchmarks (bench/): each runs once in a tiny configuration
// against the real peers, so `npm test` checks the bench code still works.
// It asserts only that figures are produced and are positive numbers: speed and
// memory are measured by `npm run bench`, never asserted here.
import { strict as assert } from 'assert';
import { parseArgs } from '../../bench/lib/options';
import { LatencyHistogram, median } from '../../bench/lib/stats';
import { runSizeBench } from '../../bench/size';
import { runCodecBench } from '../../bench/codec';
import { runBrokerBench, brokerConfig, type Summary } from '../../bench/broker';
import { runLatencyBench, latencyConfig, type LatencySummary } from '../../bench/latency';
import { runBridgeBench, bridgeConfig, type BridgeSummary } from '../../bench/bridge';
import { runGrowthBench, growthConfig } from '../../bench/growth';
import { runFleetBench, fleetConfig, type FleetStep } from '../../bench/fleet';
import { runFootprintBench, type FootprintRun } from '../../bench/footprint';
import { runMemoryBench, memoryConfig } from '../../bench/memory';
import { runProfileBench, type SelfTime } from '../../bench/profile';
import { ALL_PEERS, DURABLE_PEERS, peerAvailable } from '../../bench/brokers/peers';
import { renderResult } from '../../bench/index';
import type { BenchOptions, BenchResult } from '../../bench/lib/types';

const opts: BenchOptions = { rounds: 1, quick: true, log: () => undefined };
const positive = (what: string, x: unknown) => assert.ok(typeof x === 'number' && Number.isFinite(x) && x > 0, `${what}: expected a positive number, got ${String(x)}`);
const peers = ALL_PEERS.filter((p) => !peerAvailable(p));
const durablePeers = DURABLE_PEERS.filter((p) => !peerAvailable(p));

function rendered(r: BenchResult): void {
  assert.equal(r.skipped, undefined, `skipped: ${r.skipped}`);
  assert.ok(r.tables.length > 0 && r.tables.every((t) => t.rows.length > 0), 'tables with rows');
  assert.match(renderResult(r), /== /);
}

describe('bench (smoke: tiny configurations, figures only)', function () {
  this.timeout(180000);

  it('parses its command line and rejects bad values with a clear message', () => {
    assert.deepEqual(parseArgs(['--only', 'size,codec', '--rounds', '4']).only, ['size', 'codec']);
    assert.deepEqual(parseArgs(['--only', 'latency']).only, ['latency']);
    assert.ok(parseArgs([]).only.includes('latency'), 'latency is in the default run');
    assert.ok(parseArgs([]).only.includes('bridge'), 'bridge is in the default run');
    assert.equal(parseArgs(['--quick']).rounds, 2);
    assert.throws(() => parseArgs(['--only', 'nope']), /--only: unknown benchmark "nope"/);
    assert.throws(() => parseArgs(['--rounds', '0']), /--rounds: expected a whole number/);
  });

  it('computes medians and latency quantiles', () => {
    assert.equal(median([3, 1, 2]), 2);
    const h = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) h.add(i / 10);
    positive('p50', h.quantile(0.5));
    assert.ok(h.quantile(0.99) >= h.quantile(0.5));
  });

  it('size: bytes of each built client bundle', async () => {
    const r = await runSizeBench(opts);
    rendered(r);
    const rows = (r.data as { rows: { file: string; bytes: number | null }[] }).rows.filter((x) => x.file === 'mqtt-client.js');
    assert.ok(rows.length > 0);
    for (const x of rows) positive('bytes', x.bytes);
  });

  it('codec: packets per second, ours and mqtt-packet', async () => {
    const r = await runCodecBench(opts, 20);
    rendered(r);
    for (const x of r.data as { oursOpsPerSec: number; mqttPacketOpsPerSec: number }[]) {
      positive('ours', x.oursOpsPerSec);
      positive('mqtt-packet', x.mqttPacketOpsPerSec);
    }
  });

  it('broker: msg/s, latency and CPU for each installed peer, and persistent sessions on the durable peers', async () => {
    const full = brokerConfig(true);
    const tiny = (name: string) => {
      const s = full.scenarios.find((x) => x.name === name)!;
      return { ...s, job: { ...s.job, warmupMs: 100, durationMs: 300, messages: 50 } };
    };
    const durable = full.durable!.scenarios.find((x) => x.name === 'persist-qos1')!;
    const r = await runBrokerBench(opts, { peers, scenarios: [tiny('qos1'), tiny('rtt-qos1')],
      durable: { peers: durablePeers, scenarios: [{ ...durable, job: { ...durable.job, warmupMs: 100, durationMs: 300 } }] } });
    rendered(r);
    const sums = (r.data as { summaries: Summary[] }).summaries;
    assert.equal(sums.length, 2 * peers.length);
    const durableSums = (r.data as { durableSummaries: Summary[] }).durableSummaries;
    assert.equal(durableSums.length, durablePeers.length);
    assert.equal(r.tables.length, 2, 'the persistent-session table follows the main one');
    for (const s of [...sums, ...durableSums]) {
      positive(`${s.peer} ${s.scenario} msg/s`, s.msgPerSec);
      positive(`${s.peer} ${s.scenario} p99`, s.p99Ms);
      positive(`${s.peer} ${s.scenario} generator CPU`, s.genCpuPct);
      assert.equal(s.lost, 0, `${s.peer} ${s.scenario} lost messages`);
    }
  });

  it('latency: achieved rate and p50/p99/p99.9 at a fixed open-loop rate for each installed peer', async () => {
    const cfg = latencyConfig(true);
    const r = await runLatencyBench(opts, { peers, rates: [1000], job: { ...cfg.job, warmupMs: 100, durationMs: 400 } });
    rendered(r);
    const sums = (r.data as { summaries: LatencySummary[] }).summaries;
    assert.equal(sums.length, peers.length);
    for (const s of sums) {
      assert.deepEqual(s.errors, [], `${s.peer}: ${s.errors.join('; ')}`);
      positive(`${s.peer} achieved msg/s`, s.achievedPerSec);
      positive(`${s.peer} p50`, s.p50Ms);
      positive(`${s.peer} p99`, s.p99Ms);
      positive(`${s.peer} p99.9`, s.p999Ms);
      positive(`${s.peer} generator CPU`, s.genCpuPct);
    }
  });

  it('bridge: throughput and latency device -> edge -> upstream for our hub (memory, SQLite) and a Mosquitto bridge', async function () {
    const cfg = bridgeConfig(true);
    const tiny = cfg.scenarios.map((s) => ({ ...s, job: { ...s.job, warmupMs: 100, durationMs: 300, messages: 50 } }));
    const r = await runBridgeBench(opts, { ...cfg, scenarios: tiny });
    if (!peers.includes('mosquitto')) {
      assert.match(r.skipped ?? '', /mosquitto is not installed/);
      return this.skip();
    }
    rendered(r);
    const sums = (r.data as { summaries: BridgeSummary[] }).summaries;
    assert.equal(sums.length, tiny.length * cfg.edges.length);
    for (const s of sums) {
      assert.deepEqual(s.errors, [], `${s.edge} ${s.scenario}: ${s.errors.join('; ')}`);
      positive(`${s.edge} ${s.scenario} msg/s`, s.msgPerSec);
      positive(`${s.edge} ${s.scenario} p50`, s.p50Ms);
      assert.equal(s.lost, 0, `${s.edge} ${s.scenario} lost messages`);
    }
  });

  it('growth: msg/s and broker RSS beside idle subscriptions and clients', async () => {
    const r = await runGrowthBench(opts, { ...growthConfig(true), peers: ['ours'], subscriptions: [20], clients: [5],
      load: { ...growthConfig(true).load, warmupMs: 100, durationMs: 300 } });
    rendered(r);
    for (const p of (r.data as { points: { msgPerSec: number; rssWithIdleMb: number }[] }).points) {
      positive('msg/s', p.msgPerSec);
      positive('RSS', p.rssWithIdleMb);
    }
  });

  it('footprint: startup, idle RSS, RSS after a fuzz, after password checks and under load, ours as shipped beside mosquitto', async () => {
    const r = await runFootprintBench(opts, { fuzzConnections: 40, fuzzConcurrency: 8, logins: 4, idleMs: 200, settleMs: 300, load: true });
    rendered(r);
    const runs = (r.data as { runs: FootprintRun[] }).runs;
    assert.ok(runs.some((x) => x.peer === 'ours'));
    for (const x of runs) {
      assert.equal(x.error, undefined, `${x.peer}: ${x.error}`);
      for (const k of ['startupMs', 'idleMb', 'afterFuzzMb', 'settledMb', 'loadMb', 'loadMsgPerSec'] as const) positive(`${x.peer} ${k}`, x[k]);
      if (x.peer === 'ours') positive('ours afterLoginsMb', x.afterLoginsMb);
    }
  });

  it('fleet: a few simulated boards, readings counted, CPU and memory of both sides', async () => {
    const r = await runFleetBench(opts, { ...fleetConfig(true), peers: ['ours-sqlite'], sizes: [3], measureMs: 1500, graceMs: 2000, simProcesses: 2 });
    rendered(r);
    const [s] = (r.data as { steps: FleetStep[] }).steps;
    positive('delivered', s.delivered);
    positive('msg/s', s.msgPerSec);
    positive('broker RSS', s.brokerRssMb);
    positive('sim RSS', s.simRssMb);
  });

  it('profile: self time per function of our broker under load', async () => {
    const r = await runProfileBench(opts, 500);
    rendered(r);
    const fns = (r.data as { summary: { functions: SelfTime[] } }).summary.functions;
    assert.ok(fns.length > 0);
    positive('self ms', fns[0].ms);
  });

  it('memory: vars per phase on the real interpreter (ESPRUINO_BIN), from flash and from RAM, or a clear skip', async function () {
    const r = await runMemoryBench(opts, { ...memoryConfig(true), publishes: 10, reconnects: 3 });
    if (!process.env.ESPRUINO_BIN) {
      assert.match(r.skipped ?? '', /ESPRUINO_BIN is not set/);
      return this.skip();
    }
    rendered(r);
    const runs = (r.data as { runs: { path: string; who: string; phases: { phase: string; usage: number; delta: number }[]; error?: string }[] }).runs;
    assert.deepEqual(runs.filter((x) => x.who === 'ours').map((x) => x.path), ['flash', 'console']);
    for (const run of runs) {
      assert.equal(run.error, undefined, run.error);
      for (const p of run.phases) positive(`${run.who} ${run.path} ${p.phase} usage`, p.usage);
      for (const phase of run.who === 'ours' ? ['loaded', 'created', 'connected', 'published', 'reconnected'] : ['loaded', 'connected']) {
        positive(`${run.who} ${run.path} ${phase} delta`, run.phases.find((p) => p.phase === phase)?.delta);
      }
    }
  });
});
