// In-memory Store for tests and throwaway hubs. It really keeps the data, so a
// Broker re-created on the same MemoryStore instance resumes its sessions.
import { queueCost, type OutboundMessage, type OutboundState, type RetainedMessage, type Store, type StoredSession, type StoredSubscription } from './types';

interface MemSession {
  subscriptions: Map<string, StoredSubscription>;
  outbound: Map<number, OutboundMessage>;
  inboundQos2: Set<number>;
}

const copyMsg = (m: OutboundMessage): OutboundMessage => ({ ...m, payload: Buffer.from(m.payload) });

export class MemoryStore implements Store {
  private sessions = new Map<string, MemSession>();
  private retained = new Map<string, RetainedMessage>();
  private kv = new Map<string, Map<string, string>>();

  loadSessions(): StoredSession[] {
    return [...this.sessions].map(([clientId, s]) => {
      const outbound = [...s.outbound.values()].sort((a, b) => a.seq - b.seq).map(copyMsg);
      const queued = outbound.filter((m) => m.state === 'queued');
      return {
        clientId,
        subscriptions: [...s.subscriptions.values()].map((x) => ({ ...x })),
        outbound,
        inboundQos2: [...s.inboundQos2],
        queued: {
          count: queued.length,
          bytes: queued.reduce((a, m) => a + queueCost(clientId, m.topic, m.payload), 0),
          payloadBytes: queued.reduce((a, m) => a + m.payload.length, 0),
          maxSeq: outbound.length ? outbound[outbound.length - 1].seq : 0,
        },
      };
    });
  }

  // Seqs are handed out in increasing order, so the map's insertion order is seq order.
  loadQueued(clientId: string, afterSeq: number, maxMessages: number, maxBytes: number): OutboundMessage[] {
    const out: OutboundMessage[] = [];
    let bytes = 0;
    for (const m of this.sessions.get(clientId)?.outbound.values() ?? []) {
      if (out.length >= maxMessages || (out.length > 0 && bytes >= maxBytes)) break;
      if (m.seq <= afterSeq || m.state !== 'queued') continue;
      out.push(copyMsg(m));
      bytes += m.payload.length;
    }
    return out;
  }

  createSession(clientId: string): void {
    if (!this.sessions.has(clientId)) this.sessions.set(clientId, { subscriptions: new Map(), outbound: new Map(), inboundQos2: new Set() });
  }

  deleteSession(clientId: string): void { this.sessions.delete(clientId); }

  private session(clientId: string): MemSession {
    const s = this.sessions.get(clientId);
    if (!s) throw new Error(`store: no session for client id ${JSON.stringify(clientId)}`);
    return s;
  }

  putSubscription(clientId: string, sub: StoredSubscription): void { this.session(clientId).subscriptions.set(sub.filter, { ...sub }); }
  deleteSubscription(clientId: string, filter: string): void { this.sessions.get(clientId)?.subscriptions.delete(filter); }

  putOutbound(clientId: string, msg: OutboundMessage): void { this.session(clientId).outbound.set(msg.seq, copyMsg(msg)); }
  updateOutbound(clientId: string, seq: number, state: OutboundState, packetId: number | undefined): void {
    const m = this.sessions.get(clientId)?.outbound.get(seq);
    if (m) { m.state = state; m.packetId = packetId; }
  }
  deleteOutbound(clientId: string, seq: number): void { this.sessions.get(clientId)?.outbound.delete(seq); }

  addInboundQos2(clientId: string, packetId: number): void { this.session(clientId).inboundQos2.add(packetId); }
  deleteInboundQos2(clientId: string, packetId: number): void { this.sessions.get(clientId)?.inboundQos2.delete(packetId); }

  loadRetained(): RetainedMessage[] { return [...this.retained.values()].map((r) => ({ ...r, payload: Buffer.from(r.payload) })); }
  putRetained(msg: RetainedMessage): void { this.retained.set(msg.topic, { ...msg, payload: Buffer.from(msg.payload) }); }
  deleteRetained(topic: string): void { this.retained.delete(topic); }

  kvGet(ns: string, key: string): unknown {
    const v = this.kv.get(ns)?.get(key);
    return v === undefined ? undefined : JSON.parse(v);
  }
  kvPut(ns: string, key: string, value: unknown): void {
    let m = this.kv.get(ns);
    if (!m) this.kv.set(ns, (m = new Map()));
    m.set(key, JSON.stringify(value));
  }
  kvDelete(ns: string, key: string): void { this.kv.get(ns)?.delete(key); }
  kvList(ns: string): { key: string; value: unknown }[] {
    return [...(this.kv.get(ns) ?? [])].map(([key, v]) => ({ key, value: JSON.parse(v) }));
  }

  // Writes are applied at once and nothing is durable: there is no batch to commit.
  transaction<T>(fn: () => T): T { return fn(); }
  commit(): void {}
  get uncommitted(): boolean { return false; }
  afterCommit(cb: (err?: Error) => void): void { cb(); }
  onCommitFailure(): void {}
  close(): void {}
}
