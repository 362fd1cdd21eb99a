// What the hub measures about itself, in one place, for the two ways out:
// Prometheus text on the control listener (/metrics, prom-client) and $SYS
// topics over MQTT (sys-topics.ts). The broker's hot path only bumps plain
// counters (../stats.ts); everything here is computed when someone asks.
// prom-client is loaded, and its registry built, on the first Prometheus use
// (a scrape or a commit to time): a hub without /metrics does not carry it
// (~11 MB of RSS with its OpenTelemetry API).
import type * as Prom from 'prom-client';
import type { Broker, BrokerGauges } from '../broker';
import type { HubEvent } from '../hooks';
import type { ListenerName } from '../server';

/** One forwarding queue: a route's (or, later, a bridge's). */
export interface Backlog { name: string; messages: number; deadLetters?: number }

/** Something that forwards messages out of the hub and may fall behind: routes, bridges. */
export interface BacklogSource { kind: string; list(): Backlog[] }

/** Buckets for a durable SQLite commit: fsync on an SD card takes 1-50 ms, on an SSD well under 1 ms. */
const COMMIT_BUCKETS = [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2];

// Process metrics (memory, CPU, event loop lag, GC) are the process's, not one hub's:
// collected once, into their own registry, however many hubs a process runs (tests do).
let processRegistry: Prom.Registry | undefined;
function processMetrics(prom: typeof Prom): Prom.Registry {
  if (!processRegistry) {
    processRegistry = new prom.Registry();
    prom.collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

const LISTENERS: ListenerName[] = ['tcp', 'tls', 'ws'];
const QOS = ['0', '1', '2'];

export class HubMetrics {
  private readonly backlogs: BacklogSource[] = [];
  /** Hub events since start, by kind and severity. */
  readonly events = new Map<string, { kind: string; severity: string; count: number }>();
  private readonly onEvent: (ev: HubEvent) => void;
  private snapshot: BrokerGauges;
  private prom?: { lib: typeof Prom; registry: Prom.Registry; commits: Prom.Histogram };

  constructor(readonly broker: Broker, private readonly opts: { version: string }) {
    this.onEvent = (ev) => {
      const key = `${ev.kind}\u0000${ev.severity}`;
      const e = this.events.get(key);
      if (e) e.count++;
      else this.events.set(key, { kind: ev.kind, severity: ev.severity, count: 1 });
    };
    broker.on('hubEvent', this.onEvent);
    this.snapshot = broker.gauges();
  }

  /** The Prometheus registry, built on first use. */
  private promRegistry(): NonNullable<HubMetrics['prom']> {
    if (this.prom) return this.prom;
    const lib = require('prom-client') as typeof Prom;
    const { Counter, Gauge, Histogram, Registry } = lib;
    const registry = new Registry();
    const opts = this.opts;
    const broker = this.broker;
    const r = [registry];
    const stats = broker.stats;
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: r, collect() { this.set(read()); } });
    // A counter whose value lives in BrokerStats: set it at scrape time.
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers: r, collect() { this.reset(); this.inc(read()); } });
    const byQos = (name: string, help: string, values: number[]) =>
      new Counter({ name, help, labelNames: ['qos'], registers: r, collect() { this.reset(); QOS.forEach((q, i) => this.inc({ qos: q }, values[i])); } });

    new Gauge({ name: 'hub_info', help: 'Always 1; the version is a label', labelNames: ['version'], registers: r, collect() { this.set({ version: opts.version }, 1); } });
    // One snapshot per scrape (text() takes it), shared by the gauges below: it walks every session.
    const snap = () => this.snapshot;
    gauge('hub_sockets_open', 'Open MQTT sockets, including those that have not sent CONNECT yet', () => snap().sockets);
    new Gauge({ name: 'hub_clients_connected', help: 'Connected MQTT clients, by listener', labelNames: ['listener'], registers: r,
      collect() { for (const l of LISTENERS) this.set({ listener: l }, snap().connected[l]); } });
    gauge('hub_sessions', 'Sessions held: connected clients and persistent sessions whose client is away', () => snap().sessions);
    gauge('hub_sessions_offline', 'Persistent sessions whose client is not connected', () => snap().offlineSessions);
    gauge('hub_subscriptions', 'Subscriptions over all sessions', () => snap().subscriptions);
    gauge('hub_retained_messages', 'Retained messages', () => snap().retained);
    gauge('hub_queued_messages', 'QoS 1/2 messages waiting for a client (offline, or its in-flight window full)', () => snap().queued);
    gauge('hub_queued_messages_max', 'The longest queue of one client', () => snap().queuedMax);
    gauge('hub_inflight_messages', 'QoS 1/2 messages sent and not yet acknowledged', () => snap().inflight);
    gauge('hub_outbound_bytes', 'Payload bytes of the queued and in-flight messages', () => snap().outboundBytes);
    const backlogs = this.backlogs;
    new Gauge({ name: 'hub_backlog_messages', help: 'Messages waiting to be forwarded, by route (or bridge)', labelNames: ['kind', 'name'], registers: r,
      collect() { this.reset(); for (const s of backlogs) for (const b of s.list()) this.set({ kind: s.kind, name: b.name }, b.messages); } });
    new Gauge({ name: 'hub_dead_letters', help: 'Messages a route (or bridge) gave up on, kept for requeue', labelNames: ['kind', 'name'], registers: r,
      collect() { this.reset(); for (const s of backlogs) for (const b of s.list()) if (b.deadLetters !== undefined) this.set({ kind: s.kind, name: b.name }, b.deadLetters); } });

    counter('hub_sockets_accepted_total', 'Sockets accepted', () => stats.socketsAccepted);
    counter('hub_connections_accepted_total', 'CONNECTs accepted', () => stats.connectsAccepted);
    counter('hub_packets_received_total', 'MQTT packets received, every type', () => stats.packetsReceived);
    counter('hub_packets_sent_total', 'MQTT packets sent, every type', () => stats.packetsSent);
    byQos('hub_messages_received_total', 'PUBLISH packets received from clients, by QoS', stats.publishReceived);
    byQos('hub_messages_sent_total', 'PUBLISH packets sent to clients, by QoS', stats.publishSent);
    counter('hub_message_bytes_received_total', 'PUBLISH payload bytes received', () => stats.publishBytesReceived);
    counter('hub_message_bytes_sent_total', 'PUBLISH payload bytes sent', () => stats.publishBytesSent);
    counter('hub_bytes_received_total', 'Bytes received on MQTT connections', () => stats.bytesReceived);
    counter('hub_bytes_sent_total', 'Bytes sent on MQTT connections', () => stats.bytesSent);
    new Counter({ name: 'hub_messages_dropped_total', help: 'Deliveries not made: a full queue (QoS 1/2) or a socket backlog (QoS 0)', labelNames: ['reason'], registers: r,
      collect() { this.reset(); this.inc({ reason: 'queue_full' }, stats.droppedQueueFull); this.inc({ reason: 'backlog' }, stats.droppedBacklog); } });
    const events = this.events;
    new Counter({ name: 'hub_events_total', help: 'Hub events raised, by kind and severity', labelNames: ['kind', 'severity'], registers: r,
      collect() { this.reset(); for (const e of events.values()) this.inc({ kind: e.kind, severity: e.severity }, e.count); } });
    const commits = new Histogram({ name: 'hub_store_commit_seconds', help: 'Store group commits: the COMMIT of one batch (everything one event-loop turn wrote), fsync included', buckets: COMMIT_BUCKETS, registers: r });
    this.prom = { lib, registry, commits };
    return this.prom;
  }

  /** Adds a backlog source: `metrics.addBacklog({ kind: 'bridge', list: () => bridges.backlogs() })`. */
  addBacklog(source: BacklogSource): void { this.backlogs.push(source); }

  /** Backlogs now, over all sources. */
  backlogsNow(): { kind: string; backlog: Backlog }[] {
    return this.backlogs.flatMap((s) => s.list().map((backlog) => ({ kind: s.kind, backlog })));
  }

  /** For the store: one durable commit took `seconds`. */
  observeCommit(seconds: number): void { this.promRegistry().commits.observe(seconds); }

  get contentType(): string { return this.promRegistry().registry.contentType; }

  /** The Prometheus text exposition: the hub's metrics, then the process's. */
  async text(): Promise<string> {
    const { lib, registry } = this.promRegistry();
    this.snapshot = this.broker.gauges();
    return (await registry.metrics()) + '\n' + (await processMetrics(lib).metrics());
  }

  close(): void { this.broker.off('hubEvent', this.onEvent); }
}
