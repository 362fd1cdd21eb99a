// $SYS topics for monitors that speak only MQTT, named as Mosquitto names them
// where they mean the same (`$SYS/broker/clients/connected`,
// `$SYS/broker/load/messages/received/1min`, ...). Every `interval` seconds the
// values that changed are published retained at QoS 0, as Mosquitto does with
// sys_interval; a retained value is there for a monitor the moment it subscribes.
// The retained copies live in memory only (retained.ts). Devices read them only
// when their subscribe policy grants `$SYS/...` explicitly (device-security.ts).
import type { Broker } from '../broker';
import { topicLevel } from '../events';
import type { HubMetrics } from './hub-metrics';

const PREFIX = '$SYS/broker';

/** The load averages Mosquitto publishes: per-minute rates, exponentially smoothed over 1, 5 and 15 minutes. */
const LOAD_WINDOWS: [name: string, seconds: number][] = [['1min', 60], ['5min', 300], ['15min', 900]];

export interface SysTopicsOptions {
  /** Seconds between updates (Mosquitto's sys_interval). */
  interval: number;
  version: string;
}

export class SysTopics {
  private timer?: NodeJS.Timeout;
  /** The last value published per topic, so only changes go out. */
  private readonly published = new Map<string, string>();
  private readonly loads = new Map<string, number>();
  private lastCounters?: Record<string, number>;
  private lastAt = 0;
  private heapMax = 0;
  private clientsMax = 0;

  constructor(private readonly broker: Broker, private readonly metrics: HubMetrics, private readonly opts: SysTopicsOptions) {}

  start(): void {
    this.publish(`${PREFIX}/version`, `host-broker version ${this.opts.version}`);
    this.update();
    this.timer = setInterval(() => this.update(), this.opts.interval * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The counters load averages are computed from, keyed by their topic under load/. */
  private counters(): Record<string, number> {
    const s = this.broker.stats;
    return {
      'messages/received': s.packetsReceived, 'messages/sent': s.packetsSent,
      'publish/received': s.publishReceived[0] + s.publishReceived[1] + s.publishReceived[2],
      'publish/sent': s.publishSent[0] + s.publishSent[1] + s.publishSent[2],
      'publish/dropped': s.publishDropped,
      'bytes/received': s.bytesReceived, 'bytes/sent': s.bytesSent,
      sockets: s.socketsAccepted, connections: s.connectsAccepted,
    };
  }

  /** Computes every value and publishes those that changed. */
  update(): void {
    const g = this.broker.gauges();
    const s = this.broker.stats;
    const now = Date.now();
    const connected = g.connected.tcp + g.connected.tls + g.connected.ws;
    this.clientsMax = Math.max(this.clientsMax, g.sessions);
    const heap = process.memoryUsage().heapUsed;
    this.heapMax = Math.max(this.heapMax, heap);
    const counters = this.counters();
    const values: Record<string, number | string> = {
      uptime: `${Math.floor((now - s.startedAt) / 1000)} seconds`,
      // As in Mosquitto: total = sessions held (connected or not), disconnected = persistent ones whose client is away.
      'clients/total': g.sessions, 'clients/maximum': this.clientsMax,
      'clients/connected': connected, 'clients/disconnected': g.offlineSessions,
      'messages/stored': g.queued + g.inflight, 'store/messages/count': g.queued + g.inflight, 'store/messages/bytes': g.outboundBytes,
      'messages/inflight': g.inflight,
      'subscriptions/count': g.subscriptions, 'retained messages/count': g.retained,
      'heap/current': heap, 'heap/maximum': this.heapMax,
      'messages/received': s.packetsReceived, 'messages/sent': s.packetsSent,
      'publish/messages/received': counters['publish/received'], 'publish/messages/sent': counters['publish/sent'],
      'publish/messages/dropped': s.publishDropped,
      'publish/bytes/received': s.publishBytesReceived, 'publish/bytes/sent': s.publishBytesSent,
      'bytes/received': s.bytesReceived, 'bytes/sent': s.bytesSent,
      'connections/socket/count': s.socketsAccepted,
    };
    // Load: the per-minute rate since the last update, folded into each window's moving average.
    const elapsed = (now - this.lastAt) / 1000;
    if (this.lastCounters && elapsed > 0) {
      for (const [key, value] of Object.entries(counters)) {
        const perMinute = ((value - this.lastCounters[key]) * 60) / elapsed;
        for (const [window, seconds] of LOAD_WINDOWS) {
          const topic = `load/${key}/${window}`;
          const decay = Math.exp(-elapsed / seconds);
          const next = perMinute + decay * ((this.loads.get(topic) ?? 0) - perMinute);
          this.loads.set(topic, next);
          values[topic] = next.toFixed(2);
        }
      }
    } else {
      for (const key of Object.keys(counters)) for (const [window] of LOAD_WINDOWS) values[`load/${key}/${window}`] = '0.00';
    }
    this.lastCounters = counters;
    this.lastAt = now;
    for (const { kind, backlog } of this.metrics.backlogsNow()) {
      const base = `${topicLevel(kind)}/${topicLevel(backlog.name)}`;
      values[`${base}/backlog`] = backlog.messages;
      if (backlog.deadLetters !== undefined) values[`${base}/dead letters`] = backlog.deadLetters;
    }
    const byKind = new Map<string, number>();
    for (const e of this.metrics.events.values()) byKind.set(e.kind, (byKind.get(e.kind) ?? 0) + e.count);
    for (const [kind, n] of byKind) values[`events/${kind}`] = n;
    // One store transaction for the lot (each publish nests as a savepoint); they write nothing,
    // and commit latency should not be a count of these.
    this.broker.store.transaction(() => {
      for (const [key, value] of Object.entries(values)) this.publish(`${PREFIX}/${key}`, String(value));
    });
  }

  private publish(topic: string, value: string): void {
    if (this.published.get(topic) === value) return;
    this.published.set(topic, value);
    void this.broker.publish({ topic, payload: value, qos: 0, retain: true }).catch((err) => this.broker.log.error({ err, topic }, 'publishing a $SYS topic failed'));
  }
}
