// The persistence seam. The broker core keeps its working state in memory and
// writes every change through this interface; a Store only has to remember.
//
// Group commit: writes are synchronous calls, but they are not durable one by
// one. They join the store's current batch (one transaction), and commit()
// makes the whole batch durable at once (one fsync for everything one turn of
// the event loop wrote). The broker commits before any byte leaves it
// (Connection.flush), so a PUBACK, PUBREC, SUBACK or PUBLISH is never sent
// while what it stands for is not on disk: "acknowledged" means "durable".
// See README.md here for how other writers (route queues, bridges) join a batch.

export type QoS = 0 | 1 | 2;

/** Where an outbound QoS 1/2 message is in its flow to one subscriber. */
export type OutboundState =
  | 'queued' // not sent yet (offline, or the in-flight window is full)
  | 'sent' // PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2)
  | 'released'; // QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP

export interface OutboundMessage {
  /** Order of arrival in this session's queue; unique per client. */
  seq: number;
  topic: string;
  payload: Buffer;
  qos: 1 | 2;
  retain: boolean;
  state: OutboundState;
  /** Set once the message has been given a packet id (state sent/released). */
  packetId?: number;
}

export interface StoredSubscription {
  filter: string;
  qos: QoS;
}

/** A persistent (clean session = 0) session as it was stored. */
export interface StoredSession {
  clientId: string;
  subscriptions: StoredSubscription[];
  /**
   * The in-flight messages and the first queued ones, ordered by seq. A store
   * may leave the rest of a long queue on disk (loadQueued() reads it on).
   */
  outbound: OutboundMessage[];
  /** QoS 2 packet ids received and PUBREC'd, whose PUBREL has not arrived yet. */
  inboundQos2: number[];
  /**
   * Every queued (state 'queued') message of the session, those in `outbound`
   * too: how many, their queueCost() total, their payload bytes, and the
   * highest seq of any outbound message.
   */
  queued: { count: number; bytes: number; payloadBytes: number; maxSeq: number };
}

/**
 * How much of a persistent session's queue is held in memory (by count and by
 * payload bytes); the rest stays in the store until the head drains. Restores
 * read the same head.
 */
export const QUEUE_IN_MEMORY = { messages: 256, bytes: 256 * 1024 };

/** Bytes SQLite spends on an outbound row beyond its topic, payload and client id (measured: 62). */
export const QUEUE_ROW_OVERHEAD = 64;

/**
 * What one queued message costs on disk, in bytes: topic and payload, the row
 * overhead, and the client id twice (in the row and in its (client id, seq) key).
 * The per-client queue bound (Limits.maxQueuedBytesPerClient) counts this.
 */
export function queueCost(clientId: string, topic: string, payload: Buffer): number {
  return Buffer.byteLength(topic) + payload.length + QUEUE_ROW_OVERHEAD + 2 * Buffer.byteLength(clientId);
}

export interface RetainedMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
}

export interface Store {
  loadSessions(): StoredSession[];
  createSession(clientId: string): void;
  /** Removes the session with its subscriptions, outbound messages and QoS 2 ids. */
  deleteSession(clientId: string): void;

  putSubscription(clientId: string, sub: StoredSubscription): void;
  deleteSubscription(clientId: string, filter: string): void;

  putOutbound(clientId: string, msg: OutboundMessage): void;
  /**
   * Queued messages of a session with seq > afterSeq, in seq order: at most
   * maxMessages, and no more once their payloads reach maxBytes (at least one).
   */
  loadQueued(clientId: string, afterSeq: number, maxMessages: number, maxBytes: number): OutboundMessage[];
  /** Changes state/packet id of a stored outbound message. */
  updateOutbound(clientId: string, seq: number, state: OutboundState, packetId: number | undefined): void;
  deleteOutbound(clientId: string, seq: number): void;

  addInboundQos2(clientId: string, packetId: number): void;
  deleteInboundQos2(clientId: string, packetId: number): void;

  loadRetained(): RetainedMessage[];
  putRetained(msg: RetainedMessage): void;
  deleteRetained(topic: string): void;

  /** A small key/value space for other parts of the hub (device registry, routes). Values are JSON-able. */
  kvGet(ns: string, key: string): unknown;
  kvPut(ns: string, key: string, value: unknown): void;
  kvDelete(ns: string, key: string): void;
  kvList(ns: string): { key: string; value: unknown }[];

  /**
   * Runs fn inside the current batch: its writes (and those of any other writer
   * in this turn) become durable together with the next commit(), or not at all.
   * Nested calls join the outer one. Writers with tables of their own
   * (SqliteStore.db) run their statements inside this.
   */
  transaction<T>(fn: () => T): T;
  /**
   * Makes every write so far durable: one transaction, one fsync. Cheap when
   * nothing waits. Throws if the commit failed; the batch is then rolled back
   * (and the failure handlers run). A batch also commits by itself at the end
   * of the event-loop turn that opened it.
   */
  commit(): void;
  /** True while writes wait for commit(). */
  readonly uncommitted: boolean;
  /**
   * Runs cb once every write made so far is durable: at once if none waits,
   * else after the next commit (with the error if that commit failed).
   */
  afterCommit(cb: (err?: Error) => void): void;
  /**
   * Called when a commit the store ran by itself (end of turn) failed: what was
   * written since the last commit is not on disk, and must not be acknowledged.
   */
  onCommitFailure(handler: (err: Error) => void): void;
  /** Commits what waits, then closes. */
  close(): void;
}
