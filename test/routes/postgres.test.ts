// SQL routes on a private PostgreSQL server started for this suite on 127.0.0.1.
import { strict as assert } from 'assert';
import { Client } from 'pg';
import { RouteManager } from '../../host-broker/routes';
import { Postgres, POSTGRES_SKIP_MESSAGE, startPostgres } from '../helpers/postgres';
import { byTopic, eventLog, FAST, oneRouteManager, publishTo, tempDir, waitFor } from './fixtures/common';

describe('routes: SQL on PostgreSQL', function () {
  this.timeout(60000);
  let pg: Postgres | null = null;
  let db: Client;
  let tmp: ReturnType<typeof tempDir>;
  let mgr: RouteManager | null = null;

  before(async function () {
    pg = await startPostgres();
    if (!pg) {
      console.log(`      ${POSTGRES_SKIP_MESSAGE}`);
      this.skip();
    }
  });
  after(async () => { if (pg) await pg.destroy(); });

  beforeEach(async () => {
    tmp = tempDir('routes-pg-');
    db = new Client({ connectionString: pg!.connectionString });
    db.on('error', () => undefined); // the test stops the server under it
    await db.connect();
    await db.query(`DROP TABLE IF EXISTS readings;
      CREATE TABLE readings (seq BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL CHECK (payload <> 'poison'),
                             tx BIGINT, raw BYTEA)`);
  });
  afterEach(async () => {
    if (mgr) await mgr.close();
    mgr = null;
    await db.end().catch(() => undefined);
    tmp.remove();
  });

  function manager(route: Record<string, unknown> = {}, events = eventLog(), start = true) {
    const m = oneRouteManager(tmp.dir, {
      name: 'pg', type: 'sql', driver: 'postgres', filter: 'sensors/#',
      postgres: { host: '127.0.0.1', port: pg!.port, user: pg!.user, database: pg!.database },
      statement: 'INSERT INTO readings (topic, payload) VALUES ($TOPIC, $PAYLOAD)', delivery: FAST, ...route,
    }, { events, start, eventsPerSecond: 1000 }); // the tests count events; the default limit would fold some into a summary
    mgr = m.mgr;
    return m;
  }
  const rows = async () => (await db.query('SELECT topic, payload, tx FROM readings ORDER BY seq')).rows as { topic: string; payload: string; tx: string }[];
  const publish = (m: RouteManager, topic: string, payload: string | Buffer) => publishTo(m, topic, payload);

  it('stores injection attempts verbatim; the table stays intact', async () => {
    const { mgr: m } = manager();
    const attacks = ["'); DROP TABLE readings; --", "x'); DELETE FROM readings; --", '$$); DROP TABLE readings; $$', "\\'; TRUNCATE readings; --"];
    for (const a of attacks) publish(m, 'sensors/x', a);
    publish(m, "sensors/'); DROP TABLE readings; --", 't');
    await m.drain();
    const got = await rows();
    assert.deepEqual(got.map((r) => r.payload), [...attacks, 't']);
    assert.equal(got[4].topic, "sensors/'); DROP TABLE readings; --");
    assert.equal((await db.query("SELECT to_regclass('readings') IS NOT NULL AS ok")).rows[0].ok, true);
  });

  it('one transaction per batch', async () => {
    const { mgr: m } = manager({ statement: 'INSERT INTO readings (topic, payload, tx) VALUES ($TOPIC, $PAYLOAD, txid_current())', delivery: { ...FAST, batchSize: 50 } }, eventLog(), false);
    for (let i = 0; i < 100; i++) publish(m, 'sensors/one', `v${i}`);
    m.start();
    await m.drain();
    const got = await rows();
    assert.deepEqual(got.map((r) => r.payload), Array.from({ length: 100 }, (_, i) => `v${i}`));
    assert.equal(new Set(got.map((r) => r.tx)).size, 2, '100 messages of one topic in batches of 50 = 2 transactions');
  });

  it('$PAYLOAD twice and a cast: bound as the same parameter; binary format into bytea', async () => {
    const { mgr: m } = manager({
      statement: "INSERT INTO readings (topic, payload, raw) VALUES ($TOPIC, encode($PAYLOAD, 'hex'), $PAYLOAD::bytea)",
      payloadFormat: 'binary',
    });
    publish(m, 'sensors/b', Buffer.from([0, 0xff, 0x10]));
    await m.drain();
    const r = (await db.query('SELECT payload, raw FROM readings')).rows[0];
    assert.equal(r.payload, '00ff10');
    assert.deepEqual(r.raw, Buffer.from([0, 0xff, 0x10]));
  });

  it('the server goes down and comes back: nothing lost, order per topic kept', async () => {
    const { mgr: m, events } = manager({ delivery: { ...FAST, concurrency: 3, batchSize: 7 } });
    const sent: { topic: string; payload: string }[] = [];
    const send = (i: number) => { const topic = `sensors/${i % 4}`; sent.push({ topic, payload: `m${i}` }); publish(m, topic, `m${i}`); };
    for (let i = 0; i < 20; i++) send(i);
    await m.drain();
    await pg!.stop();
    for (let i = 20; i < 80; i++) send(i);
    await waitFor(() => events.events.length >= 2, 'failure events while PostgreSQL is down');
    assert.ok(events.events.every((e) => e.kind === 'route_failure' && e.severity === 'warning'));
    assert.ok(m.get('pg')!.queueDepth > 0);
    await pg!.start();
    await m.drain();
    await db.end().catch(() => undefined);
    db = new Client({ connectionString: pg!.connectionString });
    await db.connect();
    // Nothing was in flight when the server stopped (drained first), so no batch can repeat: exactly once here.
    assert.deepEqual(byTopic(await rows()), byTopic(sent));
    assert.equal(m.get('pg')!.deadLetters, 0);
  });

  it('a refused row (CHECK violation): events with the server error, bounded retries, dead letter', async () => {
    const { mgr: m, events } = manager({ delivery: { ...FAST, maxAttempts: 2 } });
    publish(m, 'sensors/a', 'ok1');
    publish(m, 'sensors/a', 'poison');
    publish(m, 'sensors/a', 'ok2');
    await waitFor(() => m.get('pg')!.deadLetters === 1, 'dead letter');
    await m.drain();
    assert.deepEqual((await rows()).map((r) => r.payload), ['ok1', 'ok2']);
    const errs = events.events.filter((e) => /readings_payload_check/.test(e.message));
    assert.ok(errs.length >= 2, 'each refusal raises an event naming the constraint');
    assert.equal(errs[errs.length - 1].severity, 'error');
  });
});
