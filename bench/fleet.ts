// Benchmark 6: fleet. Simulated boards (boards/sim) running the telemetry app (its
// client's create() wrapped so the simulator counts readings sent) at
// one QoS 1 reading per second each, against a broker on 127.0.0.1, in steps of
// growing size: how many one machine holds with every reading delivered, and the
// CPU and memory of broker and simulator. Persistent sessions on durable stores:
// the boards connect with clean session 0 (the app does), and so does the
// subscriber that counts readings, so every reading is stored for it: ours on
// SQLite (synchronous=FULL) against Mosquitto saving on every change, alternating
// per step. Latency is arrival time minus the reading's `time` (whole seconds,
// the board's clock, which is the host's in the simulator).
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startPeers } from './broker';
import { DURABLE_PEERS, type Peer, type PeerName } from './brokers/peers';
import { RawClient } from './load/raw-client';
import { subscribePacket } from './load/packets';
import { cpuMeter, forkTs, ROOT, rssMb, sleep, stopChild } from './lib/proc';
import { median, ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';

export interface FleetConfig {
  peers: PeerName[]; board: string; sizes: number[]; intervalMs: number; measureMs: number;
  /** After the boards stop: how long every reading they sent has to arrive; also the latency bound. */
  graceMs: number;
  /** The counting subscriber connects with clean session 0 (default), so readings are stored for it. */
  persistentSubscriber?: boolean;
  /** Simulator processes the boards are split over (default 1): one is a single core's worth of boards. */
  simProcesses?: number;
}

export function fleetConfig(quick: boolean): FleetConfig {
  return quick
    ? { peers: DURABLE_PEERS, board: 'esp8266', sizes: [20, 100], intervalMs: 1000, measureMs: 4000, graceMs: 4000, persistentSubscriber: true, simProcesses: 1 }
    : { peers: DURABLE_PEERS, board: 'esp8266', sizes: [1000, 2000, 4000, 5000, 6000], intervalMs: 1000, measureMs: 10000, graceMs: 4000, persistentSubscriber: true, simProcesses: 2 };
}

export interface FleetStep {
  peer: string; boards: number; app: string; connected: number;
  sent: number; delivered: number; missing: number; minPerBoard: number;
  msgPerSec: number; brokerCpuPct: number; simCpuPct: number; brokerRssMb: number; simRssMb: number;
  /** Arrival minus the reading's own time (whole seconds, so +-0.5 s): median and max, and how many took longer than graceMs. */
  latencyP50Ms: number; latencyMaxMs: number; late: number;
  /** The machine's 1-minute load average when the step ended (2 cores; other work shares them). */
  loadAvg: number;
  /** For a step that failed: which side ran out, judged from the CPU figures. */
  limit: string;
  held: boolean; why: string; errors: string[];
}

function ask<T>(child: ChildProcess, msg: object, ev: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { child.off('message', on); reject(new Error(`simulator did not answer "${ev}" within ${timeoutMs} ms`)); }, timeoutMs);
    const on = (m: any) => { if (m.ev === ev) { clearTimeout(t); child.off('message', on); resolve(m as T); } };
    child.on('message', on);
    child.send(msg);
  });
}

/** One fleet of `count` boards on one broker; a subscriber here counts readings per board. */
async function step(peer: Peer, cfg: FleetConfig, count: number, tag: string): Promise<FleetStep> {
  await peer.ensure();
  const sub = new RawClient(peer.port, `fleet-sub-${tag}`);
  await sub.connect(60, cfg.persistentSubscriber === false);
  await sub.subscribe(subscribePacket(1, ['devices/+/telemetry'], 1));
  const prefix = `${tag}-`;
  const seen = new Map<string, Set<number>>();
  const latencies: number[] = [];
  let windowStart = 0;
  let received = 0;
  sub.onPublish = (m) => {
    const topic = m.buf.toString('latin1', m.topicAt, m.topicEnd);
    const id = topic.split('/')[1];
    if (!id.startsWith(prefix)) return;
    received++;
    try {
      const r = JSON.parse(m.buf.toString('utf8', m.payloadAt, m.payloadEnd));
      let s = seen.get(id);
      if (!s) seen.set(id, (s = new Set()));
      s.add(r.seq);
      // Readings made once every board runs; those from the boot ramp only have to arrive.
      if (typeof r.time === 'number' && windowStart && r.time * 1000 >= windowStart) latencies.push(Date.now() - r.time * 1000);
    } catch { /* counted as received, not as a reading */ }
  };
  const nSims = Math.max(1, Math.min(cfg.simProcesses ?? 1, count));
  const sims = Array.from({ length: nSims }, () => {
    const sim = forkTs('bench/fleet/sim-process.ts');
    sim.stderr!.on('data', () => undefined);
    sim.stdout!.on('data', () => undefined);
    return sim;
  });
  const share = (k: number) => Math.floor(count / nSims) + (k < count % nSims ? 1 : 0);
  const all = <T>(f: (sim: ChildProcess, k: number) => Promise<T>) => Promise.all(sims.map(f));
  try {
    // Creating a board takes ~10 ms of a simulator's CPU: allow for it.
    const startMs = 60000 + 50 * share(0);
    const starts = await all((sim, k) => ask<{ app: string }>(sim, { cmd: 'start', port: peer.port, count: share(k), first: sims.slice(0, k).reduce((a, _, j) => a + share(j), 0), board: cfg.board, tag, intervalMs: cfg.intervalMs }, 'started', startMs));
    const started = starts[0];
    // Let every board connect and settle into its schedule.
    await sleep(cfg.intervalMs * 2);
    const bm = cpuMeter(peer.pid);
    const sms = sims.map((sim) => cpuMeter(sim.pid!));
    const r0 = received;
    windowStart = Date.now();
    bm.start();
    for (const m of sms) m.start();
    const t0 = performance.now();
    await sleep(cfg.measureMs);
    const brokerCpuPct = bm.stop();
    const simCpuPct = sms.reduce((a, m) => a + m.stop(), 0);
    const msgPerSec = ((received - r0) * 1000) / (performance.now() - t0);
    const brokerRssMb = peer.rssMb();
    const simRssMb = sims.reduce((a, sim) => a + rssMb(sim.pid!), 0);
    const mids = await all((sim) => ask<{ openSockets: number }>(sim, { cmd: 'sent' }, 'sent', 60000));
    const mid = { openSockets: mids.reduce((a, x) => a + x.openSockets, 0) };
    const stops = await all((sim) => ask<{ sent: Record<string, number>; errors: string[] }>(sim, { cmd: 'stop' }, 'stopped', 60000));
    const stopped = { sent: Object.assign({}, ...stops.map((x) => x.sent)) as Record<string, number>, errors: stops.flatMap((x) => x.errors) };
    const sentTotal = Object.values(stopped.sent).reduce((a, b) => a + b, 0);
    const deliveredCount = () => [...seen.values()].reduce((a, s) => a + s.size, 0);
    const end = performance.now() + cfg.graceMs;
    while (deliveredCount() < sentTotal && performance.now() < end) await sleep(100);
    const delivered = deliveredCount();
    // Each board must have delivered about one reading per interval of the measured window.
    const expectMin = Math.floor(cfg.measureMs / cfg.intervalMs) - 1;
    let minPerBoard = Infinity;
    for (let i = 0; i < count; i++) minPerBoard = Math.min(minPerBoard, seen.get(`${tag}-${i}`)?.size ?? 0);
    latencies.sort((a, b) => a - b);
    const late = latencies.filter((x) => x > cfg.graceMs).length;
    const why = [
      mid.openSockets < count ? `${count - mid.openSockets} boards not connected` : '',
      delivered < sentTotal ? `${sentTotal - delivered} readings not delivered within ${cfg.graceMs} ms` : '',
      minPerBoard < expectMin ? `a board delivered only ${minPerBoard} readings (expected >= ${expectMin})` : '',
      late > 0 ? `${late} readings arrived more than ${cfg.graceMs} ms after their time` : '',
      stopped.errors.length ? `${stopped.errors.length} board errors` : '',
      !peer.alive() ? 'broker died' : '',
    ].filter(Boolean).join('; ');
    return {
      peer: peer.name, boards: count, app: started.app, connected: mid.openSockets, sent: sentTotal, delivered,
      missing: Math.max(0, sentTotal - delivered), minPerBoard, msgPerSec, brokerCpuPct, simCpuPct, brokerRssMb, simRssMb,
      latencyP50Ms: latencies.length ? latencies[Math.floor(latencies.length / 2)] : NaN, latencyMaxMs: latencies.length ? latencies[latencies.length - 1] : NaN, late,
      loadAvg: os.loadavg()[0],
      // A failure with the broker far from a core while the simulators use what is left of the 2 cores is theirs (or the machine's).
      limit: !why ? '' : brokerCpuPct >= 80 ? 'broker (near a full core)'
        : simCpuPct + brokerCpuPct >= 150 || os.loadavg()[0] >= os.cpus().length
          ? `simulator / machine (sims ${Math.round(simCpuPct)}%, broker ${Math.round(brokerCpuPct)}%, load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`
          : 'unclear (neither side near its CPU limit)',
      held: !why, why, errors: stopped.errors.slice(0, 5),
    };
  } finally {
    for (const sim of sims) sim.send({ cmd: 'exit' });
    await Promise.all(sims.map((sim) => stopChild(sim, 'SIGTERM', 5000)));
    await sub.end();
    // Drop the counting subscriber's persistent session, or the next steps would queue every reading for it too.
    if (cfg.persistentSubscriber !== false) {
      const gone = new RawClient(peer.port, `fleet-sub-${tag}`);
      try { await gone.connect(0, true); await gone.end(); } catch { gone.sock.destroy(); }
    }
  }
}

export async function runFleetBench(opts: BenchOptions, cfg = fleetConfig(opts.quick)): Promise<BenchResult> {
  const client = path.join(ROOT, 'dist', cfg.board, 'mqtt-client.js');
  if (!fs.existsSync(client)) return { name: 'fleet', skipped: `${path.relative(ROOT, client)} missing: run npm run build`, tables: [], data: {} };
  const { peers, skipped } = await startPeers(cfg.peers, opts.log);
  const steps: FleetStep[] = [];
  const stillHolding = new Set(peers.map((p) => p.name));
  try {
    for (const [si, size] of cfg.sizes.entries()) {
      // Alternate which broker goes first at each size.
      const order = si % 2 ? [...peers].reverse() : peers;
      for (const p of order) {
        if (!stillHolding.has(p.name)) continue;
        const s = await step(p, cfg, size, `f${si}${p.name[0]}${Date.now() % 100000}`).catch((e: Error): FleetStep => ({
          peer: p.name, boards: size, app: '', connected: 0, sent: 0, delivered: 0, missing: 0, minPerBoard: 0, msgPerSec: NaN,
          brokerCpuPct: NaN, simCpuPct: NaN, brokerRssMb: p.rssMb(), simRssMb: NaN, latencyP50Ms: NaN, latencyMaxMs: NaN, late: 0,
          loadAvg: os.loadavg()[0], limit: /did not answer "started"/.test(e.message) ? 'simulator (could not boot the boards in time)' : '',
          held: false, why: e.message.split('\n')[0], errors: [],
        }));
        steps.push(s);
        opts.log(`fleet ${p.name} ${size} boards: ${s.held ? 'held' : 'FAILED (' + s.why + ')'}; ${Math.round(s.msgPerSec)} msg/s, broker ${Math.round(s.brokerCpuPct)}% ${s.brokerRssMb.toFixed(0)} MB, sim ${Math.round(s.simCpuPct)}% ${s.simRssMb.toFixed(0)} MB`);
        if (!s.held) stillHolding.delete(p.name);
      }
      if (!stillHolding.size) break;
    }
  } finally {
    for (const p of peers) await p.stop();
  }
  const held = (name: string) => Math.max(0, ...steps.filter((s) => s.peer === name && s.held).map((s) => s.boards));
  const app = steps[0]?.app ?? '';
  const ours = peers.find((p) => p.name.startsWith('ours'))?.name ?? 'ours';
  const oursAt = (n: number) => steps.find((s) => s.peer === ours && s.boards === n);
  return {
    name: 'fleet',
    tables: [{
      title: `fleet: simulated ${cfg.board} boards (boards/sim), each running ${app || 'the telemetry app with a counting wrapper'}, 1 QoS 1 reading/${cfg.intervalMs} ms each`,
      header: ['broker', 'boards', 'held', 'msg/s', 'sent', 'missing', 'latency p50 ms', 'max ms', 'broker CPU%', 'broker MB', 'sim CPU%', 'sim MB', `${ours}/peer broker CPU`, 'load avg', 'why not', 'limit'],
      rows: steps.map((s) => [s.peer, s.boards, s.held ? 'yes' : 'NO', s.msgPerSec, s.sent, s.missing, s.latencyP50Ms, s.latencyMaxMs, s.brokerCpuPct, s.brokerRssMb, s.simCpuPct, s.simRssMb,
        s.peer === ours ? '' : fmtRatio(ratio(oursAt(s.boards)?.brokerCpuPct ?? NaN, s.brokerCpuPct)), s.loadAvg, s.why.slice(0, 80), s.limit]),
      notes: [
        ...peers.map((p) => `${p.name}: held ${held(p.name) || 'none'} of the sizes tried (${cfg.sizes.join(', ')}); the ramp stops at a broker's first failure`),
        `held = every board connected, every reading handed to the client delivered (within ${cfg.graceMs} ms of the boards stopping), none more than ${cfg.graceMs} ms after its time, each board >= 1 reading per interval over ${cfg.measureMs} ms, no board error`,
        `boards and the counting subscriber use persistent sessions (clean session ${cfg.persistentSubscriber === false ? '0 / subscriber 1' : '0'}); ours-sqlite: SQLite, synchronous=FULL, group commit; mosquitto-autosave: persistence, autosave_on_changes, autosave_interval 1`,
        'latency = arrival at the subscriber - the reading\'s time field (whole seconds of the board clock, the host clock in the simulator): +-0.5 s',
        `${cfg.simProcesses ?? 1} simulator process(es) (the boards split evenly; sim CPU% and MB are their sum) and the broker share this 2-core machine with the subscriber that counts readings; one round per size (steps are long)`,
        'boards boot one at a time over at least one interval; the measured window starts two intervals after the last has booted; latency counts the readings made in that window',
        app.includes('fallback') ? `dist/${cfg.board}/telemetry.js missing: ran the fallback publisher instead` : '',
        app ? 'the counting wrapper adds one closure per board and one indexOf per publish, so the readings sent are known exactly' : '',
        ...skipped.map((s) => `skipped ${s}`),
      ].filter(Boolean),
    }],
    data: { config: cfg, steps, held: Object.fromEntries(peers.map((p) => [p.name, held(p.name)])), medianBrokerCpu: median(steps.map((s) => s.brokerCpuPct)) },
  };
}
