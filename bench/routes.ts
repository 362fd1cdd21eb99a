// Route throughput against local targets: messages per second per route type.
// Run alone: `npx tsx bench/routes.ts [messages]`; bench/index.ts may import runRoutesBench().
// Two numbers per target: enqueue (the synchronous durable write on the broker's
// publish path) and delivery (queue -> target, all in the queue at start).
import * as http from 'http';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { RouteManager } from '../host-broker/routes';
import { tempDir } from '../test/routes/fixtures/common';
import { s3Server } from '../test/routes/fixtures/s3-server';
import { startPostgres } from '../test/helpers/postgres';

export interface RouteBenchResult { route: string; messages: number; enqueuePerSec: number; deliverPerSec: number }

async function measure(name: string, route: Record<string, unknown>, n: number, queueFile: string): Promise<RouteBenchResult> {
  const mgr = new RouteManager({ queue: queueFile, routes: [{ name, filter: 'bench/#', ...route }] });
  const payload = Buffer.from(JSON.stringify({ t: 21.5, h: 40, battery: 3.71, ts: Date.now() }));
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) mgr.enqueue({ topic: `bench/device${i % 16}/telemetry`, payload, qos: 1, retain: false });
  const enqueueNs = Number(process.hrtime.bigint() - t0);
  t0 = process.hrtime.bigint();
  mgr.start();
  await mgr.drain(name, 600000);
  const deliverNs = Number(process.hrtime.bigint() - t0);
  const st = mgr.get(name)!;
  await mgr.close();
  if (st.stats.delivered !== n) throw new Error(`${name}: delivered ${st.stats.delivered} of ${n}`);
  return { route: name, messages: n, enqueuePerSec: Math.round(n / (enqueueNs / 1e9)), deliverPerSec: Math.round(n / (deliverNs / 1e9)) };
}

export async function runRoutesBench(n = 5000): Promise<RouteBenchResult[]> {
  const tmp = tempDir('bench-routes-');
  const results: RouteBenchResult[] = [];
  const delivery = { concurrency: 8, batchSize: 200 };
  try {
    // REST: a Node HTTP server that accepts everything.
    const server = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end()); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as import('net').AddressInfo).port;
    results.push(await measure('rest', { type: 'rest', uri: `http://127.0.0.1:${port}/`, delivery }, n, `${tmp.dir}/q-rest.sqlite`));
    server.closeAllConnections();
    server.close();

    // SQLite file.
    const sink = new Database(`${tmp.dir}/sink.sqlite`);
    sink.pragma('journal_mode = WAL');
    sink.exec('CREATE TABLE m (topic TEXT, payload TEXT)');
    sink.close();
    results.push(await measure('sql-sqlite', { type: 'sql', driver: 'sqlite', sqlite: { path: `${tmp.dir}/sink.sqlite` },
      statement: 'INSERT INTO m VALUES ($TOPIC, $PAYLOAD)', delivery }, n, `${tmp.dir}/q-sqlite.sqlite`));

    // PostgreSQL, when installed.
    const pg = await startPostgres();
    if (pg) {
      const c = new Client({ connectionString: pg.connectionString });
      await c.connect();
      await c.query('CREATE TABLE m (topic TEXT, payload TEXT)');
      await c.end();
      results.push(await measure('sql-postgres', { type: 'sql', driver: 'postgres', postgres: { connectionString: pg.connectionString },
        statement: 'INSERT INTO m VALUES ($TOPIC, $PAYLOAD)', delivery }, n, `${tmp.dir}/q-pg.sqlite`));
      await pg.destroy();
    } else {
      console.error('bench/routes: PostgreSQL not installed, sql-postgres skipped');
    }

    // S3 (s3rver), both strategies.
    const s3 = await s3Server(`${tmp.dir}/s3`, ['bench']);
    await s3.start();
    for (const strategy of ['per_message', 'per_topic']) {
      results.push(await measure(`s3-${strategy}`, { type: 's3', endpoint: s3.endpoint, bucket: 'bench', prefix: 'b', strategy,
        credentials: s3.credentials, delivery }, n, `${tmp.dir}/q-s3-${strategy}.sqlite`));
    }
    await s3.stop();
  } finally {
    tmp.remove();
  }
  return results;
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 5000);
  runRoutesBench(n).then((rs) => {
    console.log(`route throughput, ${n} messages each (concurrency 8, batch 200), ${new Date().toISOString()}`);
    console.table(rs);
  }, (err) => { console.error(err); process.exit(1); });
}
