// The durable route queue: one row per (route, message) in SQLite, written
// synchronously before the route runs and deleted only once the target accepted
// it. Rows are read back in id order, which is arrival order, so per-topic order
// survives retries and restarts. Messages a target keeps rejecting move to a
// dead-letter table rather than vanish.
import Database from 'better-sqlite3';
import { QueuedMessage } from './types';

export interface DeadLetter extends QueuedMessage { error: string; deadAt: string }

interface Row { id: number; route: string; topic: string; payload: Buffer; qos: number; retain: number; ts: string; attempts: number }

const SCHEMA = `
CREATE TABLE IF NOT EXISTS route_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  route TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  ts TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS route_queue_by_route ON route_queue (route, id);
CREATE TABLE IF NOT EXISTS route_dead (
  id INTEGER PRIMARY KEY,
  route TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  ts TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT NOT NULL,
  dead_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS route_dead_by_route ON route_dead (route, id);
`;

function toMessage(r: Row): QueuedMessage {
  return { id: r.id, route: r.route, topic: r.topic, payload: r.payload, qos: r.qos as 0 | 1 | 2, retain: r.retain === 1, ts: r.ts, attempts: r.attempts };
}

export class RouteQueue {
  readonly db: Database.Database;
  private readonly owned: boolean;
  private readonly depths = new Map<string, number>();
  private readonly st: Record<string, Database.Statement>;
  private readonly enqueueTx: (routes: string[], topic: string, payload: Buffer, qos: number, retain: boolean, ts: string) => void;

  /**
   * `db`: a path (the queue owns the file: WAL, synchronous=NORMAL, so a
   * process crash or kill -9 loses nothing once enqueue returned), or an open
   * better-sqlite3 handle shared with the hub's store (its pragmas are left alone).
   */
  constructor(db: string | Database.Database) {
    this.owned = typeof db === 'string';
    this.db = typeof db === 'string' ? new Database(db) : db;
    if (this.owned && this.db.name !== ':memory:') {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
    }
    this.db.exec(SCHEMA);
    const q = (sql: string) => this.db.prepare(sql);
    this.st = {
      insert: q('INSERT INTO route_queue (route, topic, payload, qos, retain, ts) VALUES (?, ?, ?, ?, ?, ?)'),
      next: q(`SELECT id, topic FROM route_queue WHERE route = ? AND topic NOT IN (SELECT value FROM json_each(?))
               ORDER BY id LIMIT ?`),
      load: q('SELECT * FROM route_queue WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id'),
      remove: q('DELETE FROM route_queue WHERE id IN (SELECT value FROM json_each(?))'),
      fail: q('UPDATE route_queue SET attempts = attempts + 1, last_error = ? WHERE id IN (SELECT value FROM json_each(?))'),
      toDead: q(`INSERT OR REPLACE INTO route_dead (id, route, topic, payload, qos, retain, ts, attempts, error, dead_at)
                 SELECT id, route, topic, payload, qos, retain, ts, attempts, ?, ? FROM route_queue WHERE id IN (SELECT value FROM json_each(?))`),
      counts: q('SELECT route, COUNT(*) AS n FROM route_queue GROUP BY route'),
      deadCount: q('SELECT COUNT(*) AS n FROM route_dead WHERE route = ?'),
      listDead: q('SELECT * FROM route_dead WHERE route = ? ORDER BY id LIMIT ?'),
      requeueDead: q(`INSERT INTO route_queue (route, topic, payload, qos, retain, ts)
                      SELECT route, topic, payload, qos, retain, ts FROM route_dead WHERE route = ? ORDER BY id`),
      purgeDead: q('DELETE FROM route_dead WHERE route = ?'),
      purge: q('DELETE FROM route_queue WHERE route = ?'),
      maxTs: q('SELECT MAX(ts) AS ts FROM route_queue'),
    };
    for (const r of this.st.counts.all() as { route: string; n: number }[]) this.depths.set(r.route, r.n);
    this.enqueueTx = this.db.transaction((routes: string[], topic: string, payload: Buffer, qos: number, retain: boolean, ts: string) => {
      for (const route of routes) this.st.insert.run(route, topic, payload, qos, retain ? 1 : 0, ts);
    });
  }

  /** Durably queues one message for several routes at once (one transaction). */
  enqueue(routes: string[], msg: { topic: string; payload: Buffer; qos: number; retain: boolean }, ts: string): void {
    if (routes.length === 0) return;
    this.enqueueTx(routes, msg.topic, msg.payload, msg.qos, msg.retain, ts);
    for (const r of routes) this.depths.set(r, (this.depths.get(r) ?? 0) + 1);
  }

  depth(route: string): number {
    return this.depths.get(route) ?? 0;
  }

  /** Routes with rows waiting, and how many (including routes no longer configured). */
  pending(): Map<string, number> {
    return new Map([...this.depths].filter(([, n]) => n > 0));
  }

  /** The oldest waiting rows of a route whose topic is not in `exclude` (ids and topics only). */
  peek(route: string, limit: number, exclude: Iterable<string>): { id: number; topic: string }[] {
    return this.st.next.all(route, JSON.stringify([...exclude]), limit) as { id: number; topic: string }[];
  }

  load(ids: number[]): QueuedMessage[] {
    return (this.st.load.all(JSON.stringify(ids)) as Row[]).map(toMessage);
  }

  /** The target accepted these: forget them. */
  remove(route: string, ids: number[]): void {
    const n = this.st.remove.run(JSON.stringify(ids)).changes;
    this.depths.set(route, Math.max(0, this.depth(route) - n));
  }

  recordFailure(ids: number[], error: string): void {
    this.st.fail.run(error.slice(0, 2000), JSON.stringify(ids));
  }

  /** Moves rows to the dead-letter table (kept for inspection and requeue). */
  deadLetter(route: string, ids: number[], error: string): void {
    const json = JSON.stringify(ids);
    this.db.transaction(() => {
      this.st.toDead.run(error.slice(0, 2000), new Date().toISOString(), json);
      this.remove(route, ids);
    })();
  }

  deadCount(route: string): number {
    return (this.st.deadCount.get(route) as { n: number }).n;
  }

  listDead(route: string, limit: number): DeadLetter[] {
    return (this.st.listDead.all(route, limit) as (Row & { error: string; dead_at: string })[])
      .map((r) => ({ ...toMessage(r), error: r.error, deadAt: r.dead_at }));
  }

  /** Puts a route's dead letters back at the end of its queue; returns how many. */
  requeueDead(route: string): number {
    return this.db.transaction(() => {
      const n = this.st.requeueDead.run(route).changes;
      this.st.purgeDead.run(route);
      this.depths.set(route, this.depth(route) + n);
      return n;
    })();
  }

  /** Drops everything queued or dead for a route; returns how many queued rows went. */
  purge(route: string): number {
    return this.db.transaction(() => {
      const n = this.st.purge.run(route).changes;
      this.st.purgeDead.run(route);
      this.depths.delete(route);
      return n;
    })();
  }

  /** Latest timestamp still queued, to keep new timestamps above it after a restart. */
  maxTs(): string | null {
    return (this.st.maxTs.get() as { ts: string | null }).ts;
  }

  close(): void {
    if (this.owned && this.db.open) this.db.close();
  }
}
