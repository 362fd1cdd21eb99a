// SQL routes on real SQLite files (better-sqlite3), and the $TOPIC/$PAYLOAD binding.
import { strict as assert } from 'assert';
import Database from 'better-sqlite3';
import { RouteManager } from '../../host-broker/routes';
import { byTopic, eventLog, FAST, oneRouteManager, publishTo, tempDir, waitFor } from './fixtures/common';

const INJECTIONS = [
  "'); DROP TABLE readings; --",
  "x', 'y'); DELETE FROM readings; --",
  '"; DROP TABLE readings; --',
  "$TOPIC', $PAYLOAD); DROP TABLE readings; --",
  "Robert'); DROP TABLE readings;/*",
];

describe('routes: SQL on SQLite', () => {
  let tmp: ReturnType<typeof tempDir>;
  let mgr: RouteManager | null = null;
  let target: Database.Database;
  let file: string;

  beforeEach(() => {
    tmp = tempDir('routes-sqlite-');
    file = `${tmp.dir}/target.sqlite`;
    target = new Database(file);
    target.exec(`CREATE TABLE readings (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      topic TEXT NOT NULL,
      payload TEXT NOT NULL CHECK (payload <> 'poison'),
      note TEXT
    )`);
  });
  afterEach(async () => {
    if (mgr) await mgr.close();
    mgr = null;
    target.close();
    tmp.remove();
  });

  function manager(route: Record<string, unknown> = {}, events = eventLog(), start = true) {
    const m = oneRouteManager(tmp.dir, {
      name: 'db', type: 'sql', driver: 'sqlite', filter: 'sensors/#', sqlite: { path: file },
      statement: 'INSERT INTO readings (topic, payload) VALUES ($TOPIC, $PAYLOAD)', delivery: FAST, ...route,
    }, { events, start, eventsPerSecond: 1000 }); // the tests count events; the default limit would fold some into a summary
    mgr = m.mgr;
    return m;
  }
  const rows = () => target.prepare('SELECT topic, payload, note FROM readings ORDER BY seq').all() as { topic: string; payload: string; note: string | null }[];
  const publish = (m: RouteManager, topic: string, payload: string | Buffer) => publishTo(m, topic, payload, { qos: 0 });

  it('stores injection attempts in payload and topic verbatim; the table stays intact', async () => {
    const { mgr: m } = manager();
    for (const p of INJECTIONS) publish(m, 'sensors/x', p);
    publish(m, "sensors/it's'); DROP TABLE readings; --", 'topic attack');
    await m.drain();
    const got = rows();
    assert.deepEqual(got.map((r) => r.payload), [...INJECTIONS, 'topic attack']);
    assert.equal(got[got.length - 1].topic, "sensors/it's'); DROP TABLE readings; --");
    assert.equal((target.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'readings'").get() as { n: number }).n, 1);
  });

  it('leaves $TOPIC inside string literals and comments alone', async () => {
    const { mgr: m } = manager({
      statement: "INSERT INTO readings (topic, payload, note) -- $PAYLOAD here is a comment\n VALUES ($TOPIC, $PAYLOAD, 'literal $TOPIC ''quoted''' /* $TOPIC */)",
    });
    publish(m, 'sensors/a', 'v');
    await m.drain();
    assert.deepEqual(rows(), [{ topic: 'sensors/a', payload: 'v', note: "literal $TOPIC 'quoted'" }]);
  });

  it('binary payloadFormat stores the bytes as a BLOB', async () => {
    target.exec('CREATE TABLE blobs (topic TEXT, payload BLOB)');
    const { mgr: m } = manager({ statement: 'INSERT INTO blobs VALUES ($TOPIC, $PAYLOAD)', payloadFormat: 'binary' });
    const bytes = Buffer.from([0, 1, 0xff, 0xc3, 0x28]);
    publish(m, 'sensors/b', bytes);
    await m.drain();
    assert.deepEqual((target.prepare('SELECT payload FROM blobs').get() as { payload: Buffer }).payload, bytes);
  });

  it('a refused message in a batch: the batch is retried one by one, the rest land, the bad one is dead-lettered', async () => {
    const { mgr: m, events } = manager({ delivery: { ...FAST, maxAttempts: 2, batchSize: 50 } }, eventLog(), false);
    for (let i = 0; i < 20; i++) publish(m, `sensors/${i % 2}`, i === 7 ? 'poison' : `v${i}`);
    m.start();
    await waitFor(() => m.get('db')!.deadLetters === 1, 'the poison message in dead letters');
    await m.drain();
    const want = Array.from({ length: 20 }, (_, i) => ({ topic: `sensors/${i % 2}`, payload: `v${i}` })).filter((_, i) => i !== 7);
    assert.deepEqual(byTopic(rows()), byTopic(want));
    assert.equal(rows().length, 19);
    const dead = m.deadLetters('db');
    assert.equal(dead[0].payload.toString(), 'poison');
    assert.match(dead[0].error, /CHECK constraint failed/);
    assert.ok(events.events.some((e) => e.severity === 'error' && /CHECK constraint failed/.test(e.message)));
    assert.ok(events.events.some((e) => /retrying one message at a time/.test(e.message)));
  });

  it('a locked target database is retried (transient) until the lock goes', async () => {
    const { mgr: m, events } = manager({ delivery: { ...FAST, maxAttempts: 1 } }, eventLog(), false);
    const locker = new Database(file);
    locker.exec('BEGIN EXCLUSIVE');
    publish(m, 'sensors/a', 'after the lock');
    m.start();
    await waitFor(() => events.events.length >= 2, 'failures while the file is locked');
    assert.match(events.events[0].message, /SQLITE_BUSY|locked/);
    locker.exec('COMMIT');
    locker.close();
    await m.drain();
    assert.deepEqual(rows().map((r) => r.payload), ['after the lock']);
    assert.equal(m.get('db')!.deadLetters, 0);
  });

  it('a missing table is reported with the database error', async () => {
    const { mgr: m, events } = manager({ statement: 'INSERT INTO nope (t) VALUES ($TOPIC)', delivery: { ...FAST, maxAttempts: 1 } });
    publish(m, 'sensors/a', 'x');
    await waitFor(() => m.get('db')!.deadLetters === 1, 'dead letter');
    assert.match(events.events[0].message, /no such table: nope/);
  });
});
