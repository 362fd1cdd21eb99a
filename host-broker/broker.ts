// The broker core: sessions, routing, retained messages, hub events, and the
// hooks that policies plug into. Sockets and framing live in connection.ts,
// one handler per packet type in handlers/, listeners in server.ts.
import { EventEmitter } from 'events';
import type { Duplex } from 'stream';
import type { Packet } from 'mqtt-packet';
import { checkTopic } from '../firmware/topic';
import type { AuthResult, BrokerHooks, ClientInfo, ConnectRequest, HubEvent, PacketVerdict } from './hooks';
import { Connection, type Will } from './connection';
import { DEFAULT_EVENTS, eventPayload, eventTopic, type EventsOptions } from './events';
import { Listeners, type ListenerName, type ListenOptions } from './server';
import { RetainedMessages } from './retained';
import { Session, type QueueBounds } from './session';
import { MemoryStore } from './store/memory';
import type { OutboundMessage, QoS, Store } from './store/types';
import { BrokerStats } from './stats';
import { SubscriptionTree } from './topics';

export interface Limits {
  /** Largest whole packet (fixed header included) a client may send, in bytes. */
  maxPacketSize: number;
  /** Open sockets, including those that have not sent CONNECT yet. */
  maxConnections: number;
  /** Outbound QoS 1/2 messages awaiting acknowledgement, per client. */
  maxInflightPerClient: number;
  /**
   * Outbound QoS 1/2 messages waiting behind the in-flight window (or for an
   * offline client), by count. A loose bound: the one that matters is bytes.
   */
  maxQueuedPerClient: number;
  /**
   * The same queue by what it costs on disk: topic + payload + 64 + 2 x client id
   * bytes per message (store/types.ts queueCost()). Past it, new QoS 1/2
   * messages for that client are dropped with an offline_queue_overflow event.
   */
  maxQueuedBytesPerClient: number;
  /** Keepalive bounds in seconds; a client's value is clamped into them (0 counts as "none"). */
  keepaliveMin: number;
  keepaliveMax: number;
  /** Time from socket open to CONNECT. */
  connectTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxPacketSize: 1024 * 1024,
  maxConnections: 1000,
  maxInflightPerClient: 32,
  // An hour offline at 1 reading/s is ~3,600 messages (~600 KB): far below both.
  maxQueuedPerClient: 1_000_000,
  maxQueuedBytesPerClient: 64 * 1024 * 1024,
  keepaliveMin: 0,
  keepaliveMax: 65535,
  connectTimeoutMs: 10_000,
};

/** The subset of pino the broker uses. */
export interface Logger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface BrokerOptions {
  /** Default: a fresh MemoryStore. The broker closes it in close(). */
  store?: Store;
  /** Called in order; the first refusal wins. */
  hooks?: BrokerHooks[];
  limits?: Partial<Limits>;
  events?: Partial<EventsOptions>;
  logger?: Logger;
}

export interface PublishOptions { topic: string; payload: Buffer | string; qos?: QoS; retain?: boolean }

/** What the broker holds right now, for metrics. */
export interface BrokerGauges {
  /** Open sockets, including those that have not sent CONNECT yet. */
  sockets: number;
  /** Connected clients by listener. */
  connected: Record<ListenerName, number>;
  /** Sessions: connected ones and persistent ones whose client is away. */
  sessions: number;
  offlineSessions: number;
  subscriptions: number;
  /** Outbound QoS 1/2 messages waiting for the window, and sent but not yet acknowledged. */
  queued: number;
  inflight: number;
  /** The longest queue of one client. */
  queuedMax: number;
  /** Payload bytes of the queued and in-flight messages. */
  outboundBytes: number;
  retained: number;
}

export interface SessionInfo {
  clientId: string;
  connected: boolean;
  persistent: boolean;
  subscriptions: { filter: string; qos: QoS }[];
  inflight: number;
  queued: number;
  /** What the queue costs on disk (store/types.ts queueCost()), the figure maxQueuedBytesPerClient bounds. */
  queuedBytes: number;
}

export class Broker extends EventEmitter {
  readonly store: Store;
  readonly limits: Limits;
  readonly events: EventsOptions;
  readonly log: Logger;
  /** Traffic counters since start (metrics read them). */
  readonly stats = new BrokerStats();
  private hooks: BrokerHooks[];
  /** The hooks with authorizeDelivery, asked per message: kept apart so the common case (none) costs nothing. */
  private deliveryHooks: BrokerHooks[] = [];
  private listeners_: Listeners;
  private conns = new Set<Connection>();
  private sessions_ = new Map<string, Session>();
  private tree = new SubscriptionTree();
  private retained: RetainedMessages;
  private nextConnId = 1;
  private readonly queueBounds: QueueBounds;
  private closed = false;

  constructor(opts: BrokerOptions = {}) {
    super();
    this.store = opts.store ?? new MemoryStore();
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.queueBounds = { messages: this.limits.maxQueuedPerClient, bytes: this.limits.maxQueuedBytesPerClient };
    this.events = { ...DEFAULT_EVENTS, ...opts.events };
    this.log = opts.logger ?? silentLogger;
    this.hooks = [...(opts.hooks ?? [])];
    this.hooksChanged();
    this.retained = new RetainedMessages(this.store);
    this.listeners_ = new Listeners((stream, info) => this.accept(stream, info));
    this.store.onCommitFailure((err) => this.storeFailed(err));
    for (const s of this.store.loadSessions()) {
      const session = new Session(s.clientId, true, this.store);
      session.restore(s);
      for (const sub of s.subscriptions) this.tree.add(sub.filter, s.clientId, sub.qos);
      this.sessions_.set(s.clientId, session);
    }
  }

  // ---------------------------------------------------------------- public API

  /** Starts the configured listeners; resolves with the ports they got (port 0 = any free port). */
  listen(opts: ListenOptions): Promise<{ tcp?: number; tls?: number; ws?: number }> {
    if (this.closed) return Promise.reject(new Error('broker is closed'));
    return this.listeners_.listen(opts);
  }

  /** The ports of the running listeners. */
  addresses(): { tcp?: number; tls?: number; ws?: number } { return this.listeners_.addresses(); }

  /** Stops one listener and drops the clients it accepted (their Wills fire: the link is lost). */
  async stopListener(name: ListenerName): Promise<void> {
    const stopping = this.listeners_.stop(name);
    for (const c of [...this.conns]) if (c.info.listener === name) c.close(`listener ${name} stopped`, { will: true, abrupt: true });
    await stopping;
  }

  /** Starts a stopped listener again, on the port it had. */
  async startListener(name: ListenerName): Promise<number> { return this.listeners_.start(name); }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stopping = this.listeners_.stopAll();
    // The hub is going away: close sockets without Wills (they would only fill queues of a stopped hub).
    for (const c of [...this.conns]) c.close('broker closing', { will: false });
    await stopping;
    try {
      this.store.close(); // commits what waits
    } catch (err) {
      this.log.error({ err }, 'closing the store failed');
    }
  }

  addHooks(h: BrokerHooks): void { this.hooks.push(h); this.hooksChanged(); }
  removeHooks(h: BrokerHooks): void {
    const i = this.hooks.indexOf(h);
    if (i >= 0) this.hooks.splice(i, 1);
    this.hooksChanged();
  }

  private hooksChanged(): void { this.deliveryHooks = this.hooks.filter((h) => h.authorizeDelivery); }

  /** Publishes as the hub itself (hub events, control API). Resolves once QoS 1/2 deliveries are stored (committed). */
  async publish(m: PublishOptions): Promise<void> {
    const why = checkTopic(m.topic);
    if (why) throw new Error(`broker.publish: ${why}`);
    const qos = m.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error(`broker.publish: qos must be 0, 1 or 2, got ${String(qos)}`);
    const payload = Buffer.from(m.payload);
    this.publishFrom(null, { topic: m.topic, payload, qos, retain: !!m.retain });
    await new Promise<void>((resolve, reject) => this.store.afterCommit((err) => (err ? reject(err) : resolve())));
  }

  /** Publishes a hub event (unless events are off) and emits it as 'hubEvent'. */
  hubEvent(ev: HubEvent): void {
    const level = ev.severity === 'error' ? 'error' : ev.severity === 'warning' ? 'warn' : 'info';
    this.log[level]({ hubEvent: ev }, ev.message);
    this.emit('hubEvent', ev);
    if (!this.events.enabled || this.closed) return;
    try {
      this.publishFrom(null, { topic: eventTopic(this.events.prefix, ev), payload: eventPayload(ev), qos: 0, retain: false });
    } catch (err) {
      this.log.error({ err }, 'publishing a hub event failed');
    }
  }

  /** Connected clients (CONNECT accepted). */
  clients(): ClientInfo[] {
    return [...this.conns].filter((c) => c.state === 'connected').map((c) => ({ ...c.info }));
  }

  sessions(): SessionInfo[] {
    return [...this.sessions_.values()].map((s) => ({
      clientId: s.clientId,
      connected: !!s.conn,
      persistent: s.persistent,
      subscriptions: [...s.subscriptions].map(([filter, qos]) => ({ filter, qos })),
      inflight: s.inflightCount,
      queued: s.queuedCount,
      queuedBytes: s.queuedBytes,
    }));
  }

  gauges(): BrokerGauges {
    const g: BrokerGauges = { sockets: this.conns.size, connected: { tcp: 0, tls: 0, ws: 0 }, sessions: 0, offlineSessions: 0,
      subscriptions: 0, queued: 0, inflight: 0, queuedMax: 0, outboundBytes: 0, retained: this.retained.size };
    for (const c of this.conns) if (c.state === 'connected') g.connected[c.info.listener]++;
    for (const s of this.sessions_.values()) {
      g.sessions++;
      if (!s.conn) g.offlineSessions++;
      g.subscriptions += s.subscriptions.size;
      g.queued += s.queuedCount;
      g.inflight += s.inflightCount;
      if (s.queuedCount > g.queuedMax) g.queuedMax = s.queuedCount;
      g.outboundBytes += s.outboundBytes;
    }
    return g;
  }

  /**
   * Disconnects a client. abrupt: destroy the socket as a lost link would (the Will fires);
   * otherwise close it cleanly and discard the Will. Returns false if no such client is connected.
   */
  disconnect(clientId: string, opts: { abrupt: boolean } = { abrupt: false }): boolean {
    const s = this.sessions_.get(clientId);
    const c = s?.conn ?? [...this.conns].find((x) => x.info.clientId === clientId && x.state !== 'closed');
    if (!c) return false;
    if (opts.abrupt) c.close('disconnected by the hub (abrupt)', { will: true, abrupt: true });
    else c.close('disconnected by the hub', { will: false, graceful: true });
    return true;
  }

  // ------------------------------------------------- used by connection.ts and handlers/

  /** @internal Commits the store's batch (Connection.flush, before any byte leaves); false if the commit failed. */
  commitStore(): boolean {
    try {
      this.store.commit();
      return true;
    } catch (err) {
      this.storeFailed(err as Error);
      return false;
    }
  }

  /**
   * A commit failed (disk full, I/O error): the writes of this round are not on
   * disk, so what would acknowledge them must not be sent. Every client is
   * dropped with its unsent output; clients resend what was not acknowledged.
   */
  private storeFailed(err: Error): void {
    this.log.error({ err }, 'store commit failed');
    for (const c of this.conns) c.discardOutput();
    for (const c of [...this.conns]) c.close(`the hub could not store its state: ${err.message}`, { will: false, abrupt: true });
    this.hubEvent({ kind: 'store_failure', severity: 'error', objectType: 'hub', objectId: 'store',
      message: `committing to the store failed (${err.message}): every client was disconnected and nothing of what they sent since the last commit was acknowledged` });
  }

  /** @internal */
  accept(stream: Duplex, info: { remoteAddress: string; listener: ListenerName; tls?: ClientInfo['tls'] }): void {
    if (this.closed) { stream.destroy(); return; }
    for (const h of this.hooks) {
      if (h.acceptSocket && !this.safe(() => h.acceptSocket!({ remoteAddress: info.remoteAddress, listener: info.listener }), true)) {
        stream.destroy();
        return;
      }
    }
    if (this.conns.size >= this.limits.maxConnections) {
      // Make room by closing the oldest socket that has not sent CONNECT yet: otherwise a
      // flood of idle sockets locks every real client out until its CONNECT timeouts expire.
      let idle: Connection | undefined;
      for (const c of this.conns) if (c.state === 'new') { idle = c; break; } // a Set iterates oldest first
      if (idle) {
        this.hubEvent({ kind: 'limit_exceeded', severity: 'warning', objectType: 'hub', objectId: 'connections',
          message: `${this.limits.maxConnections} connections are open: closed the oldest socket still waiting for CONNECT (from ${idle.info.remoteAddress}) to accept one from ${info.remoteAddress}` });
        idle.close('evicted: the connection limit was reached before it sent CONNECT', { will: false });
      }
    }
    if (this.conns.size >= this.limits.maxConnections) {
      this.hubEvent({ kind: 'limit_exceeded', severity: 'warning', objectType: 'hub', objectId: 'connections', message: `refused a connection from ${info.remoteAddress}: ${this.limits.maxConnections} connections are open` });
      stream.destroy();
      return;
    }
    this.stats.socketsAccepted++;
    stream.on('error', () => undefined); // errors are handled by the connection; this covers the gap until it exists
    const conn = new Connection(this, stream, { connId: this.nextConnId++, remoteAddress: info.remoteAddress, listener: info.listener, ...(info.tls ? { tls: info.tls } : {}) });
    this.conns.add(conn);
  }

  /** Runs a hook; a throwing hook is logged and treated as `fallback`. */
  private safe<T>(fn: () => T, fallback: T): T {
    try { return fn(); } catch (err) { this.log.error({ err }, 'a broker hook threw'); return fallback; }
  }

  /** @internal The first packet verdict that is not undefined wins. */
  packetVerdict(kind: 'packetIn' | 'packetOut', client: ClientInfo, packet: Packet): PacketVerdict {
    for (const h of this.hooks) {
      const fn = h[kind];
      if (!fn) continue;
      const v = this.safe(() => fn.call(h, client, packet), undefined);
      if (v) return v;
    }
    return undefined;
  }

  /** @internal */
  async authenticate(req: ConnectRequest): Promise<AuthResult> {
    let deviceId: string | undefined;
    for (const h of this.hooks) {
      if (!h.authenticate) continue;
      let r: AuthResult;
      try {
        r = await h.authenticate(req);
      } catch (err) {
        this.log.error({ err }, 'authenticate hook threw');
        return { ok: false, returnCode: 4, reason: 'authentication failed: internal error in an authentication hook', event: 'authentication_failure' };
      }
      if (!r.ok) return r;
      if (r.deviceId !== undefined && deviceId === undefined) deviceId = r.deviceId;
    }
    return deviceId !== undefined ? { ok: true, deviceId } : { ok: true };
  }

  /** @internal */
  authorizePublish(client: ClientInfo, topic: string, isWill: boolean): boolean {
    for (const h of this.hooks) if (h.authorizePublish && !this.safe(() => h.authorizePublish!(client, topic, isWill), false)) return false;
    return true;
  }

  /** @internal */
  authorizeSubscribe(client: ClientInfo, filter: string): boolean {
    for (const h of this.hooks) if (h.authorizeSubscribe && !this.safe(() => h.authorizeSubscribe!(client, filter), false)) return false;
    return true;
  }

  /** @internal May this message go to this client now? (authorizeDelivery hooks; a throwing hook says no.) */
  mayDeliver(client: ClientInfo, topic: string): boolean {
    const hooks = this.deliveryHooks;
    for (let i = 0; i < hooks.length; i++) {
      try {
        if (!hooks[i].authorizeDelivery!(client, topic)) return false;
      } catch (err) {
        this.log.error({ err }, 'a broker hook threw');
        return false;
      }
    }
    return true;
  }

  /**
   * @internal Gives the connection its session: takes over a connected one with
   * the same client id, discards it for clean session, or resumes it.
   */
  attachSession(conn: Connection, clean: boolean): { sessionPresent: boolean } {
    const clientId = conn.info.clientId;
    let session = this.sessions_.get(clientId);
    if (session?.conn && session.conn !== conn) {
      // [MQTT-3.1.4-2]: the existing client is disconnected; it did not send DISCONNECT, so its Will fires.
      session.conn.close('session taken over by a new connection with the same client id', { will: true });
      session = this.sessions_.get(clientId); // a clean session was removed by that close
    }
    let sessionPresent = false;
    if (clean) {
      if (session) this.dropSession(session);
      session = new Session(clientId, false, this.store);
      this.sessions_.set(clientId, session);
    } else if (session && session.persistent) {
      sessionPresent = true;
    } else {
      if (session) this.dropSession(session);
      session = new Session(clientId, true, this.store);
      this.store.createSession(clientId);
      this.sessions_.set(clientId, session);
    }
    session.conn = conn;
    conn.session = session;
    return { sessionPresent };
  }

  private dropSession(s: Session): void {
    for (const f of s.subscriptions.keys()) this.tree.remove(f, s.clientId);
    this.sessions_.delete(s.clientId);
    if (s.persistent) this.store.deleteSession(s.clientId);
  }

  /** @internal */
  clientConnected(conn: Connection, sessionPresent: boolean): void {
    const info = { ...conn.info };
    this.stats.connectsAccepted++;
    this.log.info({ clientId: info.clientId, listener: info.listener, sessionPresent }, 'client connected');
    for (const h of this.hooks) if (h.clientConnected) this.safe(() => h.clientConnected!(info, sessionPresent), undefined);
    this.emit('clientConnected', info, sessionPresent);
  }

  /** @internal After CONNACK: re-send what was in flight (DUP, same ids) [MQTT-4.4.0-1], then the queue. */
  resumeDelivery(conn: Connection): void {
    const s = conn.session!;
    for (const m of s.outbound) {
      if (m.state === 'sent') conn.send(this.publishPacket(m, true));
      else if (m.state === 'released') conn.send({ cmd: 'pubrel', messageId: m.packetId! });
    }
    this.pump(s);
  }

  private publishPacket(m: OutboundMessage, dup: boolean): Packet {
    return { cmd: 'publish', topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, dup, messageId: m.packetId };
  }

  /** @internal Sends queued messages as the in-flight window allows. */
  pump(s: Session): void {
    const conn = s.conn;
    if (!conn || conn.state !== 'connected') return;
    if (s.queuedCount === 0 || s.inflightCount >= this.limits.maxInflightPerClient) return;
    // Queued messages are checked as they leave: the policy may have changed since, or the
    // message was queued for an offline session whose client the hub did not know yet.
    const deliverable = this.deliveryHooks.length > 0 ? (m: OutboundMessage) => this.mayDeliver(conn.info, m.topic) : undefined;
    const max = this.limits.maxInflightPerClient;
    // A clean session writes nothing to the store: no transaction to open.
    const toSend = s.persistent ? this.store.transaction(() => s.takeForSending(max, deliverable)) : s.takeForSending(max, deliverable);
    if (s.overflowReported && s.belowHalf(this.queueBounds)) s.overflowReported = false;
    for (const m of toSend) conn.send(this.publishPacket(m, false));
  }

  /**
   * @internal Routes a message (null: only run `inTransaction`, e.g. a refused
   * publish whose QoS 2 id must still be recorded). All store writes happen in one
   * transaction; sending, hooks and events follow after it commits.
   */
  publishFrom(from: ClientInfo | null, msg: { topic: string; payload: Buffer; qos: QoS; retain: boolean } | null, inTransaction?: () => void): void {
    const immediate: Connection[] = [];
    const touched: Session[] = [];
    const overflowed: Session[] = [];
    this.store.transaction(() => {
      inTransaction?.();
      if (!msg) return;
      if (msg.retain) this.retained.set({ topic: msg.topic, payload: msg.payload, qos: msg.qos });
      for (const [clientId, subQos] of this.tree.match(msg.topic)) {
        const s = this.sessions_.get(clientId);
        if (!s) continue;
        const qos = Math.min(subQos, msg.qos) as QoS;
        if (qos === 0) {
          // QoS 0 is not queued for offline clients.
          if (s.conn && s.conn.acceptsQos0) immediate.push(s.conn);
          else if (s.conn) this.stats.droppedBacklog++;
          continue;
        }
        if (s.enqueue({ topic: msg.topic, payload: msg.payload, qos }, this.queueBounds)) touched.push(s);
        else {
          this.stats.droppedQueueFull++;
          if (!s.overflowReported) { s.overflowReported = true; overflowed.push(s); }
        }
      }
    });
    if (!msg) return;
    if (immediate.length > 0) {
      // One packet object for every QoS 0 delivery: the bytes are the same for each subscriber.
      const packet: Packet = { cmd: 'publish', topic: msg.topic, payload: msg.payload, qos: 0, retain: false, dup: false };
      const check = this.deliveryHooks.length > 0;
      for (const conn of immediate) if (!check || this.mayDeliver(conn.info, msg.topic)) conn.send(packet);
    }
    for (const s of touched) this.pump(s);
    for (const s of overflowed) {
      this.hubEvent({ kind: 'offline_queue_overflow', severity: 'warning', objectType: 'client', objectId: s.clientId,
        message: `the queue of ${s.clientId} is full (${s.queuedCount} messages, ${s.queuedBytes} bytes; limits ${this.limits.maxQueuedPerClient} messages, ${this.limits.maxQueuedBytesPerClient} bytes); new QoS 1/2 messages for it are dropped until it drains to half`,
        packet: { cmd: 'publish', topic: msg.topic, qos: msg.qos, payloadBytes: msg.payload.length } });
    }
    for (const h of this.hooks) if (h.messagePublished) this.safe(() => h.messagePublished!(from, msg), undefined);
    this.emit('message', msg.topic, msg.payload, msg.qos, msg.retain, from ? from.clientId : null);
  }

  /** @internal */
  subscribe(s: Session, filter: string, qos: QoS): void {
    s.subscribe(filter, qos);
    this.tree.add(filter, s.clientId, qos);
  }

  /** @internal */
  unsubscribe(s: Session, filter: string): void {
    if (s.unsubscribe(filter)) this.tree.remove(filter, s.clientId);
  }

  /** @internal Retained messages for a new subscription, with RETAIN set [MQTT-3.3.1-6/8]. */
  sendRetained(conn: Connection, filter: string, grantedQos: QoS): void {
    const s = conn.session!;
    let msgs = this.retained.match(filter);
    if (this.deliveryHooks.length > 0) msgs = msgs.filter((m) => this.mayDeliver(conn.info, m.topic));
    if (msgs.length === 0) return;
    const later: Packet[] = [];
    this.store.transaction(() => {
      for (const m of msgs) {
        const qos = Math.min(m.qos, grantedQos) as QoS;
        if (qos === 0) { later.push({ cmd: 'publish', topic: m.topic, payload: m.payload, qos: 0, retain: true, dup: false }); continue; }
        // Goes through the session queue (retain flag kept) so the window and redelivery apply.
        s.enqueue({ topic: m.topic, payload: m.payload, qos }, this.queueBounds, true);
      }
    });
    for (const p of later) conn.send(p);
    this.pump(s);
  }

  /** @internal Called once per connection when it ends. */
  connectionClosed(conn: Connection, wasConnected: boolean, reason: string, will: Will | null): void {
    this.conns.delete(conn);
    const s = conn.session;
    if (s && s.conn === conn) {
      s.conn = null;
      if (!s.persistent) this.dropSession(s);
    }
    if (!wasConnected) return;
    const info = { ...conn.info };
    this.log.info({ clientId: info.clientId, reason }, 'client disconnected');
    if (will && !this.closed) {
      // [MQTT-3.1.2-8]: the Will is published on every loss other than DISCONNECT.
      // This runs inside socket event handlers: a throw here would take the whole broker down.
      try {
        this.publishFrom(info, { topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain });
      } catch (err) {
        this.log.error({ err, clientId: info.clientId }, 'publishing a Will failed');
      }
    }
    for (const h of this.hooks) if (h.clientDisconnected) this.safe(() => h.clientDisconnected!(info, reason), undefined);
    this.emit('clientDisconnected', info, reason);
  }
}
