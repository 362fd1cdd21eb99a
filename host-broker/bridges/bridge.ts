// One bridge: a durable queue of hub messages going up, one upstream link at a
// time, and the messages coming down.
//
// Connection: connect, and on any failure wait (capped exponential backoff with
// jitter, backoff.ts) and connect again, for as long as the bridge runs.
// Going up: messages are taken from the queue in order (only committed rows),
// at most maxInflight unacknowledged; a row is deleted on PUBACK (QoS 1) or
// PUBCOMP (QoS 2). After a reconnect the unacknowledged ones go first, with
// their packet ids and DUP [MQTT-4.4.0-1]. As Connection.flush does for
// devices, a packet that stands for a write of this turn (QoS 2 step, inbound
// ack) leaves only once the store has committed it (send()).
// Coming down: each message is published on the hub as the hub itself; its
// PUBACK / PUBREC goes up once it is durable. QoS 2 ids are kept in the store
// until PUBREL [MQTT-4.3.3-2].
import type { IPublishPacket, Packet } from 'mqtt-packet';
import type Database from 'better-sqlite3';
import type { Logger } from '../broker';
import type { HubEvent, Severity } from '../hooks';
import type { QoS, Store } from '../store/types';
import { backoffDelay } from './backoff';
import { redactBridge } from './config';
import { EchoFilter } from './echo';
import { LinkError } from './errors';
import { UpstreamLink } from './link';
import { echoedBack, inbound, outbound, subscriptions } from './mapping';
import { BridgeQueue } from './queue';
import { loadTlsMaterial, type TlsMaterial } from './transport';
import type { BridgeConfig, BridgeState, BridgeStats, BridgeStatus, QueuedMessage } from './types';

/** What a bridge needs of the hub (BridgeManager gives it). */
export interface BridgeHost {
  store: Store;
  db: Database.Database;
  log: Logger;
  /** The hub's limits.maxPacketSize, also applied to what the upstream sends. */
  maxPacketSize: number;
  /** Publishes a message from this bridge's upstream on the hub; resolves once it is durable. */
  publishLocal(bridge: string, m: { topic: string; payload: Buffer; qos: QoS; retain: boolean }): Promise<void>;
  event(ev: HubEvent): void;
}

/** A link that stayed up this long resets the backoff: the next failure retries quickly again. */
const STABLE_MS = 30_000;
/** Topics whose mapping offer() remembers, at most. */
const ROUTE_CACHE_SIZE = 10_000;
/** Socket backlog past which QoS 0 messages are dropped rather than buffered. */
const QOS0_BACKLOG_BYTES = 1024 * 1024;

type InFlight = QueuedMessage & { packetId: number; sentAt: number };

export class Bridge {
  readonly stats: BridgeStats = { queuedTotal: 0, sent: 0, resent: 0, acknowledged: 0, droppedQos0: 0, droppedOverflow: 0, received: 0, echoesDropped: 0, connects: 0, failures: 0 };
  private readonly queue: BridgeQueue;
  private readonly tls: TlsMaterial | undefined;
  private readonly url: URL;
  private state: BridgeState = 'stopped';
  private link: UpstreamLink | null = null;
  private connecting: UpstreamLink | null = null;
  /** Sent and not yet acknowledged, by packet id. */
  private readonly inflight = new Map<number, InFlight>();
  /** QoS 2 messages the last run left past PUBLISH (ids on disk): they go first at the next connect. */
  private restored: QueuedMessage[] = [];
  private subscribeId = 0;
  private subscribed: ((granted: number[]) => void) | null = null;
  private nextId = 1;
  /** Packets waiting for the store's commit before they may leave (see send()). */
  private pending: { link: UpstreamLink; p: Packet }[] = [];
  private pendingScheduled = false;
  private connectedAt = 0;
  private nextAttemptAt = 0;
  private attempt = 0;
  /** The reason of the last bridge_down event, so a hub that keeps failing the same way says so once. */
  private reported: string | null = null;
  private overflowReported = false;
  private rtt: number | undefined;
  private readonly echo = new EchoFilter();
  /** Hub topic -> where it goes upstream (null: nowhere), see offer(). */
  private readonly routes = new Map<string, { topic: string; qos: QoS } | null>();
  private readonly echoPossible: boolean;
  private stopping = false;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;

  /** Reads the TLS files (BridgeConfigError naming `field`.tls.x if they are unusable) and the queue's state. */
  constructor(readonly cfg: BridgeConfig, private readonly host: BridgeHost, field = 'bridge') {
    this.url = new URL(cfg.url);
    this.tls = loadTlsMaterial(cfg.tls, `${field}.tls`);
    this.queue = new BridgeQueue(host.db, host.store, cfg.name, cfg.queue, (err) => (err ? this.storeFailed(err) : this.pump()));
    this.restored = this.queue.reload();
    this.echoPossible = cfg.mappings.some((m) => m.direction !== 'in') && cfg.mappings.some((m) => m.direction !== 'out');
  }

  get name(): string { return this.cfg.name; }

  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.run();
  }

  /** Ends the link (DISCONNECT) and the reconnect loop. Queued and in-flight messages stay on disk. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.connecting?.close(new LinkError('bridge stopped'));
    this.link?.close(new LinkError('bridge stopped'), { graceful: true });
    await this.running;
    this.running = null;
    this.state = 'stopped';
    this.queue.flushDeletes(); // into the store's last batch
  }

  /** Deletes the queue (after stop()); returns how many messages went. */
  purge(): number {
    this.inflight.clear();
    this.restored = [];
    return this.queue.purge();
  }

  backlog(): number { return this.queue.count; }

  status(): BridgeStatus {
    const s: BridgeStatus = {
      name: this.cfg.name, url: this.cfg.url, clientId: this.cfg.clientId, state: this.state,
      queued: this.queue.count, queuedBytes: this.queue.bytes, inflight: this.inflight.size,
      stats: { ...this.stats }, config: redactBridge(this.cfg),
    };
    if (this.state === 'connected') s.connectedSince = new Date(this.connectedAt).toISOString();
    if (this.state === 'waiting') s.nextAttemptAt = new Date(this.nextAttemptAt).toISOString();
    if (this.rtt !== undefined) s.rttMs = Math.round(this.rtt * 10) / 10;
    return s;
  }

  // ------------------------------------------------------------- hub -> upstream

  /** A message was accepted on the hub: queue it (QoS 1/2) or send it now (QoS 0) if a mapping takes it. */
  offer(msg: { topic: string; payload: Buffer; qos: QoS; retain: boolean }): void {
    let route = this.routes.get(msg.topic);
    if (route === undefined) {
      // Mapping each topic once: a fleet publishes on a few hundred topics, over and over.
      if (this.routes.size >= ROUTE_CACHE_SIZE) this.routes.clear();
      route = outbound(this.cfg.mappings, msg.topic);
      this.routes.set(msg.topic, route);
    }
    if (!route) return;
    const qos = Math.min(msg.qos, route.qos) as QoS;
    if (qos === 0) { this.sendQos0(route.topic, msg.payload, msg.retain); return; }
    if (!this.queue.push({ topic: route.topic, payload: msg.payload, qos, retain: msg.retain })) {
      this.stats.droppedOverflow++;
      if (!this.overflowReported) {
        this.overflowReported = true;
        const b = this.cfg.queue;
        this.event('bridge_queue_overflow', 'error', `the queue to ${this.cfg.url} is full (${this.queue.count} messages, ${this.queue.bytes} bytes; limits ${b.maxMessages} messages, ${b.maxBytes} bytes): new QoS 1/2 messages for this bridge are dropped until it drains to half`,
          { cmd: 'publish', topic: msg.topic, qos: msg.qos, payloadBytes: msg.payload.length });
      }
      return;
    }
    this.stats.queuedTotal++;
  }

  /** QoS 0 is best effort: sent if the link is up and not backlogged, else dropped (and counted). */
  private sendQos0(topic: string, payload: Buffer, retain: boolean): void {
    const link = this.link;
    if (!link || link.backlog > QOS0_BACKLOG_BYTES) { this.stats.droppedQos0++; return; }
    this.stats.sent++;
    if (this.echoPossible && echoedBack(this.cfg.mappings, topic)) this.echo.expect(topic, payload);
    this.send(link, { cmd: 'publish', topic, payload, qos: 0, retain, dup: false });
  }

  /** Sends queued messages while the window has room. Never throws: it runs inside the store's commit callbacks. */
  private pump(): void {
    const link = this.link;
    if (!link) return;
    try {
      this.fill(link);
    } catch (err: any) {
      // Reading the queue failed (disk trouble): this link goes; the next one starts from what is on disk.
      this.host.log.error({ bridge: this.name, err: err?.message }, 'bridge: sending from the queue failed');
      this.storeFailed(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private fill(link: UpstreamLink): void {
    while (this.inflight.size < this.cfg.maxInflight) {
      const m = this.queue.next();
      if (!m) break;
      const id = this.allocId();
      if (m.qos === 2) this.queue.setState(m, 'sent', id); // on disk before the PUBLISH leaves (send() waits for it)
      const f = m as InFlight;
      f.packetId = id;
      this.transmit(link, f, false);
      this.stats.sent++;
    }
    if (this.overflowReported && this.queue.belowHalf()) this.overflowReported = false;
  }

  private transmit(link: UpstreamLink, m: InFlight, dup: boolean): void {
    m.sentAt = Date.now();
    this.inflight.set(m.packetId, m);
    if (m.state === 'released') { this.send(link, { cmd: 'pubrel', messageId: m.packetId }, true); return; }
    if (this.echoPossible && echoedBack(this.cfg.mappings, m.topic)) this.echo.expect(m.topic, m.payload);
    this.send(link, { cmd: 'publish', topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, dup, messageId: m.packetId }, m.qos === 2);
  }

  private allocId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.nextId;
      this.nextId = this.nextId === 65535 ? 1 : this.nextId + 1;
      if (!this.inflight.has(id) && id !== this.subscribeId) return id;
    }
    throw new Error('no free packet id'); // maxInflight <= 65535 keeps one free
  }

  /**
   * Writes a packet to `link`. One that stands for a write of this turn
   * (`durable`: a QoS 2 PUBLISH after its packet id went to disk, PUBREL after
   * 'released', PUBREC for a QoS 2 id, PUBCOMP after the id was released) waits
   * until the store has committed, and so does everything sent after it, in
   * order: the upstream never sees an acknowledgement a crash could take back.
   * A QoS 0/1 PUBLISH stands for a row already committed, and goes at once.
   */
  private send(link: UpstreamLink, p: Packet, durable = false): void {
    if (this.pending.length === 0 && !(durable && this.host.store.uncommitted)) { link.write(p); return; }
    this.pending.push({ link, p });
    if (this.pendingScheduled) return;
    this.pendingScheduled = true;
    this.host.store.afterCommit((err) => {
      this.pendingScheduled = false;
      const ps = this.pending;
      this.pending = [];
      if (err) { this.storeFailed(err); return; }
      // Only for the link they were meant for: an ack for an old link's packet id means something else on a new one.
      try {
        for (const x of ps) if (x.link === this.link) x.link.write(x.p);
      } catch (e: any) {
        this.host.log.error({ bridge: this.name, err: e?.message }, 'bridge: writing to the upstream failed');
      }
    });
  }

  // ------------------------------------------------------------- upstream -> hub

  private onPacket(link: UpstreamLink, p: Packet): void {
    if (link !== this.link) return;
    switch (p.cmd) {
      case 'puback': return this.acked(p.messageId!, 1);
      case 'pubrec': return this.pubrec(link, p.messageId!);
      case 'pubcomp': return this.acked(p.messageId!, 2);
      case 'publish': return void this.received(link, p);
      case 'pubrel':
        this.queue.releaseInboundQos2(p.messageId!);
        return this.send(link, { cmd: 'pubcomp', messageId: p.messageId! }, true);
      case 'suback':
        if (p.messageId === this.subscribeId && this.subscribed) this.subscribed(p.granted as number[]);
        return;
      default:
        return;
    }
  }

  private sampleRtt(ms: number): void {
    this.rtt = this.rtt === undefined ? ms : this.rtt * 0.8 + ms * 0.2;
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2): the upstream has it; the row goes. */
  private acked(id: number, qos: 1 | 2): void {
    const m = this.inflight.get(id);
    if (!m || m.qos !== qos) return;
    this.inflight.delete(id);
    this.queue.remove(m);
    if (qos === 1) { this.stats.acknowledged++; this.sampleRtt(Date.now() - m.sentAt); }
    this.pump();
  }

  private pubrec(link: UpstreamLink, id: number): void {
    const m = this.inflight.get(id);
    if (m && m.qos === 2 && m.state === 'sent') {
      this.queue.setState(m, 'released', id);
      this.stats.acknowledged++;
      this.sampleRtt(Date.now() - m.sentAt);
    }
    // Also for an id we do not know (or a repeated PUBREC): the upstream can then finish its side.
    this.send(link, { cmd: 'pubrel', messageId: id }, true);
  }

  private async received(link: UpstreamLink, p: IPublishPacket): Promise<void> {
    const id = p.messageId!;
    const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload);
    // Sent once the message (and a QoS 2 id) is durable on the hub.
    const ack = () => { if (p.qos === 1) this.send(link, { cmd: 'puback', messageId: id }, true); else if (p.qos === 2) this.send(link, { cmd: 'pubrec', messageId: id }, true); };
    if (p.qos === 2) {
      if (this.queue.hasInboundQos2(id)) { ack(); return; } // a resend of one we have [MQTT-4.3.3-2]
      this.queue.addInboundQos2(id); // same batch as the publish below
    }
    const local = inbound(this.cfg.mappings, p.topic);
    if (this.echoPossible && this.echo.take(p.topic, payload)) {
      this.stats.echoesDropped++;
    } else if (local === null) {
      this.host.log.warn({ bridge: this.name, topic: p.topic }, 'bridge: a message from upstream matches no in mapping; dropped');
    } else {
      try {
        const done = this.host.publishLocal(this.name, { topic: local, payload, qos: p.qos, retain: !!p.retain });
        this.stats.received++;
        await done;
      } catch (err: any) {
        // Not publishable here (a commit failure is handled by the store's failure path): acknowledged
        // anyway, or the upstream would send it again for ever.
        this.host.log.warn({ bridge: this.name, topic: local, err: err?.message }, 'bridge: a message from upstream could not be published on the hub');
      }
    }
    ack();
  }

  // ------------------------------------------------------------------ the link

  private run(): Promise<void> {
    return (async () => {
      while (!this.stopping) {
        this.state = 'connecting';
        const failure = await this.connectOnce();
        const wasUp = this.connectedAt > 0;
        const upFor = wasUp ? Date.now() - this.connectedAt : 0;
        this.link = null;
        this.subscribed = null;
        this.subscribeId = 0;
        if (this.stopping) break;
        if (upFor >= STABLE_MS) this.attempt = 0;
        this.attempt++;
        const delay = backoffDelay(this.attempt, this.cfg.reconnect);
        this.down(failure, wasUp, delay);
        this.state = 'waiting';
        this.nextAttemptAt = Date.now() + delay;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wake = () => { clearTimeout(t); resolve(); };
        });
        this.wake = null;
      }
      this.state = 'stopped';
    })();
  }

  /** One connection, from the attempt to its end; resolves with why it ended (or never started). */
  private connectOnce(): Promise<LinkError> {
    this.connectedAt = 0;
    return new Promise<LinkError>((resolve) => {
      const link: UpstreamLink = new UpstreamLink({
        url: this.url, clientId: this.cfg.clientId, keepalive: this.cfg.keepalive, cleanSession: this.cfg.cleanSession,
        connectTimeoutMs: this.cfg.connectTimeoutMs, pingTimeoutMs: this.cfg.pingTimeoutMs, maxPacketSize: this.host.maxPacketSize,
        ...(this.cfg.username !== undefined ? { username: this.cfg.username } : {}),
        ...(this.cfg.password !== undefined ? { password: this.cfg.password } : {}),
        ...(this.tls ? { tls: this.tls } : {}),
      }, {
        up: (sessionPresent) => this.up(link, sessionPresent),
        packet: (p) => this.onPacket(link, p),
        closed: (err) => resolve(err),
        rtt: (ms) => this.sampleRtt(ms),
      });
      this.connecting = link;
      link.connect().catch((err: LinkError) => resolve(err)).finally(() => { if (this.connecting === link) this.connecting = null; });
    });
  }

  /** CONNACK 0 arrived (called synchronously, before any packet behind it is handled). */
  private up(link: UpstreamLink, sessionPresent: boolean): void {
    this.link = link;
    this.state = 'connected';
    this.connectedAt = Date.now();
    this.stats.connects++;
    this.reported = null;
    // Unacknowledged first, in their original order, with their ids [MQTT-4.4.0-1].
    const again = [...this.restored, ...this.inflight.values()].sort((a, b) => a.seq - b.seq) as InFlight[];
    this.restored = [];
    this.inflight.clear();
    for (const m of again) {
      this.transmit(link, m, true);
      if (m.state !== 'released') this.stats.resent++;
    }
    this.pump();
    const subs = subscriptions(this.cfg.mappings);
    const queued = this.queue.count;
    const say = (extra: string, severity: Severity) => this.event('bridge_connected', severity,
      `connected to ${this.cfg.url} as ${this.cfg.clientId} (${sessionPresent ? 'session resumed' : 'new session'}); ${queued} messages queued${extra}`);
    if (subs.length === 0) { say('', 'info'); return; }
    this.subscribeId = this.allocId();
    const timer = setTimeout(() => {
      if (this.link === link) link.close(new LinkError(`no SUBACK from ${this.cfg.url} within ${this.cfg.connectTimeoutMs} ms`, 'warning', 'SUBACK_TIMEOUT'));
    }, this.cfg.connectTimeoutMs);
    this.subscribed = (granted) => {
      clearTimeout(timer);
      this.subscribed = null;
      this.subscribeId = 0;
      const refused = subs.filter((_s, i) => granted[i] === 0x80).map((s) => s.topic);
      if (refused.length) {
        this.stats.lastError = `the upstream refused the subscription to ${refused.join(', ')}: no messages come down on it (check the upstream's rules for ${this.cfg.clientId})`;
        this.stats.lastErrorAt = new Date().toISOString();
        say(`; subscription REFUSED for ${refused.join(', ')}`, 'warning');
      } else {
        say(`; subscribed to ${subs.map((s) => s.topic).join(', ')}`, 'info');
      }
    };
    link.subscribe(this.subscribeId, subs);
  }

  private down(err: LinkError, wasUp: boolean, delayMs: number): void {
    this.stats.failures++;
    this.stats.lastError = err.reason;
    this.stats.lastErrorAt = new Date().toISOString();
    const retry = `; ${this.queue.count} messages queued; next attempt in ${delayMs < 1000 ? `${delayMs} ms` : `${(delayMs / 1000).toFixed(1)} s`}`;
    this.host.log[wasUp ? 'warn' : 'info']({ bridge: this.name, reason: err.reason, attempt: this.attempt, delayMs }, wasUp ? 'bridge link down' : 'bridge connect failed');
    // A hub that keeps failing the same way says so once (the status keeps counting).
    if (!wasUp && this.reported === err.reason) return;
    this.reported = err.reason;
    this.event('bridge_down', err.severity, `${wasUp ? 'link to' : 'cannot connect to'} ${this.cfg.url}: ${err.reason}${retry}`);
  }

  /**
   * A commit failed: what memory says about the queue may not be on disk. The
   * link goes (its acks could stand for lost writes) and the queue is reread.
   */
  storeFailed(err: Error): void {
    this.host.log.error({ bridge: this.name, err: err.message }, 'bridge: store commit failed; rereading the queue');
    this.pending = [];
    this.inflight.clear();
    const link = this.link;
    this.link = null; // nothing more goes out on it (pump() would allocate ids the reread queue holds)
    link?.close(new LinkError(`the hub could not store its state (${err.message})`, 'error', 'STORE'));
    try {
      this.restored = this.queue.reload();
    } catch (e: any) {
      // The disk is still failing: the next connect reads what it can (this runs in commit callbacks: no throw).
      this.restored = [];
      this.host.log.error({ bridge: this.name, err: e?.message }, 'bridge: rereading the queue failed');
    }
  }

  private event(kind: HubEvent['kind'], severity: Severity, message: string, packet?: HubEvent['packet']): void {
    this.host.event({ kind, severity, objectType: 'bridge', objectId: this.name, message, ...(packet ? { packet } : {}) });
  }
}
