// Command line of `npm run bench`.
export const BENCH_NAMES = ['size', 'memory', 'codec', 'broker', 'latency', 'bridge', 'growth', 'footprint', 'fleet', 'profile', 'routes', 'console'] as const;
export type BenchName = (typeof BENCH_NAMES)[number];
/** Benchmarks run when --only is not given (routes and console are asked for by name). */
export const DEFAULT_BENCHES: BenchName[] = ['size', 'memory', 'codec', 'broker', 'latency', 'bridge', 'growth', 'footprint', 'fleet', 'profile'];

export interface CliOptions { only: BenchName[]; rounds: number; quick: boolean; out: string; help: boolean }

export const USAGE = `usage: npm run bench -- [--only name[,name...]] [--rounds N] [--quick] [--out file]
  names: ${BENCH_NAMES.join(', ')} (default: all but routes and console)
  --rounds N   rounds per comparison, baseline and ours alternating (default 3, --quick 2)
  --quick      smaller sizes and shorter runs
  --out file   where to write the JSON results (default bench/results.json)`;

export function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = { only: [], rounds: 0, quick: false, out: '', help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--help' || a === '-h') o.help = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      for (const n of value().split(',').filter(Boolean)) {
        if (!(BENCH_NAMES as readonly string[]).includes(n)) throw new Error(`--only: unknown benchmark "${n}"; expected one of ${BENCH_NAMES.join(', ')}`);
        o.only.push(n as BenchName);
      }
    } else if (a === '--rounds' || a.startsWith('--rounds=')) {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 50) throw new Error(`--rounds: expected a whole number from 1 to 50, got "${v}"`);
      o.rounds = n;
    } else if (a === '--out' || a.startsWith('--out=')) o.out = value();
    else throw new Error(`unknown argument "${a}"\n${USAGE}`);
  }
  if (!o.rounds) o.rounds = o.quick ? 2 : 3;
  if (!o.only.length) o.only = [...DEFAULT_BENCHES];
  return o;
}
