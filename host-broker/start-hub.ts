// Assembles a running hub from a validated config: device registry and
// security, store, broker, TLS from the hub CA, routes, bridges, and the HIL control API.
// The CLI's `start` uses it; so can any tool that wants a whole hub in-process.
import * as fs from 'fs';
import * as path from 'path';
import { BridgeManager } from './bridges/manager';
import { Broker, DEFAULT_LIMITS, type Logger } from './broker';
import { ConfigError, type HubConfig } from './config';
import { HubWatch } from './console/watch';
import { consoleExtension } from './console/api';
import { ControlAuth, isLoopback, resolveControlSecret } from './control/auth';
import { Control, createControl } from './control/control';
import { ControlServer, startControlServer } from './control/http-server';
import { DATA_FILES, lockDataDir, openDataFile, prepareDataDir } from './data-dir';
import { fdLimitWarning } from './fd-limit';
import { HubMetrics } from './metrics/hub-metrics';
import { metricsExtension } from './metrics/http';
import { SysTopics } from './metrics/sys-topics';
import { RouteManager } from './routes/manager';
import { AuthFailureThrottle } from './security/auth-throttle';
import { DeviceRegistry } from './security/device-registry';
import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_SYS_INTERVAL } from './defaults';
import { DeviceSecurity } from './security/device-security';
import { filterCovers } from './security/filter-algebra';
import { serverCertNames } from './security/server-names';
import { HUB_TOPICS } from './security/topic-policy';
import { DEFAULT_EVENTS } from './events';
import type { ListenOptions } from './server';
import { MemoryStore } from './store/memory';
import { SqliteStore } from './store/sqlite';
import { HUB_VERSION } from './version';

export { DEFAULT_CONTROL_PORT, DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_SYS_INTERVAL } from './defaults';

export interface RunningHub {
  broker: Broker;
  registry: DeviceRegistry;
  security: DeviceSecurity;
  throttle: AuthFailureThrottle;
  control?: Control;
  controlServer?: ControlServer;
  /** The console's address (the control listener's root), when the control listener runs. */
  consoleUrl?: string;
  /** The control token, only when this start made it: print it once, only its hash is kept. */
  controlToken?: string;
  /** Where the control token's hash is kept, when it is the data dir's. */
  controlTokenFile?: string;
  routes: RouteManager;
  /** Prometheus metrics and what $SYS reads; other forwarders add their backlogs here (metrics.addBacklog). */
  metrics: HubMetrics;
  sysTopics?: SysTopics;
  /** Links to upstream brokers; backlogs() is what a metric reads. */
  bridges: BridgeManager;
  ports: { tcp?: number; tls?: number; ws?: number; control?: number };
  dataDir: string;
  close(): Promise<void>;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export async function startHub(cfg: HubConfig, opts: { logger?: Logger } = {}): Promise<RunningHub> {
  const log = opts.logger ?? silent;
  const dataDir = path.resolve(cfg.dataDir ?? DEFAULT_DATA_DIR);
  prepareDataDir(dataDir);
  // One hub per data dir: two would each think they own the sessions.
  const lock = lockDataDir(dataDir);
  const cleanups: (() => unknown)[] = [() => lock.release()];
  try {
    const registry = openDataFile(path.join(dataDir, DATA_FILES.devices), () => new DeviceRegistry({ dataDir }));
    cleanups.unshift(() => registry.close());
    for (const d of cfg.devices) registry.upsert(d);
    // The throttle reports through the broker, which exists only below.
    const sink: { broker?: Broker } = {};
    const throttle = new AuthFailureThrottle({ ...cfg.authThrottle, report: (ev) => sink.broker?.hubEvent(ev) });
    // Hub events are read only by devices whose policy names them, wherever the prefix puts them.
    const eventsPrefix = cfg.events.prefix ?? DEFAULT_EVENTS.prefix;
    const hubTopics = HUB_TOPICS.some((h) => filterCovers(h, `${eventsPrefix}/#`)) ? HUB_TOPICS : [...HUB_TOPICS, `${eventsPrefix}/#`];
    const security = new DeviceSecurity({ registry, allowAnonymous: cfg.allowAnonymous ?? false, defaults: cfg.filters, throttle, hubTopics });
    cleanups.push(() => security.stop());
    if (!security.allowAnonymous && registry.list().every((d) => !d.enabled)) {
      log.warn({ dataDir }, 'no enabled devices and anonymous access is off: every client will be refused (add one with `host-broker devices add`, or pass --allow-anonymous)');
    }

    const maxConnections = cfg.limits.maxConnections ?? DEFAULT_LIMITS.maxConnections;
    const fdWarning = fdLimitWarning(maxConnections);
    if (fdWarning) log.warn({ maxConnections }, fdWarning);

    const store = cfg.memory ? new MemoryStore() : openDataFile(path.join(dataDir, DATA_FILES.store), () => new SqliteStore({ dataDir, file: DATA_FILES.store }));
    const broker = new Broker({ store, hooks: [throttle, security], limits: cfg.limits, events: cfg.events, logger: log });
    security.attach(broker);
    sink.broker = broker;
    cleanups.unshift(() => broker.close());

    // Always there (an empty manager costs two tables), so routes can be added through the control API.
    const routesFile = path.join(dataDir, DATA_FILES.routes);
    const routes = openDataFile(routesFile, () => new RouteManager({
      routes: cfg.routes, queue: cfg.memory ? ':memory:' : routesFile,
      report: (ev) => broker.hubEvent(ev), eventsPrefix: broker.events.prefix,
    }));
    cleanups.unshift(() => routes.close());
    broker.addHooks(routes.hooks);
    routes.start();

    // Always there too (two tables in hub.db), so bridges can be added through the control API.
    // Its queue rows join the store's batches: closed before the broker closes the store.
    const bridges = new BridgeManager({ broker, bridges: cfg.bridges, logger: log });
    cleanups.unshift(() => bridges.close());
    broker.addHooks(bridges.hooks);
    bridges.start();

    const metrics = new HubMetrics(broker, { version: HUB_VERSION });
    cleanups.unshift(() => metrics.close());
    metrics.addBacklog({ kind: 'route', list: () => routes.list().map((r) => ({ name: r.name, messages: r.queueDepth, deadLetters: r.deadLetters })) });
    metrics.addBacklog({ kind: 'bridge', list: () => bridges.backlogs() });
    const prometheus = cfg.metrics.prometheus !== false && !!cfg.control;
    if (prometheus && store instanceof SqliteStore) store.onCommit = (s) => metrics.observeCommit(s);
    let sysTopics: SysTopics | undefined;
    const sysInterval = cfg.metrics.sysInterval ?? DEFAULT_SYS_INTERVAL;
    if (sysInterval > 0) {
      const sys = new SysTopics(broker, metrics, { interval: sysInterval, version: HUB_VERSION });
      sys.start();
      cleanups.unshift(() => sys.stop());
      sysTopics = sys;
    }

    const listen: ListenOptions = {};
    const l = cfg.listeners;
    if (l.tcp) listen.tcp = { port: l.tcp.port, host: l.tcp.host ?? DEFAULT_HOST };
    if (l.ws) listen.ws = { port: l.ws.port, host: l.ws.host ?? DEFAULT_HOST, ...(l.ws.path ? { path: l.ws.path } : {}) };
    if (l.tls) {
      // node-forge (certificates) is loaded only for a TLS listener.
      const { HubCA } = require('./security/ca') as typeof import('./security/ca');
      const host = l.tls.host ?? DEFAULT_HOST;
      let key: string; let cert: string; let ca: string;
      if (l.tls.keyFile && l.tls.certFile) {
        key = fs.readFileSync(l.tls.keyFile, 'utf8');
        cert = fs.readFileSync(l.tls.certFile, 'utf8');
        ca = l.tls.caFile ? fs.readFileSync(l.tls.caFile, 'utf8') : HubCA.loadOrCreate(dataDir).certPem;
      } else {
        const hubCa = HubCA.loadOrCreate(dataDir);
        const names = serverCertNames(host, l.tls.names ?? []);
        const server = hubCa.loadOrIssueServerCert(dataDir, names);
        log.info({ tlsNames: names, reissued: server.reissued }, server.reissued ? 'issued the TLS server certificate from the hub CA' : 'TLS server certificate from the hub CA');
        key = server.keyPem; cert = server.certPem;
        ca = l.tls.caFile ? fs.readFileSync(l.tls.caFile, 'utf8') : hubCa.certPem;
      }
      // Client certificates are asked for but not required at the TLS layer: the
      // security hooks decide (and raise a hub event) instead of a silent handshake failure.
      listen.tls = { port: l.tls.port, host, key, cert, ca, requestCert: true, rejectUnauthorized: false };
    }
    const ports: RunningHub['ports'] = await broker.listen(listen);

    let control: Control | undefined;
    let controlServer: ControlServer | undefined;
    let controlToken: string | undefined;
    let controlTokenFile: string | undefined;
    if (cfg.control) {
      const host = cfg.control.host ?? DEFAULT_HOST;
      let auth: ControlAuth | undefined;
      if (cfg.control.auth === false) {
        // It can disconnect clients, disable devices and add routes that send messages anywhere.
        if (!isLoopback(host)) throw new ConfigError('control.auth', `false is allowed only on a loopback address; the control API on ${host} needs a token (drop auth: false, or bind it to 127.0.0.1)`);
      } else {
        const secret = resolveControlSecret(dataDir, cfg.control);
        controlToken = secret.newToken;
        controlTokenFile = secret.file;
        auth = new ControlAuth({ hash: secret.hash, file: secret.file, report: (ev) => broker.hubEvent(ev) });
      }
      control = createControl(broker, { routes, bridges });
      const watch = new HubWatch(broker);
      // /metrics sits behind the same token as the rest: a Prometheus scrape sends it as a bearer token.
      controlServer = await startControlServer(control, { port: cfg.control.port, host, security, auth, dataDir,
        extensions: [consoleExtension({ control, watch, security, dataDir }), ...(prometheus ? [metricsExtension(metrics)] : [])] });
      ports.control = controlServer.port;
      const c = control; const s = controlServer;
      cleanups.unshift(() => c.close());
      cleanups.unshift(() => s.close());
    }

    let closing: Promise<void> | undefined;
    return {
      broker, registry, security, throttle, control, controlServer, routes, bridges, metrics, sysTopics, ports, dataDir,
      ...(controlServer ? { consoleUrl: `${controlServer.url}/` } : {}),
      ...(controlToken ? { controlToken } : {}), ...(controlTokenFile ? { controlTokenFile } : {}),
      close() {
        if (!closing) closing = runAll(cleanups);
        return closing;
      },
    };
  } catch (err) {
    await runAll(cleanups);
    throw err;
  }
}

async function runAll(fns: (() => unknown)[]): Promise<void> {
  for (const fn of fns) {
    try { await fn(); } catch {}
  }
}
