// HIL controls, programmatic face: what tests use to watch and bend the broker.
// One BrokerHooks object records transcripts and applies fault rules; the rest
// goes through the broker's public API.
import type { Packet } from 'mqtt-packet';
import { topicMatches, checkFilter } from '../../firmware/topic';
import type { BridgeManager } from '../bridges/manager';
import type { BridgeStatus } from '../bridges/types';
import type { Broker, PublishOptions, SessionInfo } from '../broker';
import type { BrokerHooks, ClientInfo, PacketVerdict } from '../hooks';
import type { RouteManager } from '../routes/manager';
import type { DeadLetter } from '../routes/queue';
import type { RouteStatus } from '../routes/types';
import type { ListenerName } from '../server';
import { FaultInjector, FaultRule, FaultSpec, parseFaultSpec } from './faults';
import { TranscriptEntry, TranscriptOptions, TranscriptRecorder } from './transcript';

/** The part of the broker the controls use (its public API). */
export type ControlledBroker = Pick<Broker, 'addHooks' | 'removeHooks' | 'clients' | 'sessions' | 'disconnect'
  | 'stopListener' | 'startListener' | 'addresses' | 'publish' | 'on' | 'off'>;

export interface ObservedMessage {
  /** Increases by one per message seen; pass it as `since` to wait only for later ones. */
  seq: number;
  time: number;
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** null when the hub itself published it (hub events, control publish). */
  fromClientId: string | null;
}

export interface WaitOptions {
  /** Default 5000. */
  timeoutMs?: number;
  /** Also match messages already seen with seq > since (avoids the race of "publish, then wait"). */
  since?: number;
  /** Give up early (the HTTP face aborts when its caller goes away). */
  signal?: AbortSignal;
}

/** The route management calls the controls pass through (a RouteManager). */
export type ControlledRoutes = Pick<RouteManager, 'list' | 'get' | 'add' | 'remove' | 'deadLetters' | 'requeueDeadLetters'>;

/** The bridge management calls the controls pass through (a BridgeManager). */
export type ControlledBridges = Pick<BridgeManager, 'list' | 'get' | 'add' | 'remove'>;

export interface ControlOptions {
  transcript?: TranscriptOptions;
  /** The hub's routes; without it the route calls throw (and the HTTP face answers 404). */
  routes?: ControlledRoutes;
  /** The hub's bridges; likewise. */
  bridges?: ControlledBridges;
  /** How many recent messages to keep for `since`/`messages()`; default 1000. */
  recentMessages?: number;
  /** ...and at most this many payload bytes in all; default 16 MiB. */
  recentBytes?: number;
}

export class TimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
}

interface Waiter { filter: string; resolve(m: ObservedMessage): void; cancel(err: Error): void }

const LISTENERS: ListenerName[] = ['tcp', 'tls', 'ws'];

export function assertListenerName(name: unknown): asserts name is ListenerName {
  if (!LISTENERS.includes(name as ListenerName)) throw new Error(`listener: expected one of ${LISTENERS.join(', ')}, got ${JSON.stringify(name)}`);
}

export class Control {
  readonly transcripts: TranscriptRecorder;
  readonly faults = new FaultInjector();
  readonly hooks: BrokerHooks;
  private readonly recent: ObservedMessage[] = [];
  private readonly recentMax: number;
  private readonly recentBytesMax: number;
  private recentBytes = 0;
  private msgSeq = 0;
  private waiters = new Set<Waiter>();
  private closed = false;
  private readonly onMessage: (topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, from: string | null) => void;
  private readonly routes?: ControlledRoutes;
  private readonly bridges?: ControlledBridges;

  constructor(readonly broker: ControlledBroker, opts: ControlOptions = {}) {
    this.routes = opts.routes;
    this.bridges = opts.bridges;
    this.transcripts = new TranscriptRecorder(opts.transcript);
    this.recentMax = opts.recentMessages ?? 1000;
    this.recentBytesMax = opts.recentBytes ?? 16 * 1024 * 1024;
    this.hooks = {
      acceptSocket: (info) => this.faults.acceptSocket(info),
      packetIn: (client, packet) => this.onPacket(client, 'in', packet),
      packetOut: (client, packet) => this.onPacket(client, 'out', packet),
      clientDisconnected: (client) => this.transcripts.forgetConnection(client.connId),
    };
    this.onMessage = (topic, payload, qos, retain, from) => this.observe({ seq: ++this.msgSeq, time: Date.now(), topic, payload, qos, retain, fromClientId: from ?? null });
    broker.addHooks(this.hooks);
    broker.on('message', this.onMessage);
  }

  private onPacket(client: ClientInfo, dir: 'in' | 'out', packet: Packet): PacketVerdict {
    const key = this.transcripts.keyFor(client, packet);
    const v = this.faults.verdict(key, dir, packet);
    const fault = v ? ({ drop: 'dropped', delay: 'delayed', disconnect: 'disconnected' } as const)[v.action] : undefined;
    this.transcripts.record(client, dir, packet, fault, v && v.action === 'delay' ? v.ms : undefined);
    return v;
  }

  private observe(m: ObservedMessage): void {
    this.recent.push(m);
    this.recentBytes += m.payload.length;
    while (this.recent.length > 1 && (this.recent.length > this.recentMax || this.recentBytes > this.recentBytesMax)) {
      this.recentBytes -= this.recent.shift()!.payload.length;
    }
    for (const w of [...this.waiters]) if (topicMatches(w.filter, m.topic)) w.resolve(m);
  }

  // ------------------------------------------------------------------ observe

  clients(): ClientInfo[] { return this.broker.clients(); }
  sessions(): SessionInfo[] { return this.broker.sessions(); }

  /** How many waitForMessage calls are pending (lets an HTTP caller know its long poll is registered). */
  pendingWaits(): number { return this.waiters.size; }

  /** Seq of the last message seen; pass it as `since` to a later wait. */
  lastMessageSeq(): number { return this.msgSeq; }

  /** Recent messages (bounded), optionally only after a seq and matching a filter. */
  messages(opts: { since?: number; filter?: string } = {}): ObservedMessage[] {
    if (opts.filter !== undefined) assertFilter(opts.filter);
    return this.recent.filter((m) => m.seq > (opts.since ?? 0) && (opts.filter === undefined || topicMatches(opts.filter, m.topic)));
  }

  /** Resolves with the next message whose topic matches `filter` (or a recent one after `since`); rejects with TimeoutError. */
  waitForMessage(filter: string, opts: WaitOptions = {}): Promise<ObservedMessage> {
    assertFilter(filter);
    const timeoutMs = opts.timeoutMs ?? 5000;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) return Promise.reject(new Error(`timeoutMs: expected a number >= 0, got ${timeoutMs}`));
    if (this.closed) return Promise.reject(new Error('control is closed'));
    if (opts.since !== undefined) {
      const seen = this.recent.find((m) => m.seq > opts.since! && topicMatches(filter, m.topic));
      if (seen) return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(w);
        opts.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const w: Waiter = { filter, resolve: (m) => done(() => resolve(m)), cancel: (err) => done(() => reject(err)) };
      const timer = setTimeout(() => done(() => reject(new TimeoutError(`no message on ${JSON.stringify(filter)} within ${timeoutMs} ms`))), timeoutMs);
      const onAbort = () => done(() => reject(new Error('wait aborted')));
      opts.signal?.addEventListener('abort', onAbort);
      this.waiters.add(w);
    });
  }

  /** The packets to and from a client (by MQTT client id), oldest first; `after` = only entries with a larger seq. */
  transcript(clientId: string, opts: { after?: number } = {}): TranscriptEntry[] {
    return this.transcripts.get(clientId, opts);
  }

  clearTranscript(clientId?: string): void { this.transcripts.clear(clientId); }

  // -------------------------------------------------------------------- faults

  /** Drop the next `count` packets of type `cmd` going `direction` for `clientId` (any client if omitted). */
  dropNext(spec: Omit<FaultSpec, 'action' | 'ms'>): FaultRule {
    return this.faults.add(parseFaultSpec({ ...spec, action: 'drop' }));
  }

  /** Delay the next `count` matching packets by `ms` (order is kept behind them). */
  delayNext(spec: Omit<FaultSpec, 'action'> & { ms: number }): FaultRule {
    return this.faults.add(parseFaultSpec({ ...spec, action: 'delay' }));
  }

  /** Any fault rule (drop, delay, or disconnect on the matching packet). */
  addFault(spec: FaultSpec): FaultRule { return this.faults.add(spec); }
  listFaults(): FaultRule[] { return this.faults.list(); }
  removeFault(id: number): boolean { return this.faults.remove(id); }
  clearFaults(): void { this.faults.clear(); }

  /** Drop a client's connection: abrupt (default) as a lost link would (its Will fires), or a clean close. */
  disconnect(clientId: string, opts: { abrupt?: boolean } = {}): boolean {
    return this.broker.disconnect(clientId, { abrupt: opts.abrupt ?? true });
  }

  /** Refuse every new socket for `ms` (0 = accept again now). */
  refuseConnections(ms: number): void { this.faults.refuseConnections(ms); }
  refusingFor(): number { return this.faults.refusingFor(); }

  async stopListener(name: ListenerName): Promise<void> {
    assertListenerName(name);
    await this.broker.stopListener(name);
  }

  async startListener(name: ListenerName): Promise<number> {
    assertListenerName(name);
    return this.broker.startListener(name);
  }

  /** Stop a listener, wait `downMs`, start it again on the same port. */
  async restartListener(name: ListenerName, opts: { downMs?: number } = {}): Promise<number> {
    assertListenerName(name);
    await this.broker.stopListener(name);
    if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
    return this.broker.startListener(name);
  }

  listeners(): { tcp?: number; tls?: number; ws?: number } { return this.broker.addresses(); }

  /** Publish as the hub. */
  publish(msg: PublishOptions): Promise<void> { return this.broker.publish(msg); }

  // -------------------------------------------------------------------- routes

  /** Whether this hub's routes were handed to the controls (ControlOptions.routes). */
  hasRoutes(): boolean { return !!this.routes; }

  /** Every route: queue depth, dead letters, state, counters, config with secrets as '***'. */
  listRoutes(): RouteStatus[] { return this.routeManager().list(); }
  getRoute(name: string): RouteStatus | undefined { return this.routeManager().get(name); }

  /** Validates and starts a route; RouteConfigError (with `.field`) on bad config or a name in use. */
  addRoute(config: unknown): RouteStatus { return this.routeManager().add(config); }

  /** Stops a route; its queued and dead-lettered messages are discarded unless keepQueue. */
  removeRoute(name: string, opts: { keepQueue?: boolean } = {}): Promise<{ removed: boolean; discarded: number }> {
    return this.routeManager().remove(name, opts);
  }

  routeDeadLetters(name: string, limit = 100): DeadLetter[] { return this.routeManager().deadLetters(name, limit); }

  /** Puts a route's dead letters back at the end of its queue; returns how many. */
  requeueDeadLetters(name: string): number { return this.routeManager().requeueDeadLetters(name); }

  private routeManager(): ControlledRoutes {
    if (!this.routes) throw new Error('routes are not enabled on this hub (ControlOptions.routes)');
    return this.routes;
  }

  // ------------------------------------------------------------------- bridges

  /** Whether this hub's bridges were handed to the controls (ControlOptions.bridges). */
  hasBridges(): boolean { return !!this.bridges; }

  /** Every bridge: state, connected since, queued, in flight, counters, round-trip time, config with the password as '***'. */
  listBridges(): BridgeStatus[] { return this.bridgeManager().list(); }
  getBridge(name: string): BridgeStatus | undefined { return this.bridgeManager().get(name); }

  /** Validates and starts a bridge; BridgeConfigError (with `.field`) on bad config or a name in use. */
  addBridge(config: unknown): BridgeStatus { return this.bridgeManager().add(config); }

  /** Stops a bridge; its queue is discarded unless keepQueue. */
  removeBridge(name: string, opts: { keepQueue?: boolean } = {}): Promise<{ removed: boolean; discarded: number }> {
    return this.bridgeManager().remove(name, opts);
  }

  private bridgeManager(): ControlledBridges {
    if (!this.bridges) throw new Error('bridges are not enabled on this hub (ControlOptions.bridges)');
    return this.bridges;
  }

  /** Detach from the broker; pending waits reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.broker.removeHooks(this.hooks);
    this.broker.off('message', this.onMessage);
    for (const w of [...this.waiters]) w.cancel(new Error('control closed'));
  }
}

function assertFilter(filter: unknown): asserts filter is string {
  const why = typeof filter === 'string' ? checkFilter(filter) : 'filter is not a string';
  if (why) throw new Error(`filter: ${why}`);
}

export function createControl(broker: ControlledBroker, opts: ControlOptions = {}): Control {
  return new Control(broker, opts);
}
