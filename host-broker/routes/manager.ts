// RouteManager: the routes of one hub. It needs nothing of the broker's insides:
// it gets a config, a SQLite file or handle for its durable queue and a report()
// callback for hub events, and gives back a BrokerHooks whose messagePublished
// queues each matching message durably (synchronous SQLite insert) and returns
// at once. Delivery runs in the background, one RouteWorker per route.
import type Database from 'better-sqlite3';
import { topicMatches } from '../../firmware/topic';
import type { BrokerHooks, ClientInfo, HubEvent } from '../hooks';
import { NanoClock, parseRfc3339Nano } from './clock';
import { redactRoute, RouteConfigError, validateRoute, validateRoutes } from './config';
import { RouteFailureEvents } from './failure-events';
import { DeadLetter, RouteQueue } from './queue';
import { RestTarget } from './rest';
import { RouteConfig, RouteStatus, RouteTarget } from './types';
import { FailureReport, RouteWorker } from './worker';

export interface RouteManagerOptions {
  /** The `routes` list from the hub config; validated here (RouteConfigError names the bad field). */
  routes?: unknown;
  /** SQLite file path for the durable queue, ':memory:' (tests; not durable), or an open better-sqlite3 handle (the hub's store). */
  queue: string | Database.Database;
  /** Where hub events go, e.g. (ev) => broker.hubEvent(ev). */
  report?: (ev: HubEvent) => void;
  /** Topics under this prefix are the hub's own events and are never routed. Default '$hub/events'. */
  eventsPrefix?: string;
  /** Most route_failure events per route per second (the rest are summarised). Default 5. */
  eventsPerSecond?: number;
}

export interface PublishedMessage { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean }

// The S3 and SQL targets load their client libraries (AWS SDK, pg) when a route
// of their type is created: a hub without such routes pays neither their
// startup time nor their memory (tens of MB for the AWS SDK).
export function createTarget(cfg: RouteConfig): RouteTarget {
  if (cfg.type === 's3') return new (require('./s3') as typeof import('./s3')).S3Target(cfg);
  if (cfg.type === 'sql') return (require('./sql') as typeof import('./sql')).createSqlTarget(cfg);
  return new RestTarget(cfg);
}

export class RouteManager {
  /** Plug into the broker: `broker.addHooks(manager.hooks)`. */
  readonly hooks: BrokerHooks;
  private readonly queue: RouteQueue;
  private readonly workers = new Map<string, RouteWorker>();
  private readonly events: RouteFailureEvents;
  private readonly clock = new NanoClock();
  private readonly eventsPrefix: string;
  private readonly report: (ev: HubEvent) => void;
  private started = false;
  private closed = false;

  constructor(opts: RouteManagerOptions) {
    const routes = validateRoutes(opts.routes);
    this.report = opts.report ?? (() => undefined);
    this.eventsPrefix = (opts.eventsPrefix ?? '$hub/events').replace(/\/+$/, '');
    this.events = new RouteFailureEvents(this.report, opts.eventsPerSecond ?? 5);
    this.queue = new RouteQueue(opts.queue);
    const latest = this.queue.maxTs();
    if (latest) { try { this.clock.notBefore(parseRfc3339Nano(latest)); } catch {} }
    for (const r of routes) this.workers.set(r.name, this.makeWorker(r));
    this.hooks = {
      messagePublished: (_client: ClientInfo | null, msg: PublishedMessage) => { this.enqueue(msg); },
    };
  }

  /** Starts delivering, beginning with whatever a previous run left queued. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const [route, n] of this.queue.pending()) {
      if (!this.workers.has(route)) {
        this.hubEvent('warning', route, `${n} queued messages belong to route ${route}, which is not configured; they are kept until the route is added again or removed`);
      }
    }
    for (const w of this.workers.values()) w.start();
  }

  /**
   * Durably queues a message for every matching route and returns their names.
   * Synchronous: when it returns, the message survives a crash. Never throws.
   */
  enqueue(msg: PublishedMessage): string[] {
    if (this.closed || typeof msg.topic !== 'string' || this.isHubEvent(msg.topic)) return [];
    // Callers other than the broker may hand a string; the queue stores bytes.
    if (!Buffer.isBuffer(msg.payload)) msg = { ...msg, payload: Buffer.from(msg.payload as unknown as string) };
    const matched: RouteWorker[] = [];
    for (const w of this.workers.values()) {
      if (!topicMatches(w.cfg.filter, msg.topic)) continue;
      if (this.queue.depth(w.cfg.name) >= w.cfg.delivery.maxQueue) {
        w.stats.dropped++;
        this.events.raise({
          route: w.cfg.name, severity: 'error', msg: summary(msg),
          message: `route ${w.cfg.name}: queue full (${w.cfg.delivery.maxQueue} messages waiting); message on ${msg.topic} dropped`,
        });
        continue;
      }
      matched.push(w);
    }
    if (!matched.length) return [];
    try {
      this.queue.enqueue(matched.map((w) => w.cfg.name), msg, this.clock.now());
    } catch (err: any) {
      for (const w of matched) {
        w.stats.dropped++;
        this.events.raise({ route: w.cfg.name, severity: 'error', msg: summary(msg), message: `route ${w.cfg.name}: could not queue message: ${err?.message ?? err}` });
      }
      return [];
    }
    for (const w of matched) { w.stats.enqueued++; w.notify(); }
    return matched.map((w) => w.cfg.name);
  }

  /** Every route with its queue depth, dead letters, state and counters. */
  list(): RouteStatus[] {
    return [...this.workers.values()].map((w) => this.status(w));
  }

  get(name: string): RouteStatus | undefined {
    const w = this.workers.get(name);
    return w && this.status(w);
  }

  /** Adds a route (validated; RouteConfigError on bad input or a name in use) and starts it. */
  add(raw: unknown): RouteStatus {
    this.assertOpen();
    const cfg = validateRoute(raw);
    if (this.workers.has(cfg.name)) throw new RouteConfigError('route.name', `expected a name not in use; route ${JSON.stringify(cfg.name)} exists`);
    const w = this.makeWorker(cfg);
    this.workers.set(cfg.name, w);
    if (this.started) w.start();
    return this.status(w);
  }

  /**
   * Removes a route: stops it (waiting for deliveries in flight) and discards its
   * queued and dead-lettered messages unless keepQueue (then they wait for a route
   * of the same name). Also clears leftovers of a route no longer configured.
   */
  async remove(name: string, opts: { keepQueue?: boolean } = {}): Promise<{ removed: boolean; discarded: number }> {
    this.assertOpen();
    const w = this.workers.get(name);
    if (w) {
      this.workers.delete(name);
      await w.stop();
    }
    const discarded = opts.keepQueue ? 0 : this.queue.purge(name);
    return { removed: !!w || discarded > 0, discarded };
  }

  deadLetters(name: string, limit = 100): DeadLetter[] {
    return this.queue.listDead(name, limit);
  }

  /** Puts a route's dead letters back in its queue (after the target was fixed); returns how many. */
  requeueDeadLetters(name: string): number {
    this.assertOpen();
    const n = this.queue.requeueDead(name);
    const w = this.workers.get(name);
    if (w) w.notify();
    return n;
  }

  /** Resolves when the named route (or every route) has nothing queued or in flight; rejects after timeoutMs. */
  async drain(name?: string, timeoutMs = 30000): Promise<void> {
    const ws = name === undefined ? [...this.workers.values()] : [this.workers.get(name)];
    if (ws.some((w) => !w)) throw new Error(`no route named ${JSON.stringify(name)}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`routes not drained within ${timeoutMs} ms: ${this.list().filter((s) => s.queueDepth > 0).map((s) => `${s.name}=${s.queueDepth}`).join(', ')}`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all(ws.map((w) => w!.whenDrained())), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops every route (deliveries in flight finish first) and closes the queue if this manager opened it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    this.events.close();
    this.queue.close();
  }

  private makeWorker(cfg: RouteConfig): RouteWorker {
    return new RouteWorker(cfg, this.queue, createTarget(cfg), (r) => this.onFailure(r));
  }

  private onFailure(r: FailureReport): void {
    const first = r.batch[0];
    const what = r.batch.length > 1 ? `${r.batch.length} messages (first on ${first.topic})` : first ? `message on ${first.topic}` : 'queue';
    let message: string;
    if (r.outcome === 'dead') {
      message = `route ${r.route.name}: target refused ${what} ${r.route.delivery.maxAttempts} times, moved ${r.dead.length} to dead letters: ${r.error.message}`;
    } else if (r.error.permanent && r.batch.length > 1) {
      message = `route ${r.route.name}: target refused a batch of ${what}; retrying one message at a time: ${r.error.message}`;
    } else {
      message = `route ${r.route.name}: delivery of ${what} failed (${r.error.permanent ? 'refused' : 'target unavailable'}), will retry: ${r.error.message}`;
    }
    this.events.raise({
      route: r.route.name,
      severity: r.outcome === 'dead' ? 'error' : 'warning',
      message,
      ...(first ? { msg: summary(first) } : {}),
    });
  }

  private status(w: RouteWorker): RouteStatus {
    const name = w.cfg.name;
    return {
      name,
      type: w.cfg.type,
      filter: w.cfg.filter,
      queueDepth: this.queue.depth(name),
      deadLetters: this.queue.db.open ? this.queue.deadCount(name) : 0,
      state: w.state(),
      stats: { ...w.stats },
      config: redactRoute(w.cfg),
    };
  }

  private isHubEvent(topic: string): boolean {
    return topic === this.eventsPrefix || topic.startsWith(this.eventsPrefix + '/');
  }

  private hubEvent(severity: HubEvent['severity'], route: string, message: string): void {
    try { this.report({ kind: 'route_failure', severity, objectType: 'route', objectId: route, message }); } catch {}
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('route manager is closed');
  }
}

function summary(m: { topic: string; qos: number; payload: Buffer }): { topic: string; qos: number; payloadBytes: number } {
  return { topic: m.topic, qos: m.qos, payloadBytes: m.payload.length };
}
