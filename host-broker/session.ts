// The state that belongs to a client id rather than to a socket: subscriptions,
// outbound QoS 1/2 messages (queued and in flight), and QoS 2 packet ids
// received but not yet released. A persistent session (clean session = 0)
// writes every change through to the store; a clean one lives in memory only.
// Every per-message step is O(1): in-flight messages are found by packet id,
// queued ones wait in a FIFO.
//
// The queue is bounded by what it costs on disk (bytes, queueCost()) and,
// loosely, by count. A persistent session keeps only the head of its queue in
// memory (QUEUE_IN_MEMORY): the rest lives only in the store and is read back in
// order as the head drains, so an offline client with a long queue costs disk,
// not RAM.
//
// In-flight messages sit in an array indexed by packet id, and acknowledged ids
// are reused (any id is free again once acknowledged [MQTT-2.3.1-3]), so the
// array stays as long as the window. Not a Map: a Map under steady set/delete
// rehashes into a new table every few operations, and V8 links each obsolete
// table to its successor; once one table is promoted to the old generation the
// chain keeps every later table (and the messages in it) alive through
// scavenges, so all of them are promoted and die in the old generation. At
// 10k msg/s that forced a mark-compact every ~0.4 s (2-8 ms pauses, p99 2-4 ms).
import { QUEUE_IN_MEMORY, queueCost, type OutboundMessage, type QoS, type Store, type StoredSession } from './store/types';

/** Queue slots consumed at its head before the array is compacted. */
const COMPACT_AFTER = 1024;


/** Per-client bounds of the queue (Limits.maxQueuedPerClient / maxQueuedBytesPerClient). */
export interface QueueBounds { messages: number; bytes: number }

export class Session {
  readonly subscriptions = new Map<string, QoS>();
  readonly inboundQos2 = new Set<number>();
  /** The connection that owns this session now, if any (set by the broker). */
  conn: import('./connection').Connection | null = null;
  /** An offline_queue_overflow event was raised and the queue has not drained since. */
  overflowReported = false;
  /** Payload bytes of the outbound messages held (queued and in flight). */
  outboundBytes = 0;
  private nextSeq = 1;
  /** Sent or released messages at their packet id (slot 0 unused). */
  private slots: (OutboundMessage | undefined)[] = [undefined];
  /** Ids below slots.length not in flight, reused last-freed first. */
  private freeIds: number[] = [];
  private inflightSize = 0;
  /** Messages waiting for the in-flight window, oldest first, from queue[queueHead]. */
  private queue: OutboundMessage[] = [];
  private queueHead = 0;
  /** Payload bytes of the queued messages held in memory (queue[queueHead..]). */
  private queueMemBytes = 0;
  /** Queued messages only in the store, all after the ones in memory. */
  private spilled = 0;
  /** Seq of the newest queued message read into memory: spilled ones come after it. */
  private lastInMemorySeq = 0;
  /** queueCost() of every queued message (memory and store). */
  private queueBytes = 0;

  constructor(readonly clientId: string, readonly persistent: boolean, private store: Store) {}

  /**
   * Restores the in-memory state from what the store had: `outbound` holds the
   * in-flight messages and the first queued ones (ordered by seq); `queued`
   * counts every queued message, those still in the store too.
   */
  restore({ subscriptions: subs, outbound, inboundQos2, queued }: Omit<StoredSession, 'clientId'>): void {
    for (const s of subs) this.subscriptions.set(s.filter, s.qos);
    let inMemory = 0;
    for (const m of outbound) {
      if (m.state !== 'queued') this.outboundBytes += m.payload.length; // queued ones: queued.payloadBytes
      if (m.packetId !== undefined && m.state !== 'queued' && !this.slots[m.packetId]) {
        while (this.slots.length <= m.packetId) this.slots.push(undefined);
        this.slots[m.packetId] = m;
        this.inflightSize++;
      } else {
        // A queued row (or an in-flight one whose packet id another holds: sent again as new).
        this.queue.push(m);
        this.queueMemBytes += m.payload.length;
        this.lastInMemorySeq = m.seq;
        if (m.state === 'queued') inMemory++;
        else this.queueBytes += queueCost(this.clientId, m.topic, m.payload); // not in queued.bytes
      }
      this.nextSeq = Math.max(this.nextSeq, m.seq + 1);
    }
    this.nextSeq = Math.max(this.nextSeq, queued.maxSeq + 1);
    this.queueBytes += queued.bytes;
    this.outboundBytes += queued.payloadBytes;
    this.spilled = Math.max(0, queued.count - inMemory);
    this.freeIds = [];
    for (let id = this.slots.length - 1; id >= 1; id--) if (!this.slots[id]) this.freeIds.push(id);
    for (const id of inboundQos2) this.inboundQos2.add(id);
  }

  /** In-flight messages first (in the order they were sent), then the queued ones held in memory: ordered by seq. */
  get outbound(): OutboundMessage[] {
    const sent = this.slots.filter((m): m is OutboundMessage => m !== undefined).sort((a, b) => a.seq - b.seq);
    return [...sent, ...this.queue.slice(this.queueHead)];
  }

  get inflightCount(): number { return this.inflightSize; }
  /** Queued messages, in memory and in the store. */
  get queuedCount(): number { return this.queue.length - this.queueHead + this.spilled; }
  /** queueCost() of the queued messages: what the queue holds on disk. */
  get queuedBytes(): number { return this.queueBytes; }
  /** Queued messages only in the store (not read into memory yet). */
  get queuedInStore(): number { return this.spilled; }

  /** True once the queue has drained to half its bounds (an overflow may be reported again). */
  belowHalf(bounds: QueueBounds): boolean {
    return this.queuedCount < bounds.messages / 2 && this.queueBytes < bounds.bytes / 2;
  }

  subscribe(filter: string, qos: QoS): void {
    this.subscriptions.set(filter, qos);
    if (this.persistent) this.store.putSubscription(this.clientId, { filter, qos });
  }

  unsubscribe(filter: string): boolean {
    if (!this.subscriptions.delete(filter)) return false;
    if (this.persistent) this.store.deleteSubscription(this.clientId, filter);
    return true;
  }

  /**
   * Appends a QoS 1/2 message unless that would take the queue past a bound;
   * false means it was dropped. A persistent session keeps it only in the store
   * when the in-memory head is full (or older messages already wait there).
   */
  enqueue(m: { topic: string; payload: Buffer; qos: 1 | 2 }, bounds: QueueBounds, retain = false): boolean {
    const cost = queueCost(this.clientId, m.topic, m.payload);
    if (this.queuedCount >= bounds.messages || this.queueBytes + cost > bounds.bytes) return false;
    const msg: OutboundMessage = { seq: this.nextSeq++, topic: m.topic, payload: m.payload, qos: m.qos, retain, state: 'queued', packetId: undefined };
    this.queueBytes += cost;
    this.outboundBytes += msg.payload.length;
    if (this.persistent) {
      this.store.putOutbound(this.clientId, msg);
      if (this.spilled > 0 || this.memoryFull()) { this.spilled++; return true; }
    }
    this.queue.push(msg);
    this.queueMemBytes += msg.payload.length;
    this.lastInMemorySeq = msg.seq;
    return true;
  }

  private memoryFull(): boolean {
    const n = this.queue.length - this.queueHead;
    return n >= QUEUE_IN_MEMORY.messages || (n > 0 && this.queueMemBytes >= QUEUE_IN_MEMORY.bytes);
  }

  /** Reads the next queued messages from the store once the in-memory head is down to half its bounds. */
  private refill(): void {
    const n = this.queue.length - this.queueHead;
    if (n >= QUEUE_IN_MEMORY.messages / 2 || this.queueMemBytes >= QUEUE_IN_MEMORY.bytes / 2) return;
    const rows = this.store.loadQueued(this.clientId, this.lastInMemorySeq, Math.min(this.spilled, QUEUE_IN_MEMORY.messages - n),
      QUEUE_IN_MEMORY.bytes - this.queueMemBytes);
    for (const m of rows) {
      this.queue.push(m);
      this.queueMemBytes += m.payload.length;
      this.lastInMemorySeq = m.seq;
    }
    // No row where we counted some would be a store out of step with us: trust the store.
    this.spilled = rows.length === 0 ? 0 : Math.max(0, this.spilled - rows.length);
  }

  /**
   * Moves queued messages into flight, up to the window; returns those now to send.
   * A message `deliverable` refuses is dropped from the queue (and the store) instead.
   */
  takeForSending(maxInflight: number, deliverable?: (m: OutboundMessage) => boolean): OutboundMessage[] {
    const out: OutboundMessage[] = [];
    for (;;) {
      if (this.spilled > 0) this.refill();
      if (this.inflightSize >= maxInflight || this.queueHead >= this.queue.length) break;
      const m = this.queue[this.queueHead];
      this.queue[this.queueHead++] = undefined as unknown as OutboundMessage; // let it go once acknowledged
      this.queueMemBytes -= m.payload.length;
      this.queueBytes -= queueCost(this.clientId, m.topic, m.payload);
      if (deliverable && !deliverable(m)) { // dropped, not sent: the policy refuses it now
        this.outboundBytes -= m.payload.length;
        if (this.persistent) this.store.deleteOutbound(this.clientId, m.seq);
        continue;
      }
      const id = this.allocId();
      m.packetId = id;
      m.state = 'sent';
      this.slots[id] = m;
      this.inflightSize++;
      if (this.persistent) this.store.updateOutbound(this.clientId, m.seq, 'sent', id);
      out.push(m);
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead >= COMPACT_AFTER && this.queueHead * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return out;
  }

  private allocId(): number {
    const free = this.freeIds.pop();
    if (free !== undefined) return free;
    if (this.slots.length > 65535) throw new Error(`session ${this.clientId}: all 65535 packet ids are in flight`);
    this.slots.push(undefined);
    return this.slots.length - 1;
  }

  /** The message in flight under this packet id, if any (read only: for checks such as handlers/ack-order.ts). */
  inflightMessage(packetId: number): Readonly<OutboundMessage> | undefined { return this.inflightAt(packetId); }

  private inflightAt(packetId: number): OutboundMessage | undefined {
    return packetId > 0 && packetId < this.slots.length ? this.slots[packetId] : undefined;
  }

  private remove(m: OutboundMessage): void {
    this.slots[m.packetId!] = undefined;
    this.freeIds.push(m.packetId!);
    this.inflightSize--;
    this.outboundBytes -= m.payload.length;
    if (this.persistent) this.store.deleteOutbound(this.clientId, m.seq);
  }

  /** PUBACK for a QoS 1 message; false if no such message was in flight. */
  acknowledge(packetId: number): boolean {
    const m = this.inflightAt(packetId);
    if (!m || m.state !== 'sent' || m.qos !== 1) return false;
    this.remove(m);
    return true;
  }

  /** PUBREC for a QoS 2 message: now waiting for PUBCOMP. True if a PUBREL is due (also for a repeated PUBREC). */
  received(packetId: number): boolean {
    const m = this.inflightAt(packetId);
    if (!m) return false;
    if (m.state === 'sent' && m.qos === 2) {
      m.state = 'released';
      if (this.persistent) this.store.updateOutbound(this.clientId, m.seq, 'released', packetId);
      return true;
    }
    return m.state === 'released';
  }

  /** PUBCOMP: the QoS 2 flow is over. */
  completed(packetId: number): boolean {
    const m = this.inflightAt(packetId);
    if (!m || m.state !== 'released') return false;
    this.remove(m);
    return true;
  }

  addInboundQos2(id: number): void {
    this.inboundQos2.add(id);
    if (this.persistent) this.store.addInboundQos2(this.clientId, id);
  }

  releaseInboundQos2(id: number): boolean {
    if (!this.inboundQos2.delete(id)) return false;
    if (this.persistent) this.store.deleteInboundQos2(this.clientId, id);
    return true;
  }
}
