// The brokers under test, each in its own process on 127.0.0.1: ours (host-broker),
// Aedes (npm) and Mosquitto (Debian), with their stores in memory; and for the
// persistent-session rows the durable pair: ours on SQLite (synchronous=FULL)
// and Mosquitto saving its database on every change. A peer that dies is
// restarted on the next ensure() and the restart is counted, so the bench can say so.
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { forkBuilt, forkTs, rssMb, cpuSeconds, stopChild } from '../lib/proc';
import { startMosquitto, mosquittoPath, type Mosquitto } from '../../test/helpers/mosquitto';

export type PeerName = 'ours' | 'aedes' | 'mosquitto' | 'ours-sqlite' | 'mosquitto-autosave'
  // Edge gateways bridging to an upstream Mosquitto (bridge-edges.ts).
  | 'ours-bridge' | 'ours-sqlite-bridge' | 'mosquitto-bridge';
/** The in-memory peers: every table but the durable one. */
export const ALL_PEERS: PeerName[] = ['ours', 'aedes', 'mosquitto'];
/** Durable peers, for persistent sessions: what each acknowledged is on disk (ours) or saved soon after (Mosquitto). */
export const DURABLE_PEERS: PeerName[] = ['ours-sqlite', 'mosquitto-autosave'];

export interface Peer {
  readonly name: PeerName;
  readonly port: number;
  readonly pid: number;
  /** Times the peer died and was started again. */
  restarts: number;
  /** Why it died, each time (exit code / signal / last stderr line). */
  deaths: string[];
  alive(): boolean;
  /** Restarts the peer if it has died; resolves when it accepts connections. */
  ensure(): Promise<void>;
  rssMb(): number;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export function peerAvailable(name: PeerName): string | null {
  if (name.startsWith('mosquitto') && !mosquittoPath()) return 'mosquitto is not installed (apt-get install mosquitto)';
  return null;
}

/**
 * Starts a Node broker module and waits for its "PORT n" line. Ours (and our
 * bridge edge) runs compiled (build/), with the launchers' node flags and environment; Aedes
 * through tsx (its file only wraps the npm package).
 */
function startNode(file: string, nodeArgs: string[], args: string[]): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = /ours-|bridge-edge-/.test(file) ? forkBuilt(file, ['0', ...args], { nodeArgs }) : forkTs(file, ['0', ...args], { nodeArgs });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), stderr: () => err });
    });
    child.stderr!.on('data', (d) => { err = (err + d).slice(-4000); });
    child.once('exit', (code, sig) => reject(new Error(`${file} exited (${code ?? sig}) before listening: ${err.slice(-500)}`)));
  });
}

export class NodePeer implements Peer {
  restarts = 0;
  deaths: string[] = [];
  private child!: ChildProcess;
  private stderr: () => string = () => '';
  port = 0;
  constructor(readonly name: PeerName, private file: string, private nodeArgs: string[], private args: string[] = [], private cleanup = () => undefined as void) {}
  get pid() { return this.child.pid!; }
  async start(): Promise<void> {
    const r = await startNode(this.file, this.nodeArgs, this.args);
    this.child = r.child;
    this.port = r.port;
    this.stderr = r.stderr;
  }
  alive() { return this.child.exitCode === null && this.child.signalCode === null; }
  async ensure() {
    if (this.alive()) return;
    const lines = this.stderr().trim().split('\n').filter((l) => /Error|error/.test(l));
    this.deaths.push(`exit ${this.child.exitCode ?? this.child.signalCode}: ${(lines[0] ?? '').slice(0, 160)}`);
    this.restarts++;
    await this.start();
  }
  rssMb() { return rssMb(this.pid); }
  cpuSeconds() { return cpuSeconds(this.pid); }
  async stop() { await stopChild(this.child); this.cleanup(); }
}

export class MosquittoPeer implements Peer {
  restarts = 0;
  deaths: string[] = [];
  constructor(private m: Mosquitto, readonly name: PeerName = 'mosquitto') {}
  get port() { return this.m.port; }
  get pid() { return this.m.proc.pid!; }
  alive() { return this.m.proc.exitCode === null && this.m.proc.signalCode === null; }
  async ensure() {
    if (this.alive()) return;
    this.deaths.push(`exit ${this.m.proc.exitCode ?? this.m.proc.signalCode}`);
    this.restarts++;
    await this.m.restart();
  }
  rssMb() { return rssMb(this.pid); }
  cpuSeconds() { return cpuSeconds(this.pid); }
  stop() { return this.m.stop(); }
}

// Mosquitto 2.0.11 logged "Outgoing messages are being dropped" and lost QoS 1/2
// deliveries at its default max_queued_messages (1000) although the generator
// never had more than window x publishers messages undelivered per subscriber; a
// larger queue lets it deliver everything, as ours (1000 queued + 32 in flight)
// and Aedes (no bound) do under the same window. No connection cap.
export const MOSQUITTO_CONF = 'max_inflight_messages 20\nmax_queued_messages 100000\nmax_connections -1\n';

/**
 * Mosquitto as durable as it gets without a save per message being a full
 * database rewrite: persistence on, the database saved after every change
 * (autosave_on_changes with autosave_interval 1). It is still written after
 * the acknowledgement, so kill -9 can lose acknowledged messages. No per-client
 * bounds, like ours-sqlite (ours-process.ts --sqlite).
 */
export const MOSQUITTO_DURABLE_CONF = 'autosave_on_changes true\nautosave_interval 1\nmax_inflight_messages 0\nmax_queued_messages 0\nmax_connections -1\n';

export async function startPeer(name: PeerName, opts: { nodeArgs?: string[] } = {}): Promise<Peer> {
  if (name === 'mosquitto' || name === 'mosquitto-autosave') {
    const durable = name === 'mosquitto-autosave';
    const m = await startMosquitto(durable ? MOSQUITTO_DURABLE_CONF : MOSQUITTO_CONF, { persistence: durable });
    if (!m) throw new Error(peerAvailable(name)!);
    return new MosquittoPeer(m, name);
  }
  if (name === 'ours-sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-hub-'));
    const p = new NodePeer(name, 'bench/brokers/ours-process.ts', opts.nodeArgs ?? [], ['--sqlite', dir], () => fs.rmSync(dir, { recursive: true, force: true }));
    await p.start();
    return p;
  }
  const p = new NodePeer(name, name === 'ours' ? 'bench/brokers/ours-process.ts' : 'bench/brokers/aedes-process.ts', opts.nodeArgs ?? []);
  await p.start();
  return p;
}
