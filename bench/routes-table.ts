// `--only routes`: the routes developer's bench (bench/routes.ts, theirs), shown as a table.
import { runRoutesBench } from './routes';
import type { BenchOptions, BenchResult } from './lib/types';

export async function runRoutesTable(opts: BenchOptions): Promise<BenchResult> {
  const n = opts.quick ? 1000 : 5000;
  const rows = await runRoutesBench(n);
  return {
    name: 'routes',
    tables: [{
      title: `route throughput (${n} messages per route; bench/routes.ts)`,
      header: ['route', 'messages', 'enqueue msg/s', 'deliver msg/s'],
      rows: rows.map((r) => [r.route, r.messages, r.enqueuePerSec, r.deliverPerSec]),
      notes: ['no baseline: routes have no peer in Aedes or Mosquitto'],
    }],
    data: rows,
  };
}
