// `npm run bench [-- --only name[,name] --rounds N --quick --out file]`:
// runs the benchmarks, prints one table each, writes bench/results.json.
// Every comparison runs baseline and ours in this same invocation, alternating,
// so the ratios hold on a noisy machine. See bench/README.md.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs, USAGE, type BenchName } from './lib/options';
import { renderTable } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';
import { runSizeBench } from './size';
import { runMemoryBench } from './memory';
import { runCodecBench } from './codec';
import { runBrokerBench } from './broker';
import { runLatencyBench } from './latency';
import { runBridgeBench } from './bridge';
import { runGrowthBench } from './growth';
import { runFleetBench } from './fleet';
import { runFootprintBench } from './footprint';
import { runProfileBench } from './profile';
import { runRoutesTable } from './routes-table';
import { runConsoleBench } from './console';

const RUNNERS: Record<BenchName, (o: BenchOptions) => Promise<BenchResult>> = {
  size: runSizeBench,
  memory: runMemoryBench,
  codec: runCodecBench,
  broker: runBrokerBench,
  latency: runLatencyBench,
  bridge: runBridgeBench,
  growth: runGrowthBench,
  footprint: runFootprintBench,
  fleet: runFleetBench,
  profile: runProfileBench,
  routes: runRoutesTable,
  console: runConsoleBench,
};

export function renderResult(r: BenchResult): string {
  if (r.skipped) return `== ${r.name}: SKIPPED: ${r.skipped}`;
  return r.tables.map((t) => renderTable(t.title, t.header, t.rows, t.notes)).join('\n\n');
}

async function main(): Promise<number> {
  let cli;
  try {
    cli = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  if (cli.help) {
    console.log(USAGE);
    return 0;
  }
  const t0 = Date.now();
  const opts: BenchOptions = { rounds: cli.rounds, quick: cli.quick, log: (l) => process.stderr.write(`  [bench] ${l}\n`) };
  const results: Record<string, BenchResult | { name: string; failed: string }> = {};
  let failed = 0;
  for (const name of cli.only) {
    process.stderr.write(`-- ${name}\n`);
    const started = Date.now();
    try {
      const r = await RUNNERS[name](opts);
      results[name] = r;
      console.log(renderResult(r) + `\n   (${name}: ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    } catch (e) {
      failed++;
      results[name] = { name, failed: (e as Error).stack ?? String(e) };
      console.log(`== ${name}: FAILED: ${(e as Error).message}\n`);
    }
  }
  const out = cli.out || path.join(__dirname, 'results.json');
  const doc = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: new Date(t0).toISOString(),
    seconds: (Date.now() - t0) / 1000,
    rounds: cli.rounds,
    quick: cli.quick,
    machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavgAtEnd: os.loadavg(), memMb: Math.round(os.totalmem() / 2 ** 20) },
    results,
  };
  fs.writeFileSync(out, JSON.stringify(doc, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2));
  console.log(`results written to ${path.relative(process.cwd(), out)} (${doc.seconds.toFixed(0)} s)`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
}
