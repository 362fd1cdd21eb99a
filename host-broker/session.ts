// The state that belongs to a client id rather than to a socket: subscriptions,
// outbound QoS 1/2 messages (queued and in flight), and QoS 2 packet ids
// received but not yet released. A persistent session (clean session = 0)
// writes every change through to the store; a clean one lives in memory only.
import type { OutboundMessage, QoS, Store } from './store/types';

export class Session {
  readonly subscriptions = new Map<string, QoS>();
  /** Ordered by seq: in-flight messages first, then queued ones. */
  readonly outbound: OutboundMessage[] = [];
  readonly inboundQos2 = new Set<number>();
  /** The connection that owns this session now, if any (set by the broker). */
  conn: import('./connection').Connection | null = null;
  /** An offline_queue_overflow event was raised and the queue has not drained since. */
  overflowReported = false;
  private nextSeq = 1;
  private nextPacketId = 1;
  private usedIds = new Set<number>();

  constructor(readonly clientId: string, readonly persistent: boolean, private store: Store) {}

  /** Runs a store write only for persistent sessions. */
  private db(fn: (s: Store) => void): void { if (this.persistent) fn(this.store); }

  /** Restores the in-memory state from what the store had. */
  restore(subs: { filter: string; qos: QoS }[], outbound: OutboundMessage[], inboundQos2: number[]): void {
    for (const s of subs) this.subscriptions.set(s.filter, s.qos);
    for (const m of outbound) {
      this.outbound.push(m);
      if (m.packetId !== undefined) this.usedIds.add(m.packetId);
      this.nextSeq = Math.max(this.nextSeq, m.seq + 1);
    }
    for (const id of inboundQos2) this.inboundQos2.add(id);
  }

  get inflightCount(): number { return this.usedIds.size; }
  get queuedCount(): number { return this.outbound.length - this.usedIds.size; }

  subscribe(filter: string, qos: QoS): void {
    this.subscriptions.set(filter, qos);
    this.db((s) => s.putSubscription(this.clientId, { filter, qos }));
  }

  unsubscribe(filter: string): boolean {
    if (!this.subscriptions.delete(filter)) return false;
    this.db((s) => s.deleteSubscription(this.clientId, filter));
    return true;
  }

  /** Appends a QoS 1/2 message unless the queue is full; false means it was dropped. */
  enqueue(m: { topic: string; payload: Buffer; qos: 1 | 2 }, maxQueued: number): boolean {
    if (this.queuedCount >= maxQueued) return false;
    const msg: OutboundMessage = { seq: this.nextSeq++, topic: m.topic, payload: m.payload, qos: m.qos, retain: false, state: 'queued' };
    this.outbound.push(msg);
    this.db((s) => s.putOutbound(this.clientId, msg));
    return true;
  }

  /** Moves queued messages into flight, up to the window; returns those now to send. */
  takeForSending(maxInflight: number): OutboundMessage[] {
    const out: OutboundMessage[] = [];
    for (const m of this.outbound) {
      if (this.usedIds.size >= maxInflight) break;
      if (m.state !== 'queued') continue;
      m.packetId = this.allocId();
      m.state = 'sent';
      this.db((s) => s.updateOutbound(this.clientId, m.seq, 'sent', m.packetId));
      out.push(m);
    }
    return out;
  }

  private allocId(): number {
    for (;;) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.usedIds.has(id)) { this.usedIds.add(id); return id; }
    }
  }

  private find(packetId: number, state: OutboundMessage['state'], qos?: 1 | 2): OutboundMessage | undefined {
    return this.outbound.find((m) => m.packetId === packetId && m.state === state && (qos === undefined || m.qos === qos));
  }

  private remove(m: OutboundMessage): void {
    this.outbound.splice(this.outbound.indexOf(m), 1);
    if (m.packetId !== undefined) this.usedIds.delete(m.packetId);
    this.db((s) => s.deleteOutbound(this.clientId, m.seq));
  }

  /** PUBACK for a QoS 1 message; false if no such message was in flight. */
  acknowledge(packetId: number): boolean {
    const m = this.find(packetId, 'sent', 1);
    if (!m) return false;
    this.remove(m);
    return true;
  }

  /** PUBREC for a QoS 2 message: now waiting for PUBCOMP. True if a PUBREL is due (also for a repeated PUBREC). */
  received(packetId: number): boolean {
    const m = this.find(packetId, 'sent', 2);
    if (m) {
      m.state = 'released';
      this.db((s) => s.updateOutbound(this.clientId, m.seq, 'released', packetId));
      return true;
    }
    return !!this.find(packetId, 'released');
  }

  /** PUBCOMP: the QoS 2 flow is over. */
  completed(packetId: number): boolean {
    const m = this.find(packetId, 'released');
    if (!m) return false;
    this.remove(m);
    return true;
  }

  addInboundQos2(id: number): void {
    this.inboundQos2.add(id);
    this.db((s) => s.addInboundQos2(this.clientId, id));
  }

  releaseInboundQos2(id: number): boolean {
    if (!this.inboundQos2.delete(id)) return false;
    this.db((s) => s.deleteInboundQos2(this.clientId, id));
    return true;
  }
}
