// SQLite Store (better-sqlite3, synchronous). WAL with synchronous=FULL makes
// every committed transaction durable before COMMIT returns. Writes are group
// committed (group-commit.ts): each joins the open transaction, and one COMMIT
// (one fsync) per event-loop turn makes them durable together; the broker
// sends nothing before that commit, so a message it has acknowledged survives
// kill -9 and power loss.
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as path from 'path';
import { GroupCommit } from './group-commit';
import { QUEUE_IN_MEMORY, QUEUE_ROW_OVERHEAD, type OutboundMessage, type OutboundState, type RetainedMessage, type Store, type StoredSession,
  type StoredSubscription, type QoS } from './types';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (client_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL,
  PRIMARY KEY (client_id, filter));
CREATE TABLE IF NOT EXISTS outbound (client_id TEXT NOT NULL, seq INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
  qos INTEGER NOT NULL, retain INTEGER NOT NULL, state TEXT NOT NULL, packet_id INTEGER, PRIMARY KEY (client_id, seq));
CREATE TABLE IF NOT EXISTS inbound_qos2 (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id));
CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key));
`;

interface OutboundRow { seq: number; topic: string; payload: Buffer; qos: 1 | 2; retain: number; state: string; packet_id: number | null }

const toOutbound = (r: OutboundRow): OutboundMessage => ({
  seq: r.seq, topic: r.topic, payload: Buffer.from(r.payload), qos: r.qos, retain: !!r.retain,
  state: r.state as OutboundState, packetId: r.packet_id ?? undefined,
});

export interface SqliteStoreOptions {
  /** Directory for hub.db (created if missing). */
  dataDir: string;
  /** File name inside dataDir; default hub.db. */
  file?: string;
}

export class SqliteStore implements Store {
  readonly file: string;
  /** Told how long each group commit's COMMIT took (the fsync of one batch), in seconds (metrics). */
  onCommit?: (seconds: number) => void;
  /**
   * The open database, for writers with tables of their own in the same file
   * (route queue, bridge queue): they create their tables and prepare their
   * statements on it, and run writes only inside transaction(), so that they
   * join the broker's batch and its single commit (README.md here).
   */
  readonly db: Database.Database;
  /** Batch bookkeeping: commits so far, writes per batch. */
  readonly batches: GroupCommit;
  private st: Record<string, Database.Statement>;

  constructor(opts: SqliteStoreOptions) {
    fs.mkdirSync(opts.dataDir, { recursive: true });
    this.file = path.join(opts.dataDir, opts.file ?? 'hub.db');
    this.db = new Database(this.file);
    this.db.pragma('journal_mode = WAL');
    // FULL: fsync the WAL on every commit; NORMAL could lose the last commits on power loss.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = OFF');
    this.db.exec(SCHEMA);
    const p = (sql: string) => this.db.prepare(sql);
    this.st = {
      sessions: p('SELECT client_id FROM sessions ORDER BY client_id'),
      subsOf: p('SELECT filter, qos FROM subscriptions WHERE client_id = ? ORDER BY rowid'),
      inflightOf: p("SELECT seq, topic, payload, qos, retain, state, packet_id FROM outbound WHERE client_id = ? AND state != 'queued' ORDER BY seq"),
      queuedAfter: p("SELECT seq, topic, payload, qos, retain, state, packet_id FROM outbound WHERE client_id = ? AND seq > ? AND state = 'queued' ORDER BY seq LIMIT ?"),
      queuedTotals: p(`SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(CAST(topic AS BLOB)) + LENGTH(payload)), 0) AS bytes,
        COALESCE(SUM(LENGTH(payload)), 0) AS payload FROM outbound WHERE client_id = ? AND state = 'queued'`),
      maxSeqOf: p('SELECT COALESCE(MAX(seq), 0) AS s FROM outbound WHERE client_id = ?'),
      q2Of: p('SELECT packet_id FROM inbound_qos2 WHERE client_id = ? ORDER BY rowid'),
      createSession: p('INSERT OR IGNORE INTO sessions (client_id, created_at) VALUES (?, ?)'),
      delSession: p('DELETE FROM sessions WHERE client_id = ?'),
      delSubsOf: p('DELETE FROM subscriptions WHERE client_id = ?'),
      delOutOf: p('DELETE FROM outbound WHERE client_id = ?'),
      delQ2Of: p('DELETE FROM inbound_qos2 WHERE client_id = ?'),
      putSub: p('INSERT INTO subscriptions (client_id, filter, qos) VALUES (?, ?, ?) ON CONFLICT(client_id, filter) DO UPDATE SET qos = excluded.qos'),
      delSub: p('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?'),
      putOut: p('INSERT OR REPLACE INTO outbound (client_id, seq, topic, payload, qos, retain, state, packet_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      updOut: p('UPDATE outbound SET state = ?, packet_id = ? WHERE client_id = ? AND seq = ?'),
      delOut: p('DELETE FROM outbound WHERE client_id = ? AND seq = ?'),
      addQ2: p('INSERT OR IGNORE INTO inbound_qos2 (client_id, packet_id) VALUES (?, ?)'),
      delQ2: p('DELETE FROM inbound_qos2 WHERE client_id = ? AND packet_id = ?'),
      retained: p('SELECT topic, payload, qos FROM retained ORDER BY topic'),
      putRet: p('INSERT OR REPLACE INTO retained (topic, payload, qos) VALUES (?, ?, ?)'),
      delRet: p('DELETE FROM retained WHERE topic = ?'),
      kvGet: p('SELECT value FROM kv WHERE ns = ? AND key = ?'),
      kvPut: p('INSERT OR REPLACE INTO kv (ns, key, value) VALUES (?, ?, ?)'),
      kvDel: p('DELETE FROM kv WHERE ns = ? AND key = ?'),
      kvList: p('SELECT key, value FROM kv WHERE ns = ? ORDER BY key'),
    };
    const begin = p('BEGIN');
    const commit = p('COMMIT');
    const rollback = p('ROLLBACK');
    this.batches = new GroupCommit({
      begin: () => begin.run(),
      commit: () => {
        if (!this.onCommit) { commit.run(); return; }
        const t0 = process.hrtime.bigint();
        commit.run();
        this.onCommit(Number(process.hrtime.bigint() - t0) / 1e9);
      },
      // A failed COMMIT may have ended the transaction already (SQLITE_FULL, I/O errors).
      rollback: () => { try { if (this.db.inTransaction) rollback.run(); } catch { /* nothing left to undo */ } },
    });
  }

  /** Sessions with their in-flight messages and the head of each queue; the rest of a queue stays on disk. */
  loadSessions(): StoredSession[] {
    return (this.st.sessions.all() as { client_id: string }[]).map(({ client_id }) => {
      const totals = this.st.queuedTotals.get(client_id) as { n: number; bytes: number; payload: number };
      const inflight = (this.st.inflightOf.all(client_id) as OutboundRow[]).map(toOutbound);
      const head = this.loadQueued(client_id, 0, QUEUE_IN_MEMORY.messages, QUEUE_IN_MEMORY.bytes);
      return {
        clientId: client_id,
        subscriptions: (this.st.subsOf.all(client_id) as { filter: string; qos: number }[]).map((r) => ({ filter: r.filter, qos: r.qos as QoS })),
        outbound: [...inflight, ...head].sort((a, b) => a.seq - b.seq),
        inboundQos2: (this.st.q2Of.all(client_id) as { packet_id: number }[]).map((r) => r.packet_id),
        queued: {
          count: totals.n,
          bytes: totals.bytes + totals.n * (QUEUE_ROW_OVERHEAD + 2 * Buffer.byteLength(client_id)),
          payloadBytes: totals.payload,
          maxSeq: (this.st.maxSeqOf.get(client_id) as { s: number }).s,
        },
      };
    });
  }

  loadQueued(clientId: string, afterSeq: number, maxMessages: number, maxBytes: number): OutboundMessage[] {
    const out: OutboundMessage[] = [];
    let bytes = 0;
    for (const r of this.st.queuedAfter.iterate(clientId, afterSeq, maxMessages) as IterableIterator<OutboundRow>) {
      out.push(toOutbound(r));
      bytes += r.payload.length;
      if (bytes >= maxBytes) break; // ends the statement
    }
    return out;
  }

  createSession(clientId: string): void { this.batches.join(); this.st.createSession.run(clientId, Date.now()); }
  deleteSession(clientId: string): void {
    this.batches.join();
    this.st.delSubsOf.run(clientId); this.st.delOutOf.run(clientId); this.st.delQ2Of.run(clientId); this.st.delSession.run(clientId);
  }
  putSubscription(clientId: string, sub: StoredSubscription): void { this.batches.join(); this.st.putSub.run(clientId, sub.filter, sub.qos); }
  deleteSubscription(clientId: string, filter: string): void { this.batches.join(); this.st.delSub.run(clientId, filter); }
  putOutbound(clientId: string, m: OutboundMessage): void {
    this.batches.join();
    this.st.putOut.run(clientId, m.seq, m.topic, m.payload, m.qos, m.retain ? 1 : 0, m.state, m.packetId ?? null);
  }
  updateOutbound(clientId: string, seq: number, state: OutboundState, packetId: number | undefined): void {
    this.batches.join();
    this.st.updOut.run(state, packetId ?? null, clientId, seq);
  }
  deleteOutbound(clientId: string, seq: number): void { this.batches.join(); this.st.delOut.run(clientId, seq); }
  addInboundQos2(clientId: string, packetId: number): void { this.batches.join(); this.st.addQ2.run(clientId, packetId); }
  deleteInboundQos2(clientId: string, packetId: number): void { this.batches.join(); this.st.delQ2.run(clientId, packetId); }
  loadRetained(): RetainedMessage[] {
    return (this.st.retained.all() as any[]).map((r) => ({ topic: r.topic, payload: Buffer.from(r.payload), qos: r.qos as QoS }));
  }
  putRetained(m: RetainedMessage): void { this.batches.join(); this.st.putRet.run(m.topic, m.payload, m.qos); }
  deleteRetained(topic: string): void { this.batches.join(); this.st.delRet.run(topic); }
  kvGet(ns: string, key: string): unknown {
    const r = this.st.kvGet.get(ns, key) as { value: string } | undefined;
    return r ? JSON.parse(r.value) : undefined;
  }
  kvPut(ns: string, key: string, value: unknown): void { this.batches.join(); this.st.kvPut.run(ns, key, JSON.stringify(value)); }
  kvDelete(ns: string, key: string): void { this.batches.join(); this.st.kvDel.run(ns, key); }
  kvList(ns: string): { key: string; value: unknown }[] {
    return (this.st.kvList.all(ns) as { key: string; value: string }[]).map((r) => ({ key: r.key, value: JSON.parse(r.value) }));
  }
  transaction<T>(fn: () => T): T {
    // No savepoint: the batch is the unit that lands or not, and the broker's
    // memory is not rolled back either, so a half-done fn stays as it is in both.
    this.batches.join();
    return fn();
  }
  commit(): void { this.batches.commit(); }
  get uncommitted(): boolean { return this.batches.uncommitted; }
  afterCommit(cb: (err?: Error) => void): void { this.batches.afterCommit(cb); }
  onCommitFailure(handler: (err: Error) => void): void { this.batches.onCommitFailure(handler); }
  close(): void {
    if (!this.db.open) return;
    try { this.batches.commit(); } finally { this.db.close(); }
  }
}
