// What the console shows that the broker does not keep: when each client was
// last seen, the last message per topic, recent hub events, and numeric series
// from JSON payloads (for the plots). Everything is bounded, and the per-message
// work is a few map updates, so a hub on a Raspberry Pi does not notice it.
// Live viewers get batches (live.ts) a few times a second, never one write per message.
import type { Broker } from '../broker';
import type { BrokerHooks, ClientInfo, HubEvent } from '../hooks';
import type { QoS } from '../store/types';

export interface SeenClient {
  clientId: string;
  deviceId?: string;
  username?: string;
  remoteAddress: string;
  listener: string;
  online: boolean;
  connectedAt?: number;
  /** Last packet from it (or its connect / disconnect). */
  lastSeen: number;
  disconnectReason?: string;
}

export interface TopicValue {
  topic: string;
  /** The first PAYLOAD_PREFIX bytes. */
  payload: Buffer;
  bytes: number;
  time: number;
  qos: QoS;
  retain: boolean;
  from: string | null;
}

export interface WatchedEvent extends HubEvent { seq: number; time: number }

export interface Sample { time: number; values: Record<string, number> }

export interface Series {
  topic: string;
  /** The client that published the last sample (the device, for telemetry topics). */
  from: string | null;
  time: number[];
  fields: Record<string, (number | null)[]>;
}

interface SeriesStore { topic: string; from: string | null; lastSample: number; samples: { time: number; values: Record<string, number> }[] }

export interface LiveMessage { seq: number; time: number; topic: string; qos: QoS; retain: boolean; from: string | null; bytes: number; payload: Buffer }

export interface LiveBatch {
  messages: LiveMessage[];
  /** Messages left out of this batch (more than maxBatch arrived). */
  skipped: number;
  events: WatchedEvent[];
  samples: { topic: string; from: string | null; time: number; values: Record<string, number> }[];
  /** Clients connected or disconnected since the last batch. */
  clientsChanged: boolean;
}

export interface WatchOptions {
  maxClients?: number;
  maxTopics?: number;
  maxEvents?: number;
  maxSeries?: number;
  seriesPoints?: number;
  maxFieldsPerSeries?: number;
  /** Live messages per batch per flush; default 200. */
  maxBatch?: number;
  /** At most one plot sample per topic per this many ms (a flood on one topic is not parsed message by message); default 100. */
  sampleEveryMs?: number;
  flushMs?: number;
}

export const PAYLOAD_PREFIX = 512;
const PARSE_MAX = 4096;

/** Numeric fields of a JSON object payload, one level of nesting flattened as a.b; null when it is not one. */
export function numericFields(payload: Buffer, maxFields = 16): Record<string, number> | null {
  if (payload.length < 2 || payload.length > PARSE_MAX || payload[0] !== 0x7b /* { */) return null;
  let v: unknown;
  try { v = JSON.parse(payload.toString('utf8')); } catch { return null; }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Record<string, number> = {};
  let n = 0;
  const take = (k: string, x: unknown) => {
    if (n < maxFields && typeof x === 'number' && Number.isFinite(x)) { out[k] = x; n++; }
  };
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x && typeof x === 'object' && !Array.isArray(x)) for (const [k2, y] of Object.entries(x as Record<string, unknown>)) take(`${k}.${k2}`, y);
    else take(k, x);
  }
  return n ? out : null;
}

type WatchedBroker = Pick<Broker, 'addHooks' | 'removeHooks' | 'on' | 'off' | 'store'>;

export class HubWatch {
  private readonly clients = new Map<string, SeenClient>();
  private readonly topics = new Map<string, TopicValue>();
  private readonly events: WatchedEvent[] = [];
  private readonly series = new Map<string, SeriesStore>();
  private readonly viewers = new Set<(b: LiveBatch) => void>();
  private pending: LiveBatch = emptyBatch();
  private flushTimer?: NodeJS.Timeout;
  private flushAt = 0;
  private eventSeq = 0;
  private msgSeq = 0;
  private readonly o: Required<WatchOptions>;
  private readonly hooks: BrokerHooks;
  private readonly onMessage: (topic: string, payload: Buffer, qos: QoS, retain: boolean, from: string | null) => void;
  private readonly onEvent: (ev: HubEvent) => void;

  constructor(private readonly broker: WatchedBroker, opts: WatchOptions = {}) {
    this.o = { maxClients: 5000, maxTopics: 5000, maxEvents: 1000, maxSeries: 500, seriesPoints: 600, maxFieldsPerSeries: 16, maxBatch: 200, flushMs: 250, sampleEveryMs: 100, ...opts };
    this.hooks = {
      packetIn: (client) => { const c = this.clients.get(client.clientId); if (c && c.online) c.lastSeen = Date.now(); return undefined; },
      clientConnected: (client) => this.connected(client),
      clientDisconnected: (client, reason) => this.disconnected(client, reason),
    };
    this.onMessage = (topic, payload, qos, retain, from) => this.message(topic, payload, qos, retain, from);
    this.onEvent = (ev) => this.event(ev);
    // Retained messages from before this start are the first values of their topics.
    for (const m of broker.store.loadRetained()) {
      this.topics.set(m.topic, { topic: m.topic, payload: Buffer.from(m.payload.subarray(0, PAYLOAD_PREFIX)), bytes: m.payload.length, time: Date.now(), qos: m.qos, retain: true, from: null });
    }
    broker.addHooks(this.hooks);
    broker.on('message', this.onMessage);
    broker.on('hubEvent', this.onEvent);
  }

  close(): void {
    this.broker.removeHooks(this.hooks);
    this.broker.off('message', this.onMessage);
    this.broker.off('hubEvent', this.onEvent);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.viewers.clear();
  }

  // ------------------------------------------------------------------ reading

  seenClients(): SeenClient[] { return [...this.clients.values()]; }
  seen(clientId: string): SeenClient | undefined { return this.clients.get(clientId); }
  topicValues(): TopicValue[] { return [...this.topics.values()]; }
  recentEvents(limit = this.o.maxEvents): WatchedEvent[] { return this.events.slice(-limit); }
  /** Each topic's samples as columns (time, and one array per field, null where a sample lacked it). */
  allSeries(): Series[] {
    return [...this.series.values()].map((st) => {
      const rows = st.samples.slice(-this.o.seriesPoints);
      const names: string[] = [];
      for (const r of rows) for (const k in r.values) if (!names.includes(k)) names.push(k);
      const fields: Record<string, (number | null)[]> = {};
      for (const k of names) fields[k] = rows.map((r) => (k in r.values ? r.values[k] : null));
      return { topic: st.topic, from: st.from, time: rows.map((r) => r.time), fields };
    });
  }

  /** Receive batches until the returned function is called. */
  subscribe(viewer: (b: LiveBatch) => void): () => void {
    this.viewers.add(viewer);
    return () => { this.viewers.delete(viewer); };
  }

  // ------------------------------------------------------------------ recording

  private connected(c: ClientInfo): void {
    const now = Date.now();
    this.clients.delete(c.clientId); // re-inserted: the map stays in last-connected order for pruning
    this.clients.set(c.clientId, { clientId: c.clientId, ...(c.deviceId ? { deviceId: c.deviceId } : {}), ...(c.username ? { username: c.username } : {}),
      remoteAddress: c.remoteAddress, listener: c.listener, online: true, connectedAt: now, lastSeen: now });
    if (this.clients.size > this.o.maxClients) {
      for (const [id, s] of this.clients) { if (!s.online) { this.clients.delete(id); break; } }
    }
    this.pending.clientsChanged = true;
    this.schedule(true);
  }

  private disconnected(c: ClientInfo, reason: string): void {
    const s = this.clients.get(c.clientId);
    if (!s) return;
    s.online = false;
    s.lastSeen = Date.now();
    s.disconnectReason = reason;
    this.pending.clientsChanged = true;
    this.schedule(true);
  }

  private message(topic: string, payload: Buffer, qos: QoS, retain: boolean, from: string | null): void {
    const time = Date.now();
    const seq = ++this.msgSeq;
    // A copy: the payload may be a view of a whole socket read, which a kept view would hold in memory.
    const prefix = Buffer.from(payload.subarray(0, PAYLOAD_PREFIX));
    const known = this.topics.get(topic);
    if (retain && payload.length === 0) this.topics.delete(topic); // clears the retained message: the topic is gone from the tree
    else if (known) {
      // Updated in place: no allocation per message (the oldest first-seen topics go first when full).
      known.payload = prefix; known.bytes = payload.length; known.time = time; known.qos = qos; known.retain = retain; known.from = from;
    } else {
      if (this.topics.size >= this.o.maxTopics) this.topics.delete(this.topics.keys().next().value as string);
      this.topics.set(topic, { topic, payload: prefix, bytes: payload.length, time, qos, retain, from });
    }
    let values: Record<string, number> | null = null;
    const st = this.series.get(topic);
    // JSON is parsed only for a payload that may hold numbers, and at most every sampleEveryMs per topic.
    if (payload.length > 1 && payload[0] === 0x7b && (!st || time - st.lastSample >= this.o.sampleEveryMs)) {
      values = numericFields(payload, this.o.maxFieldsPerSeries);
      if (values) this.sample(st, topic, from, time, values);
    }
    if (this.viewers.size === 0) return;
    const b = this.pending;
    if (b.messages.length < this.o.maxBatch) b.messages.push({ seq, time, topic, qos, retain, from, bytes: payload.length, payload: prefix });
    else b.skipped++;
    if (values) b.samples.push({ topic, from, time, values });
    this.schedule(false);
  }

  private sample(st: SeriesStore | undefined, topic: string, from: string | null, time: number, values: Record<string, number>): void {
    if (!st) {
      if (this.series.size >= this.o.maxSeries) this.series.delete(this.series.keys().next().value as string);
      st = { topic, from, lastSample: 0, samples: [] };
      this.series.set(topic, st);
    }
    st.from = from;
    st.lastSample = time;
    st.samples.push({ time, values });
    // Trimmed in halves, not shifted per sample: O(1) per message on average.
    if (st.samples.length >= 2 * this.o.seriesPoints) st.samples.splice(0, st.samples.length - this.o.seriesPoints);
  }

  private event(ev: HubEvent): void {
    const e: WatchedEvent = { seq: ++this.eventSeq, time: Date.now(), ...ev };
    this.events.push(e);
    if (this.events.length > this.o.maxEvents) this.events.shift();
    if (this.viewers.size === 0) return;
    this.pending.events.push(e);
    this.schedule(false);
  }

  /** Batches go out every flushMs; a client connecting or leaving goes out within 50 ms. */
  private schedule(soon: boolean): void {
    if (this.viewers.size === 0) { this.pending = emptyBatch(); return; }
    const at = Date.now() + (soon ? 50 : this.o.flushMs);
    if (this.flushTimer && this.flushAt <= at) return; // an earlier flush is due anyway
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushAt = at;
    this.flushTimer = setTimeout(() => this.flush(), at - Date.now());
    this.flushTimer.unref();
  }

  private flush(): void {
    this.flushTimer = undefined;
    const b = this.pending;
    this.pending = emptyBatch();
    for (const v of [...this.viewers]) {
      try { v(b); } catch { this.viewers.delete(v); }
    }
  }
}

function emptyBatch(): LiveBatch {
  return { messages: [], skipped: 0, events: [], samples: [], clientsChanged: false };
}
