// Benchmark 6: fleet. Simulated boards (boards/sim) running the telemetry app (its
// client's create() wrapped so the simulator counts readings sent) at
// one QoS 1 reading per second each, against a broker on 127.0.0.1, in steps of
// growing size: how many one machine holds with every reading delivered, and the
// CPU and memory of broker and simulator. Ours and Mosquitto, alternating per step.
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { startPeers } from './broker';
import type { Peer, PeerName } from './brokers/peers';
import { RawClient } from './load/raw-client';
import { subscribePacket } from './load/packets';
import { cpuMeter, forkTs, ROOT, rssMb, sleep, stopChild } from './lib/proc';
import { median, ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';

export interface FleetConfig { peers: PeerName[]; board: string; sizes: number[]; intervalMs: number; measureMs: number; graceMs: number }

export function fleetConfig(quick: boolean): FleetConfig {
  return quick
    ? { peers: ['ours', 'mosquitto'], board: 'esp8266', sizes: [20, 100], intervalMs: 1000, measureMs: 4000, graceMs: 3000 }
    : { peers: ['ours', 'mosquitto'], board: 'esp8266', sizes: [250, 1000, 2000, 4000], intervalMs: 1000, measureMs: 10000, graceMs: 4000 };
}

export interface FleetStep {
  peer: string; boards: number; app: string; connected: number;
  sent: number; delivered: number; missing: number; minPerBoard: number;
  msgPerSec: number; brokerCpuPct: number; simCpuPct: number; brokerRssMb: number; simRssMb: number;
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
  await sub.connect(60);
  await sub.subscribe(subscribePacket(1, ['devices/+/telemetry'], 1));
  const prefix = `${tag}-`;
  const seen = new Map<string, Set<number>>();
  let received = 0;
  sub.onPublish = (m) => {
    const topic = m.buf.toString('latin1', m.topicAt, m.topicEnd);
    const id = topic.split('/')[1];
    if (!id.startsWith(prefix)) return;
    received++;
    try {
      const seq = JSON.parse(m.buf.toString('utf8', m.payloadAt, m.payloadEnd)).seq;
      let s = seen.get(id);
      if (!s) seen.set(id, (s = new Set()));
      s.add(seq);
    } catch { /* counted as received, not as a reading */ }
  };
  const sim = forkTs('bench/fleet/sim-process.ts');
  sim.stderr!.on('data', () => undefined);
  sim.stdout!.on('data', () => undefined);
  try {
    const started = await ask<{ app: string }>(sim, { cmd: 'start', port: peer.port, count, board: cfg.board, tag, intervalMs: cfg.intervalMs }, 'started', 120000);
    // Let every board connect and settle into its schedule.
    await sleep(cfg.intervalMs * 2);
    const bm = cpuMeter(peer.pid);
    const sm = cpuMeter(sim.pid!);
    const r0 = received;
    bm.start();
    sm.start();
    const t0 = performance.now();
    await sleep(cfg.measureMs);
    const brokerCpuPct = bm.stop();
    const simCpuPct = sm.stop();
    const msgPerSec = ((received - r0) * 1000) / (performance.now() - t0);
    const brokerRssMb = peer.rssMb();
    const simRssMb = rssMb(sim.pid!);
    const mid = await ask<{ openSockets: number }>(sim, { cmd: 'sent' }, 'sent', 60000);
    const stopped = await ask<{ sent: Record<string, number>; errors: string[] }>(sim, { cmd: 'stop' }, 'stopped', 60000);
    const sentTotal = Object.values(stopped.sent).reduce((a, b) => a + b, 0);
    const deliveredCount = () => [...seen.values()].reduce((a, s) => a + s.size, 0);
    const end = performance.now() + cfg.graceMs;
    while (deliveredCount() < sentTotal && performance.now() < end) await sleep(100);
    const delivered = deliveredCount();
    // Each board must have delivered about one reading per interval of the measured window.
    const expectMin = Math.floor(cfg.measureMs / cfg.intervalMs) - 1;
    let minPerBoard = Infinity;
    for (let i = 0; i < count; i++) minPerBoard = Math.min(minPerBoard, seen.get(`${tag}-${i}`)?.size ?? 0);
    const why = [
      mid.openSockets < count ? `${count - mid.openSockets} boards not connected` : '',
      delivered < sentTotal ? `${sentTotal - delivered} readings not delivered within ${cfg.graceMs} ms` : '',
      minPerBoard < expectMin ? `a board delivered only ${minPerBoard} readings (expected >= ${expectMin})` : '',
      stopped.errors.length ? `${stopped.errors.length} board errors` : '',
      !peer.alive() ? 'broker died' : '',
    ].filter(Boolean).join('; ');
    return {
      peer: peer.name, boards: count, app: started.app, connected: mid.openSockets, sent: sentTotal, delivered,
      missing: Math.max(0, sentTotal - delivered), minPerBoard, msgPerSec, brokerCpuPct, simCpuPct, brokerRssMb, simRssMb,
      held: !why, why, errors: stopped.errors.slice(0, 5),
    };
  } finally {
    sim.send({ cmd: 'exit' });
    await stopChild(sim, 'SIGTERM', 5000);
    await sub.end();
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
        const s = await step(p, cfg, size, `f${si}${p.name[0]}${Date.now() % 100000}`);
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
  const oursAt = (n: number) => steps.find((s) => s.peer === 'ours' && s.boards === n);
  return {
    name: 'fleet',
    tables: [{
      title: `fleet: simulated ${cfg.board} boards (boards/sim), each running ${app || 'the telemetry app with a counting wrapper'}, 1 QoS 1 reading/${cfg.intervalMs} ms each`,
      header: ['broker', 'boards', 'held', 'msg/s', 'sent', 'missing', 'broker CPU%', 'broker MB', 'sim CPU%', 'sim MB', 'ours/peer broker CPU', 'why not'],
      rows: steps.map((s) => [s.peer, s.boards, s.held ? 'yes' : 'NO', s.msgPerSec, s.sent, s.missing, s.brokerCpuPct, s.brokerRssMb, s.simCpuPct, s.simRssMb,
        s.peer === 'ours' ? '' : fmtRatio(ratio(oursAt(s.boards)?.brokerCpuPct ?? NaN, s.brokerCpuPct)), s.why.slice(0, 80)]),
      notes: [
        ...peers.map((p) => `${p.name}: held ${held(p.name) || 'none'} of the sizes tried (${cfg.sizes.join(', ')}); the ramp stops at a broker's first failure`),
        `held = every board connected, every reading handed to the client delivered within ${cfg.graceMs} ms, each board >= 1 reading per interval over ${cfg.measureMs} ms, no board error`,
        'one simulator process (all boards) and the broker share this 2-core machine with the subscriber that counts readings; one round per size (steps are long)',
        app.includes('fallback') ? `dist/${cfg.board}/telemetry.js missing: ran the fallback publisher instead` : '',
        app ? 'the counting wrapper adds one closure per board and one indexOf per publish, so the readings sent are known exactly' : '',
        ...skipped.map((s) => `skipped ${s}`),
      ].filter(Boolean),
    }],
    data: { config: cfg, steps, held: Object.fromEntries(peers.map((p) => [p.name, held(p.name)])), medianBrokerCpu: median(steps.map((s) => s.brokerCpuPct)) },
  };
}
