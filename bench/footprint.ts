// Benchmark: footprint, for a small host (a Raspberry Pi Zero 2 W has 512 MB).
// Our hub exactly as users start it (`bin/host-broker.cjs start`, executed, so
// its first line's memory tuning applies: bin/README.md) beside Mosquitto
// (Debian, its defaults, persistence off), each fresh per round, alternating:
//   startup: process spawned -> first CONNECT answered with CONNACK 0
//   idle RSS: 5 s after that
//   fuzz: 20,000 connections, 16 at a time, each a CONNECT (some with a Will;
//     no credentials, so that the hub's login throttle never steps in) then one
//     mutated packet (the soak's cases); RSS right after, and after a settle
//     time, against the idle RSS
//   logins (ours): 200 CONNECTs of a registered device with a wrong password, 4 at a time, from 25
//     loopback addresses (under the throttle's 10 failures each): each costs
//     an scrypt check (16 MiB), the allocation the launcher's tuning is for
//   load: the broker bench's QoS 1 4 -> 4 load; RSS at the end of its window.
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { brokerConfig } from './broker';
import { runOnPeer } from './brokers/run';
import type { Peer, PeerName } from './brokers/peers';
import { LoadGenerator } from './load/client';
import { RawClient } from './load/raw-client';
import { ROOT, cpuSeconds, rssMb, sleep, stopChild } from './lib/proc';
import { median, ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';
import { mosquittoPath } from '../test/helpers/mosquitto';
import { freePort } from '../test/helpers/ports';
import * as mqtt from 'mqtt-packet';
import { fuzzCase, rng, caseSeed, int } from '../test/reliability/support/mutate';
import { DeviceRegistry } from '../host-broker/security/device-registry';

export interface FootprintConfig { fuzzConnections: number; fuzzConcurrency: number; logins: number; idleMs: number; settleMs: number; load: boolean }

export function footprintConfig(quick: boolean): FootprintConfig {
  return quick
    ? { fuzzConnections: 2000, fuzzConcurrency: 16, logins: 40, idleMs: 2000, settleMs: 10000, load: true }
    : { fuzzConnections: 20000, fuzzConcurrency: 16, logins: 200, idleMs: 5000, settleMs: 30000, load: true };
}

export interface FootprintRun {
  peer: string; startupMs: number; idleMb: number; idleAnonMb: number;
  fuzzSeconds: number; afterFuzzMb: number; settledMb: number; settledAnonMb: number;
  afterLoginsMb: number; loadMsgPerSec: number; loadMb: number; error?: string;
}

const anonMb = (pid: number): number => {
  try { return Number(/RssAnon:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024; } catch { return NaN; }
};

interface Proc { name: PeerName; child: ChildProcess; port: number; dir: string }

/** Starts the broker as its users would, on a fresh data directory and a known free port. */
async function launch(name: 'ours' | 'mosquitto'): Promise<Proc> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-fp-${name}-`));
  let child: ChildProcess;
  if (name === 'ours') {
    // The password checks need a registered user: with anonymous access on, an unknown user
    // name connects as anonymous without one (as with Mosquitto).
    const reg = new DeviceRegistry({ dataDir: dir });
    reg.add({ id: LOGIN_USER, username: LOGIN_USER, password: 'right' });
    reg.close();
    child = spawn(path.join(ROOT, 'bin', 'host-broker.cjs'), ['start', '--port', String(port), '--data-dir', dir, '--allow-anonymous'], { cwd: ROOT, stdio: 'ignore' });
  } else {
    const conf = path.join(dir, 'mosquitto.conf');
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    child = spawn(mosquittoPath()!, ['-c', conf], { stdio: 'ignore' });
  }
  return { name, child, port, dir };
}

/** Polls with MQTT CONNECT until one is answered with CONNACK 0; resolves with the time since `t0`. */
async function ready(p: Proc, t0: number, timeoutMs = 20000): Promise<number> {
  for (;;) {
    const c = new RawClient(p.port, 'fp-ready');
    try {
      await c.connect();
      const ms = performance.now() - t0;
      await c.end();
      return ms;
    } catch {
      c.sock.destroy();
      if (performance.now() - t0 > timeoutMs) throw new Error(`${p.name} answered no CONNECT within ${timeoutMs} ms`);
      await sleep(10);
    }
  }
}

/** A CONNECT like the soak's, without credentials: anonymous access lets every one in. */
function anonymousConnect(seed: number, i: number): Buffer {
  const r = rng(caseSeed(seed, i) ^ 0x1234567);
  const will = r() < 0.3 ? { topic: `fp/will/${i % 97}`, payload: Buffer.alloc(int(r, 0, 16), 0x77), qos: int(r, 0, 2) as 0 | 1 | 2, retain: r() < 0.3 } : undefined;
  return mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `fp-${i}`, keepalive: int(r, 0, 600), ...(will ? { will } : {}) });
}

/** One CONNECT; resolves with the CONNACK return code once the broker has closed the connection (the check is done). */
function refusedLogin(port: number, bytes: Buffer, localAddress: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    let code: number | undefined;
    const t = setTimeout(() => { s.destroy(); resolve(code); }, 30000);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => { if (code === undefined && d[0] === 0x20 && d.length >= 4) code = d[3]; });
    s.on('close', () => { clearTimeout(t); resolve(code); });
    s.on('connect', () => { s.write(bytes); });
  });
}

/** The registered device whose password the login step gets wrong. */
const LOGIN_USER = 'fp-login';

/** `count` CONNECTs with a wrong password (CONNACK 4, then closed), 4 at a time, at most 9 per loopback address (the throttle blocks at 10). */
async function logins(port: number, count: number): Promise<void> {
  let next = 0;
  const connect = (i: number) => mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `fp-login-${i}`, keepalive: 0, username: LOGIN_USER, password: Buffer.from(`wrong-${i}`) });
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < count) {
      const i = next++;
      const code = await refusedLogin(port, connect(i), `127.3.0.${1 + Math.floor(i / 9)}`);
      // Anything but "bad user name or password" means no password was checked: the step would measure nothing.
      if (code !== 4) throw new Error(`password check ${i}: expected CONNACK 4, got ${code === undefined ? 'no CONNACK' : `CONNACK ${code}`}`);
    }
  }));
}

/** The soak's broker fuzz over TCP: CONNECT then one mutated packet per connection. */
async function fuzz(port: number, count: number, concurrency: number, seed: number): Promise<void> {
  let next = 0;
  const one = (i: number) => new Promise<void>((resolve) => {
    const c = fuzzCase(seed, i, 'toServer', 4096);
    const bytes = Buffer.concat([anonymousConnect(seed, i), c.bytes]);
    const s = net.connect(port, '127.0.0.1');
    const t = setTimeout(() => { s.destroy(); resolve(); }, 10000);
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    s.on('close', () => { clearTimeout(t); resolve(); });
    s.on('connect', () => { s.end(bytes); });
  });
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < count) await one(next++); }));
}

/** A Peer view of a launched process, for runOnPeer (no restarts: a death is an error). */
function asPeer(p: Proc): Peer {
  const alive = () => p.child.exitCode === null && p.child.signalCode === null;
  return {
    name: p.name, port: p.port, pid: p.child.pid!, restarts: 0, deaths: [],
    alive, async ensure() { if (!alive()) throw new Error(`${p.name} died`); },
    rssMb: () => rssMb(p.child.pid!), cpuSeconds: () => cpuSeconds(p.child.pid!), stop: () => stopChild(p.child),
  };
}

async function oneRun(name: 'ours' | 'mosquitto', cfg: FootprintConfig, gen: LoadGenerator, round: number, log: (l: string) => void): Promise<FootprintRun> {
  const t0 = performance.now();
  const p = await launch(name);
  const run: FootprintRun = { peer: name, startupMs: NaN, idleMb: NaN, idleAnonMb: NaN, fuzzSeconds: NaN, afterFuzzMb: NaN, settledMb: NaN, settledAnonMb: NaN, afterLoginsMb: NaN, loadMsgPerSec: NaN, loadMb: NaN };
  try {
    run.startupMs = await ready(p, t0);
    await sleep(cfg.idleMs);
    const pid = p.child.pid!;
    run.idleMb = rssMb(pid);
    run.idleAnonMb = anonMb(pid);
    const f0 = performance.now();
    await fuzz(p.port, cfg.fuzzConnections, cfg.fuzzConcurrency, 0x5eed + round);
    run.fuzzSeconds = (performance.now() - f0) / 1000;
    run.afterFuzzMb = rssMb(pid);
    await sleep(cfg.settleMs);
    run.settledMb = rssMb(pid);
    run.settledAnonMb = anonMb(pid);
    if (!asPeer(p).alive()) throw new Error(`${name} died during the fuzz`);
    if (name === 'ours' && cfg.logins > 0) {
      await logins(p.port, cfg.logins);
      await sleep(1000);
      run.afterLoginsMb = rssMb(pid);
    }
    if (cfg.load) {
      const s = brokerConfig(true).scenarios.find((x) => x.name === 'qos1')!;
      const r = await runOnPeer(gen, asPeer(p), { ...s.job, tag: `fp${round}${name[0]}` });
      run.loadMsgPerSec = r.deliveredPerSec;
      run.loadMb = r.rssEndMb;
      if (r.error) run.error = r.error;
    }
    log(`footprint ${name} round ${round + 1}: startup ${Math.round(run.startupMs)} ms, idle ${run.idleMb.toFixed(1)} MB, after ${cfg.fuzzConnections} fuzz connections ${run.afterFuzzMb.toFixed(1)} MB, ${cfg.settleMs / 1000} s later ${run.settledMb.toFixed(1)} MB, under QoS 1 load ${run.loadMb.toFixed(1)} MB`);
  } catch (e) {
    run.error = (e as Error).message;
  } finally {
    await stopChild(p.child);
    fs.rmSync(p.dir, { recursive: true, force: true });
  }
  return run;
}

export async function runFootprintBench(opts: BenchOptions, cfg = footprintConfig(opts.quick)): Promise<BenchResult> {
  const names: ('ours' | 'mosquitto')[] = mosquittoPath() ? ['ours', 'mosquitto'] : ['ours'];
  const gen = new LoadGenerator();
  const runs: FootprintRun[] = [];
  try {
    for (let r = 0; r < opts.rounds; r++) {
      for (const n of r % 2 ? [...names].reverse() : names) runs.push(await oneRun(n, cfg, gen, r, opts.log));
    }
  } finally {
    await gen.stop();
  }
  const med = (peer: string, k: keyof FootprintRun) => median(runs.filter((x) => x.peer === peer && !x.error).map((x) => x[k] as number));
  const metrics: [string, (p: string) => number, 'lower'][] = [
    ['startup to first CONNACK, ms', (p) => med(p, 'startupMs'), 'lower'],
    ['idle RSS, MB', (p) => med(p, 'idleMb'), 'lower'],
    ['idle anonymous (private) memory, MB', (p) => med(p, 'idleAnonMb'), 'lower'],
    [`RSS right after ${cfg.fuzzConnections.toLocaleString('en-US')} fuzz connections, MB`, (p) => med(p, 'afterFuzzMb'), 'lower'],
    [`RSS ${cfg.settleMs / 1000} s after the fuzz, MB`, (p) => med(p, 'settledMb'), 'lower'],
    [`RSS ${cfg.settleMs / 1000} s after the fuzz minus idle RSS, MB`, (p) => median(runs.filter((x) => x.peer === p && !x.error).map((x) => x.settledMb - x.idleMb)), 'lower'],
    [`RSS after ${cfg.logins} password checks (4 at a time), MB`, (p) => med(p, 'afterLoginsMb'), 'lower'],
    ['RSS under the QoS 1 4 -> 4 load, MB', (p) => med(p, 'loadMb'), 'lower'],
    ['msg/s under that load', (p) => med(p, 'loadMsgPerSec'), 'lower'],
  ];
  const rows = metrics.map(([what, f]) => {
    const ours = f('ours');
    const mosq = names.includes('mosquitto') ? f('mosquitto') : NaN;
    return [what, ours, mosq, fmtRatio(ratio(ours, mosq))];
  });
  const errors = runs.filter((x) => x.error).map((x) => `${x.peer}: ${x.error}`);
  return {
    name: 'footprint',
    tables: [{
      title: `footprint (medians of ${opts.rounds} rounds, each broker fresh per round, alternating)`,
      header: ['', 'ours', 'mosquitto', 'ours/mosquitto'],
      rows,
      notes: [
        'ours: bin/host-broker.cjs start --port P --data-dir <fresh> --allow-anonymous, executed (its first line: MALLOC_MMAP_THRESHOLD_=131072, node --max-semi-space-size=4; bin/README.md); SQLite store, default limits, logs at info to /dev/null',
        'mosquitto: Debian mosquitto -c (listener, allow_anonymous true, persistence false), its other defaults',
        `startup: spawn -> first CONNECT answered with CONNACK 0 (polled every 10 ms); idle RSS ${cfg.idleMs / 1000} s after that`,
        `fuzz: ${cfg.fuzzConnections} TCP connections, ${cfg.fuzzConcurrency} at a time, each a CONNECT (some with a Will, no credentials) and one mutated packet (test/reliability/support/mutate.ts)`,
        `password checks (ours only: Mosquitto has no password file here): CONNECTs of a registered device with a wrong password (CONNACK 4) from 127.3.0.x, 9 per address, each an scrypt check (N=16384, r=8: 16 MiB); RSS 1 s after the last`,
        'load: the broker bench qos1 scenario (--quick sizes), RSS at the end of its measured window',
        'RSS counts shared file pages too: a bare Node 20 process is about 40 MB here, most of it the node binary',
        ...errors.map((e) => `error ${e}`),
        names.includes('mosquitto') ? '' : 'skipped mosquitto: not installed (apt-get install mosquitto)',
      ].filter(Boolean),
    }],
    data: { config: cfg, runs },
  };
}
