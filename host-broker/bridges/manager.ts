// BridgeManager: the bridges of one hub. It gets the broker (its store, its
// publish and its hub events) and the `bridges` config, and gives back a
// BrokerHooks whose messagePublished queues each message a bridge maps out, in
// the store's open batch (so the row commits with the message, before the
// device's PUBACK). Each bridge then runs its own link (bridge.ts).
//
// No loops: a message a bridge brought down from its upstream is published on
// the hub with that bridge's name as its origin, and messagePublished never
// offers a message to the bridge it came from, whatever the mappings say.
// Other bridges may carry it on (a hub relaying between two upstreams).
import Database from 'better-sqlite3';
import type { Broker, Logger } from '../broker';
import type { BrokerHooks, HubEvent } from '../hooks';
import { SqliteStore } from '../store/sqlite';
import type { QoS } from '../store/types';
import { Bridge, type BridgeHost } from './bridge';
import { BRIDGE_DEFAULTS, BridgeConfigError, validateBridge, validateBridges } from './config';
import { BridgeQueue, ensureBridgeTables, queuedByBridge } from './queue';
import type { BridgeConfig, BridgeStatus } from './types';

/** The part of the broker the bridges use. */
export type BridgedBroker = Pick<Broker, 'store' | 'publish' | 'hubEvent' | 'log' | 'limits'>;

export interface BridgeManagerOptions {
  broker: BridgedBroker;
  /** The `bridges` list from the hub config (validated here; BridgeConfigError names the bad field). */
  bridges?: unknown;
  /** Where relative TLS file paths resolve (the config file's directory); default the working directory. */
  baseDir?: string;
  logger?: Logger;
}

export class BridgeManager {
  /** Plug into the broker: `broker.addHooks(manager.hooks)`. */
  readonly hooks: BrokerHooks;
  private readonly bridges = new Map<string, Bridge>();
  private readonly host: BridgeHost;
  private readonly ownedDb: Database.Database | null = null;
  /** The bridge whose upstream message is being published on the hub right now (see publishLocal). */
  private origin: string | null = null;
  private started = false;
  private closed = false;

  constructor(private readonly opts: BridgeManagerOptions) {
    const broker = opts.broker;
    const store = broker.store;
    // The queue lives in hub.db, in the store's batches; an in-memory hub gets a private in-memory database.
    let db: Database.Database;
    if (store instanceof SqliteStore) db = store.db;
    else db = this.ownedDb = new Database(':memory:');
    store.transaction(() => ensureBridgeTables(db));
    this.host = {
      store, db, log: opts.logger ?? broker.log, maxPacketSize: broker.limits.maxPacketSize,
      publishLocal: (bridge, m) => this.publishLocal(bridge, m),
      event: (ev) => this.event(ev),
    };
    validateBridges(opts.bridges, 'bridges', opts.baseDir).forEach((cfg, i) => {
      this.bridges.set(cfg.name, new Bridge(cfg, this.host, `bridges[${i}]`));
    });
    // A failed end-of-turn commit: every bridge rereads its queue (their own callbacks see failures of commits they wait for).
    store.onCommitFailure((err) => { for (const b of this.bridges.values()) b.storeFailed(err); });
    this.hooks = {
      messagePublished: (_client, msg) => this.offer(msg),
    };
  }

  /** Connects every bridge; queued messages left by the last run go first. Warns about queues of bridges no longer configured. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const [name, n] of queuedByBridge(this.host.db)) {
      if (!this.bridges.has(name)) {
        this.event({ kind: 'bridge_down', severity: 'warning', objectType: 'bridge', objectId: name,
          message: `${n} queued messages belong to bridge ${name}, which is not configured; they are kept until a bridge of that name is added again (or removed with host-broker bridges remove ${name})` });
      }
    }
    for (const b of this.bridges.values()) b.start();
  }

  /** Offers a hub message to every bridge but the one it came from. Never throws (it runs in the publish path). */
  offer(msg: { topic: string; payload: Buffer; qos: QoS; retain: boolean }): void {
    if (this.closed) return;
    for (const b of this.bridges.values()) {
      if (b.name === this.origin) continue;
      try {
        b.offer(msg);
      } catch (err: any) {
        this.host.log.error({ bridge: b.name, err: err?.message }, 'bridge: queueing a message failed');
      }
    }
  }

  /** Publishes on the hub as the hub, tagged with the bridge it came from (broker.publish runs the hooks synchronously). */
  private publishLocal(bridge: string, m: { topic: string; payload: Buffer; qos: QoS; retain: boolean }): Promise<void> {
    this.origin = bridge;
    try {
      return this.opts.broker.publish(m);
    } finally {
      this.origin = null;
    }
  }

  private event(ev: HubEvent): void {
    try { this.opts.broker.hubEvent(ev); } catch (err: any) { this.host.log.error({ err: err?.message }, 'bridge: raising a hub event failed'); }
  }

  list(): BridgeStatus[] { return [...this.bridges.values()].map((b) => b.status()); }
  get(name: string): BridgeStatus | undefined { return this.bridges.get(name)?.status(); }
  has(name: string): boolean { return this.bridges.has(name); }

  /** Messages waiting per bridge, for metrics (the same shape as the routes' backlog). */
  backlogs(): { name: string; messages: number }[] {
    return [...this.bridges.values()].map((b) => ({ name: b.name, messages: b.backlog() }));
  }

  /**
   * Validates a bridge and starts it (messages a bridge of this name left queued go first).
   * BridgeConfigError (with `.field`) on a bad config or a name in use.
   */
  add(raw: unknown): BridgeStatus {
    if (this.closed) throw new Error('the bridge manager is closed');
    const cfg: BridgeConfig = validateBridge(raw, 'bridge');
    if (this.bridges.has(cfg.name)) throw new BridgeConfigError('bridge.name', `bridge ${JSON.stringify(cfg.name)} exists; remove it first`);
    const b = new Bridge(cfg, this.host, 'bridge');
    this.bridges.set(cfg.name, b);
    if (this.started) b.start();
    return b.status();
  }

  /**
   * Stops a bridge. Its queue is deleted unless keepQueue (then it waits for a
   * bridge of the same name). Also clears the queue of a bridge no longer configured.
   */
  async remove(name: string, opts: { keepQueue?: boolean } = {}): Promise<{ removed: boolean; discarded: number }> {
    const b = this.bridges.get(name);
    if (b) {
      this.bridges.delete(name);
      await b.stop();
    }
    const discarded = opts.keepQueue ? 0 : b ? b.purge() : new BridgeQueue(this.host.db, this.host.store, name, BRIDGE_DEFAULTS.queue, () => undefined).purge();
    return { removed: !!b || discarded > 0, discarded };
  }

  /** Stops every bridge (DISCONNECT); queues stay on disk for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.bridges.values()].map((b) => b.stop()));
    if (this.ownedDb?.open) this.ownedDb.close();
  }
}
