// Where our broker spends its CPU: runs it with `node --cpu-prof`, drives it
// with the broker bench's qos1 scenario (in-memory store) and its persist-qos1
// scenario (SQLite, persistent sessions), and sums each profile's samples into
// self time per function and per file.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LoadGenerator } from './load/client';
import { brokerConfig, type Scenario } from './broker';
import { startPeer } from './brokers/peers';
import { runOnPeer } from './brokers/run';
import { ROOT } from './lib/proc';
import type { BenchOptions, BenchResult, TableOut } from './lib/types';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

export interface SelfTime { fn: string; where: string; ms: number; pct: number }

function shortUrl(url: string): string {
  if (!url) return '';
  const p = url.replace(/^file:\/\//, '');
  if (p.startsWith(ROOT)) return path.relative(ROOT, p);
  return p;
}

/** Self time per function (name + file + line) and per file, idle excluded from the percentages. */
export function summariseProfile(prof: CpuProfile, top = 15): { functions: SelfTime[]; files: SelfTime[]; totalMs: number; idleMs: number } {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const fnMs = new Map<string, { fn: string; where: string; ms: number }>();
  const fileMs = new Map<string, number>();
  let total = 0;
  let idle = 0;
  prof.samples.forEach((id, i) => {
    const ms = (prof.timeDeltas[i] ?? 0) / 1000;
    const n = byId.get(id);
    if (!n) return;
    const f = n.callFrame;
    if (f.functionName === '(idle)') { idle += ms; return; }
    total += ms;
    const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName}|${where}`;
    const e = fnMs.get(key) ?? { fn: f.functionName || '(anonymous)', where, ms: 0 };
    e.ms += ms;
    fnMs.set(key, e);
    const file = f.url ? shortUrl(f.url).replace(/^(node_modules\/[^/]+)\/.*/, '$1') : f.functionName;
    fileMs.set(file, (fileMs.get(file) ?? 0) + ms);
  });
  const pct = (ms: number) => (100 * ms) / (total || 1);
  const functions = [...fnMs.values()].sort((a, b) => b.ms - a.ms).slice(0, top).map((e) => ({ ...e, pct: pct(e.ms) }));
  const files = [...fileMs.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([where, ms]) => ({ fn: '', where, ms, pct: pct(ms) }));
  return { functions, files, totalMs: total, idleMs: idle };
}

/** Profiles one of our peers under one scenario; returns its two tables. */
async function profileOne(peerName: 'ours' | 'ours-sqlite', scenario: Scenario, durationMs: number, gen: LoadGenerator, log: (l: string) => void): Promise<{ tables: TableOut[]; data: unknown }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prof-'));
  const peer = await startPeer(peerName, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  try {
    log(`profiling ${peerName} under ${scenario.what} for ${durationMs} ms`);
    const run = await runOnPeer(gen, peer, { ...scenario.job, durationMs, tag: `prof${peerName.length}${Date.now() % 100000}` });
    await peer.stop();
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`node --cpu-prof wrote no profile in ${dir}`);
    const s = summariseProfile(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    return {
      tables: [
        {
          title: `CPU profile of ${peerName} under ${scenario.what} (${Math.round(run.deliveredPerSec)} msg/s while profiled; self time, top functions)`,
          header: ['function', 'where', 'self ms', 'self %'],
          rows: s.functions.map((f) => [f.fn, f.where, f.ms, f.pct]),
          notes: [`busy ${Math.round(s.totalMs)} ms, idle ${Math.round(s.idleMs)} ms over the whole broker process life (setup included); % of busy time; time blocked in a synchronous COMMIT (fsync) counts as busy`],
        },
        {
          title: `the same profile of ${peerName} by file (node_modules by package)`,
          header: ['file', 'self ms', 'self %'],
          rows: s.files.map((f) => [f.where, f.ms, f.pct]),
          notes: [],
        },
      ],
      data: { run, summary: s },
    };
  } finally {
    await peer.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Two profiles: the in-memory broker under the QoS 1 load, and the durable one
 * (SQLite, persistent sessions) under the persistent-session QoS 1 load.
 */
export async function runProfileBench(opts: BenchOptions, durationMs = opts.quick ? 2000 : 5000): Promise<BenchResult> {
  const cfg = brokerConfig(opts.quick);
  const gen = new LoadGenerator();
  try {
    const mem = await profileOne('ours', cfg.scenarios.find((s) => s.name === 'qos1')!, durationMs, gen, opts.log);
    const durable = await profileOne('ours-sqlite', cfg.durable!.scenarios.find((s) => s.name === 'persist-qos1')!, durationMs, gen, opts.log);
    return {
      name: 'profile',
      tables: [...mem.tables, ...durable.tables],
      data: { ...(mem.data as object), durable: durable.data },
    };
  } finally {
    await gen.stop();
  }
}
