// The durable outbound queue of one bridge: a table in the hub's own SQLite
// file (hub.db), written inside the store's batch, so a message lands in the
// queue in the same commit as the rest of what its PUBLISH changed, before the
// device's PUBACK leaves (store/README.md). A row is deleted only once the
// upstream has acknowledged it (PUBACK; PUBCOMP for QoS 2), in the next batch
// anything opens (or within a second): a lost delete only sends a message again.
//
// Only the head of the queue is held in memory (HEAD_IN_MEMORY): during a long
// outage the rest lives on disk and is read back in order as the head drains.
// Messages are handed out for sending only once their row is committed, so
// nothing reaches the upstream that a crash could still take back.
//
// With an in-memory hub (MemoryStore) the same table lives in a private
// ':memory:' database: the queue works the same and is lost on exit.
import type Database from 'better-sqlite3';
import type { Store } from '../store/types';
import type { QueuedMessage } from './types';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bridge_out (bridge TEXT NOT NULL, seq INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
  qos INTEGER NOT NULL, retain INTEGER NOT NULL, state TEXT NOT NULL, packet_id INTEGER, PRIMARY KEY (bridge, seq));
CREATE TABLE IF NOT EXISTS bridge_in_qos2 (bridge TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (bridge, packet_id));
`;

/** How much of a queue is read into memory at once. */
export const HEAD_IN_MEMORY = { messages: 512, bytes: 512 * 1024 };

/** Longest an acknowledged row waits for a batch to be deleted in (when no message arrives meanwhile). */
const DELETE_DELAY_MS = 1000;

/** Bytes SQLite spends on a bridge_out row beyond its topic, payload and bridge name (as for the sessions' outbound rows). */
const ROW_OVERHEAD = 64;

/** What one queued message costs on disk: the figure queue.maxBytes bounds. */
export function bridgeQueueCost(bridge: string, topic: string, payload: Buffer): number {
  return Buffer.byteLength(topic) + payload.length + ROW_OVERHEAD + 2 * Buffer.byteLength(bridge);
}

interface Row { seq: number; topic: string; payload: Buffer; qos: 1 | 2; retain: number; state: string; packet_id: number | null }

const toMessage = (r: Row): QueuedMessage => ({
  seq: r.seq, topic: r.topic, payload: Buffer.from(r.payload), qos: r.qos, retain: !!r.retain,
  state: r.state as QueuedMessage['state'], ...(r.packet_id !== null ? { packetId: r.packet_id } : {}),
});

/** Creates the tables once per database handle. */
export function ensureBridgeTables(db: Database.Database): void { db.exec(SCHEMA); }

export interface QueueBounds { maxBytes: number; maxMessages: number }

export class BridgeQueue {
  /** Rows in the table (queued and in flight). */
  count = 0;
  /** Their bridgeQueueCost() total. */
  bytes = 0;
  private head: QueuedMessage[] = [];
  private headStart = 0;
  private headBytes = 0;
  /** Queued rows only on disk, all after the head. */
  private spilled = 0;
  /** Highest seq read into memory (or handed out): spilled rows come after it. */
  private loadedSeq = 0;
  private lastSeq = 0;
  /** Rows up to this seq are committed: only they are handed out. */
  private committedSeq = 0;
  private waitingForCommit = false;
  /** Acknowledged rows not yet deleted on disk (see remove()). */
  private deletes: number[] = [];
  private deleteTimer: NodeJS.Timeout | null = null;
  private readonly st: Record<string, Database.Statement>;

  /**
   * `onCommit` runs once newly pushed rows are durable (so the bridge can send
   * them), or with the error if that commit failed (then the bridge rereads the
   * queue: what memory holds may never have reached the disk). Call reload()
   * before use.
   */
  constructor(db: Database.Database, private readonly store: Store, readonly bridge: string,
    private bounds: QueueBounds, private readonly onCommit: (err?: Error) => void) {
    const p = (sql: string) => db.prepare(sql);
    this.st = {
      insert: p('INSERT INTO bridge_out (bridge, seq, topic, payload, qos, retain, state, packet_id) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)'),
      setState: p('UPDATE bridge_out SET state = ?, packet_id = ? WHERE bridge = ? AND seq = ?'),
      remove: p('DELETE FROM bridge_out WHERE bridge = ? AND seq = ?'),
      totals: p(`SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(CAST(topic AS BLOB)) + LENGTH(payload)), 0) AS bytes, COALESCE(MAX(seq), 0) AS maxSeq
        FROM bridge_out WHERE bridge = ?`),
      queuedCount: p("SELECT COUNT(*) AS n FROM bridge_out WHERE bridge = ? AND state = 'queued'"),
      queuedAfter: p("SELECT seq, topic, payload, qos, retain, state, packet_id FROM bridge_out WHERE bridge = ? AND seq > ? AND state = 'queued' ORDER BY seq LIMIT ?"),
      inflight: p("SELECT seq, topic, payload, qos, retain, state, packet_id FROM bridge_out WHERE bridge = ? AND state != 'queued' ORDER BY seq"),
      purge: p('DELETE FROM bridge_out WHERE bridge = ?'),
      hasIn: p('SELECT 1 FROM bridge_in_qos2 WHERE bridge = ? AND packet_id = ?'),
      addIn: p('INSERT OR IGNORE INTO bridge_in_qos2 (bridge, packet_id) VALUES (?, ?)'),
      delIn: p('DELETE FROM bridge_in_qos2 WHERE bridge = ? AND packet_id = ?'),
      purgeIn: p('DELETE FROM bridge_in_qos2 WHERE bridge = ?'),
    };
  }

  setBounds(b: QueueBounds): void { this.bounds = b; }

  /**
   * Rereads the totals from disk and forgets the head: at start, and after a
   * failed commit (what memory held may never have reached the disk). Returns
   * the QoS 2 messages that were past PUBLISH (with their packet ids), oldest first.
   */
  reload(): QueuedMessage[] {
    this.flushDeletes();
    const t = this.st.totals.get(this.bridge) as { n: number; bytes: number; maxSeq: number };
    this.count = t.n;
    this.bytes = t.bytes + t.n * (ROW_OVERHEAD + 2 * Buffer.byteLength(this.bridge));
    this.lastSeq = Math.max(this.lastSeq, t.maxSeq);
    this.committedSeq = t.maxSeq;
    this.head = [];
    this.headStart = 0;
    this.headBytes = 0;
    this.loadedSeq = 0;
    this.spilled = (this.st.queuedCount.get(this.bridge) as { n: number }).n;
    return (this.st.inflight.all(this.bridge) as Row[]).map(toMessage);
  }

  /** Whether a message of this size fits within the bounds. */
  fits(topic: string, payload: Buffer): boolean {
    return this.count < this.bounds.maxMessages && this.bytes + bridgeQueueCost(this.bridge, topic, payload) <= this.bounds.maxBytes;
  }

  /** Below half of both bounds again (an overflow event is re-armed then). */
  belowHalf(): boolean { return this.count <= this.bounds.maxMessages / 2 && this.bytes <= this.bounds.maxBytes / 2; }

  /** Queues a message in the store's open batch; false (and nothing written) if it does not fit. */
  push(m: { topic: string; payload: Buffer; qos: 1 | 2; retain: boolean }): boolean {
    if (!this.fits(m.topic, m.payload)) return false;
    if (this.deletes.length) this.flushDeletes(); // into the batch this insert opens anyway
    const seq = ++this.lastSeq;
    this.store.transaction(() => this.st.insert.run(this.bridge, seq, m.topic, m.payload, m.qos, m.retain ? 1 : 0, 'queued'));
    this.count++;
    this.bytes += bridgeQueueCost(this.bridge, m.topic, m.payload);
    if (this.spilled === 0 && this.head.length - this.headStart < HEAD_IN_MEMORY.messages && this.headBytes < HEAD_IN_MEMORY.bytes) {
      this.head.push({ seq, topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, state: 'queued' });
      this.headBytes += m.payload.length;
      this.loadedSeq = seq;
    } else {
      this.spilled++;
    }
    this.whenCommitted();
    return true;
  }

  /**
   * One callback per batch, however many rows it holds: everything pushed
   * before the commit ran is in it (a commit takes the whole open batch).
   */
  private whenCommitted(): void {
    if (this.waitingForCommit) return;
    this.waitingForCommit = true;
    this.store.afterCommit((err) => {
      this.waitingForCommit = false;
      if (!err) this.committedSeq = this.lastSeq;
      // This runs inside the store's commit: it must never throw into it.
      try { this.onCommit(err); } catch { /* the bridge logs its own failures */ }
    });
  }

  /** The oldest queued message not yet handed out, if its row is committed. */
  next(): QueuedMessage | undefined {
    if (this.headStart === this.head.length && this.spilled > 0) this.loadMore();
    const m = this.head[this.headStart];
    if (!m || m.seq > this.committedSeq) return undefined;
    this.head[this.headStart++] = undefined as unknown as QueuedMessage;
    this.headBytes -= m.payload.length;
    if (this.headStart === this.head.length) { this.head = []; this.headStart = 0; }
    return m;
  }

  /** Messages that could be handed out now or later (not in flight). */
  get waiting(): number { return this.head.length - this.headStart + this.spilled; }

  private loadMore(): void {
    const rows = (this.st.queuedAfter.all(this.bridge, this.loadedSeq, HEAD_IN_MEMORY.messages) as Row[]).map(toMessage);
    // Rows pushed while spilling may still be in the open batch: reads on the same connection see them.
    this.spilled = Math.max(0, this.spilled - rows.length);
    if (rows.length === 0) { this.spilled = 0; return; }
    this.head = rows;
    this.headStart = 0;
    this.headBytes = rows.reduce((n, r) => n + r.payload.length, 0);
    this.loadedSeq = rows[rows.length - 1].seq;
  }

  /** QoS 2: the packet id and the step reached go to disk, in the open batch. */
  setState(m: QueuedMessage, state: 'sent' | 'released', packetId: number): void {
    m.state = state;
    m.packetId = packetId;
    this.store.transaction(() => this.st.setState.run(state, packetId, this.bridge, m.seq));
  }

  /** The upstream has the message (PUBACK / PUBCOMP): the row goes. */
  remove(m: QueuedMessage): void {
    this.deletes.push(m.seq);
    this.count--;
    this.bytes -= bridgeQueueCost(this.bridge, m.topic, m.payload);
    // A delete need not be durable soon (lost in a crash, the message is only sent again):
    // it rides along with a batch someone opens anyway, rather than costing a commit of its own.
    if (this.store.uncommitted) this.flushDeletes();
    else if (!this.deleteTimer) {
      this.deleteTimer = setTimeout(() => { this.deleteTimer = null; this.flushDeletes(); }, DELETE_DELAY_MS);
      this.deleteTimer.unref();
    }
  }

  /** Writes the pending deletes into the open batch (or a new one). Before stop, purge and reload. */
  flushDeletes(): void {
    if (this.deleteTimer) { clearTimeout(this.deleteTimer); this.deleteTimer = null; }
    if (this.deletes.length === 0) return;
    const seqs = this.deletes;
    this.deletes = [];
    this.store.transaction(() => { for (const seq of seqs) this.st.remove.run(this.bridge, seq); });
  }

  /** Deletes everything queued for this bridge (and its inbound QoS 2 ids); returns how many messages went. */
  purge(): number {
    this.flushDeletes();
    const n = this.store.transaction(() => {
      this.st.purgeIn.run(this.bridge);
      return this.st.purge.run(this.bridge).changes;
    });
    this.reload();
    return n;
  }

  // Inbound QoS 2 [MQTT-4.3.3-2]: packet ids received and PUBREC'd, not yet released.
  hasInboundQos2(id: number): boolean { return !!this.st.hasIn.get(this.bridge, id); }
  addInboundQos2(id: number): void { this.store.transaction(() => this.st.addIn.run(this.bridge, id)); }
  releaseInboundQos2(id: number): void { this.store.transaction(() => this.st.delIn.run(this.bridge, id)); }
}

/** Bridges with rows left in the database, and how many (to warn about ones no longer configured). */
export function queuedByBridge(db: Database.Database): Map<string, number> {
  const rows = db.prepare('SELECT bridge, COUNT(*) AS n FROM bridge_out GROUP BY bridge').all() as { bridge: string; n: number }[];
  return new Map(rows.map((r) => [r.bridge, r.n]));
}
