// Where our broker spends its CPU under the QoS 1 load: runs host-broker with
// `node --cpu-prof`, drives it with the broker bench's qos1 scenario, and sums
// the profile's samples into self time per function and per file.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LoadGenerator } from './load/client';
import { brokerConfig } from './broker';
import { startPeer } from './brokers/peers';
import { runOnPeer } from './brokers/run';
import { ROOT } from './lib/proc';
import type { BenchOptions, BenchResult } from './lib/types';

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

export async function runProfileBench(opts: BenchOptions, durationMs = opts.quick ? 2000 : 5000): Promise<BenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prof-'));
  const scenario = brokerConfig(opts.quick).scenarios.find((s) => s.name === 'qos1')!;
  const gen = new LoadGenerator();
  const peer = await startPeer('ours', { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  try {
    opts.log(`profiling ours under ${scenario.what} for ${durationMs} ms`);
    const run = await runOnPeer(gen, peer, { ...scenario.job, durationMs, tag: 'prof' });
    await peer.stop();
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`node --cpu-prof wrote no profile in ${dir}`);
    const s = summariseProfile(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    return {
      name: 'profile',
      tables: [
        {
          title: `CPU profile of our broker under ${scenario.what} (${Math.round(run.deliveredPerSec)} msg/s while profiled; self time, top functions)`,
          header: ['function', 'where', 'self ms', 'self %'],
          rows: s.functions.map((f) => [f.fn, f.where, f.ms, f.pct]),
          notes: [`busy ${Math.round(s.totalMs)} ms, idle ${Math.round(s.idleMs)} ms over the whole broker process life (setup included); % of busy time`],
        },
        {
          title: 'the same profile by file (node_modules by package)',
          header: ['file', 'self ms', 'self %'],
          rows: s.files.map((f) => [f.where, f.ms, f.pct]),
          notes: [],
        },
      ],
      data: { run, summary: s },
    };
  } finally {
    await gen.stop();
    await peer.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
