// Validation of bridge config (from the hub's config file, the CLI or the control
// API). Every error names the field and says what was expected; unknown fields
// are errors, so a typo never silently turns into a default.
import * as os from 'os';
import * as path from 'path';
import { checkFilter } from '../../firmware/topic';
import type { QoS } from '../store/types';
import { Obj, show, validators } from '../validate';
import { remoteFilter } from './mapping';
import type { BridgeConfig, BridgeTls, Direction, TopicMapping } from './types';

export class BridgeConfigError extends Error {
  constructor(readonly field: string, readonly expected: string) {
    super(`${field}: ${expected}`);
    this.name = 'BridgeConfigError';
  }
}

export const BRIDGE_DEFAULTS = {
  keepalive: 60,
  cleanSession: false,
  // Mosquitto's max_inflight_messages: past it Mosquitto drops incoming QoS 1/2 while still acknowledging them.
  maxInflight: 20,
  // Days of readings from a workshop's boards; an SD card holds far more.
  queue: { maxBytes: 256 * 1024 * 1024, maxMessages: 10_000_000 },
  reconnect: { initialMs: 1000, maxMs: 60_000 },
  connectTimeoutMs: 10_000,
  pingTimeoutMs: 10_000,
} as const;

const SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];
const DIRECTIONS: Direction[] = ['out', 'in', 'both'];
const { obj, onlyKeys, str, bool, int } = validators(BridgeConfigError);


/** A client id the bridge keeps across restarts unless told otherwise: hub-<host name>-<bridge name>. */
export function defaultClientId(name: string): string {
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-') || 'hub';
  return `hub-${host}-${name}`;
}

function checkUrl(v: string, field: string): URL {
  let u: URL;
  try { u = new URL(v); } catch { throw new BridgeConfigError(field, `expected a URL like mqtts://broker.example:8883, got ${show(v)}`); }
  if (!SCHEMES.includes(u.protocol)) throw new BridgeConfigError(field, `expected an mqtt://, mqtts://, ws:// or wss:// URL, got ${show(v)}`);
  if (!u.hostname) throw new BridgeConfigError(field, `expected a host name in the URL, got ${show(v)}`);
  if (u.port === '0') throw new BridgeConfigError(field, `expected a port from 1 to 65535, got 0`);
  if (u.username || u.password) throw new BridgeConfigError(field, 'the URL holds a user name or password: give them as username and password (they are then kept out of listings)');
  const ws = u.protocol === 'ws:' || u.protocol === 'wss:';
  if (!ws && ((u.pathname !== '' && u.pathname !== '/') || u.search || u.hash)) {
    throw new BridgeConfigError(field, `an ${u.protocol}// URL has no path or query, got ${show(v)}`);
  }
  if (u.hash) throw new BridgeConfigError(field, `expected no #fragment, got ${show(v)}`);
  return u;
}

/** A topic prefix: any string without wildcards or U+0000 ('' for none). */
function prefix(o: Obj, key: string, field: string): string {
  const p = str(o, key, field, { optional: true, allowEmpty: true }) ?? '';
  if (/[+#]/.test(p) || p.includes('\u0000')) throw new BridgeConfigError(`${field}.${key}`, `expected a topic prefix without wildcards, got ${show(p)}`);
  return p;
}

function mapping(v: unknown, field: string): TopicMapping {
  const o = obj(v, field);
  onlyKeys(o, field, ['direction', 'filter', 'localPrefix', 'remotePrefix', 'qos']);
  const direction = o.direction;
  if (typeof direction !== 'string' || !DIRECTIONS.includes(direction as Direction)) {
    throw new BridgeConfigError(`${field}.direction`, `expected 'out', 'in' or 'both', got ${show(direction)}`);
  }
  const filter = str(o, 'filter', field)!;
  const bad = checkFilter(filter);
  if (bad) throw new BridgeConfigError(`${field}.filter`, `expected an MQTT topic filter: ${bad}`);
  const m: TopicMapping = {
    direction: direction as Direction, filter,
    localPrefix: prefix(o, 'localPrefix', field), remotePrefix: prefix(o, 'remotePrefix', field),
    qos: int(o, 'qos', field, 0, 2, 1) as QoS,
  };
  if (!filter.startsWith(m.localPrefix)) {
    throw new BridgeConfigError(`${field}.filter`, `expected a filter starting with localPrefix ${show(m.localPrefix)}, got ${show(filter)}`);
  }
  const remote = remoteFilter(m);
  const badRemote = checkFilter(remote);
  if (badRemote) throw new BridgeConfigError(`${field}.remotePrefix`, `the upstream side of this mapping, ${show(remote)}, is not a valid filter: ${badRemote}`);
  return m;
}

function tlsOptions(v: unknown, field: string, baseDir: string | undefined): BridgeTls {
  const o = obj(v ?? {}, field);
  onlyKeys(o, field, ['caFile', 'certFile', 'keyFile', 'servername', 'verifyServer']);
  const file = (k: string) => {
    const p = str(o, k, field, { optional: true });
    return p === undefined ? undefined : path.resolve(baseDir ?? '.', p);
  };
  const t: BridgeTls = { verifyServer: bool(o, 'verifyServer', field) ?? true };
  const caFile = file('caFile'); const certFile = file('certFile'); const keyFile = file('keyFile');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new BridgeConfigError(`${field}.${certFile ? 'keyFile' : 'certFile'}`, 'give certFile and keyFile together (the device certificate and its key)');
  if (caFile) t.caFile = caFile;
  if (certFile) { t.certFile = certFile; t.keyFile = keyFile; }
  const servername = str(o, 'servername', field, { optional: true });
  if (servername !== undefined) t.servername = servername;
  return t;
}

/**
 * Validates one bridge; `field` is where it sits in the config (for messages),
 * e.g. 'bridges[0]'. Relative TLS file paths resolve against `baseDir` (the
 * config file's directory), else the working directory.
 */
export function validateBridge(raw: unknown, field = 'bridge', baseDir?: string): BridgeConfig {
  const o = obj(raw, field);
  onlyKeys(o, field, ['name', 'url', 'clientId', 'username', 'password', 'tls', 'keepalive', 'cleanSession', 'mappings',
    'maxInflight', 'queue', 'reconnect', 'connectTimeoutMs', 'pingTimeoutMs']);
  const name = str(o, 'name', field)!;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new BridgeConfigError(`${field}.name`, `expected 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), got ${show(name)}`);
  }
  const url = checkUrl(str(o, 'url', field)!, `${field}.url`);
  const secure = url.protocol === 'mqtts:' || url.protocol === 'wss:';
  if (o.tls !== undefined && !secure) throw new BridgeConfigError(`${field}.tls`, `only for mqtts:// or wss:// URLs; ${url.protocol}// is plain`);

  const clientId = str(o, 'clientId', field, { optional: true }) ?? defaultClientId(name);
  if (clientId.includes('\u0000') || Buffer.byteLength(clientId) > 65535) throw new BridgeConfigError(`${field}.clientId`, 'expected at most 65535 bytes of UTF-8 without U+0000');
  const username = str(o, 'username', field, { optional: true, allowEmpty: true });
  const password = str(o, 'password', field, { optional: true, allowEmpty: true });
  // [MQTT-3.1.2-22]: no password without a user name.
  if (password !== undefined && username === undefined) throw new BridgeConfigError(`${field}.password`, 'MQTT 3.1.1 sends a password only with a user name: give username too');

  if (!Array.isArray(o.mappings) || o.mappings.length === 0) {
    throw new BridgeConfigError(`${field}.mappings`, `expected a non-empty list of topic mappings ({direction, filter, localPrefix?, remotePrefix?, qos?}), got ${show(o.mappings)}`);
  }
  const mappings = o.mappings.map((m, i) => mapping(m, `${field}.mappings[${i}]`));

  const d = BRIDGE_DEFAULTS;
  const keepalive = int(o, 'keepalive', field, 0, 65535, d.keepalive);
  let queue: BridgeConfig['queue'] = { ...d.queue };
  if (o.queue !== undefined) {
    const q = obj(o.queue, `${field}.queue`);
    onlyKeys(q, `${field}.queue`, ['maxBytes', 'maxMessages']);
    queue = { maxBytes: int(q, 'maxBytes', `${field}.queue`, 1024, 2 ** 40, d.queue.maxBytes), maxMessages: int(q, 'maxMessages', `${field}.queue`, 1, 1_000_000_000, d.queue.maxMessages) };
  }
  let reconnect: BridgeConfig['reconnect'] = { ...d.reconnect };
  if (o.reconnect !== undefined) {
    const r = obj(o.reconnect, `${field}.reconnect`);
    onlyKeys(r, `${field}.reconnect`, ['initialMs', 'maxMs']);
    reconnect = { initialMs: int(r, 'initialMs', `${field}.reconnect`, 10, 3_600_000, d.reconnect.initialMs), maxMs: int(r, 'maxMs', `${field}.reconnect`, 10, 3_600_000, d.reconnect.maxMs) };
    if (reconnect.maxMs < reconnect.initialMs) throw new BridgeConfigError(`${field}.reconnect.maxMs`, `expected at least initialMs (${reconnect.initialMs}), got ${reconnect.maxMs}`);
  }
  const cfg: BridgeConfig = {
    name, url: url.toString(), clientId,
    keepalive,
    cleanSession: bool(o, 'cleanSession', field) ?? d.cleanSession,
    mappings,
    // Packet ids are 1..65535 and one is kept for SUBSCRIBE.
    maxInflight: int(o, 'maxInflight', field, 1, 65000, d.maxInflight),
    queue, reconnect,
    connectTimeoutMs: int(o, 'connectTimeoutMs', field, 100, 600_000, d.connectTimeoutMs),
    // Never longer than the keepalive itself: a link silent for that long is dead.
    pingTimeoutMs: int(o, 'pingTimeoutMs', field, 100, 600_000, keepalive > 0 ? Math.min(d.pingTimeoutMs, keepalive * 1000) : d.pingTimeoutMs),
  };
  if (username !== undefined) cfg.username = username;
  if (password !== undefined) cfg.password = password;
  if (secure) cfg.tls = tlsOptions(o.tls, `${field}.tls`, baseDir);
  return cfg;
}

/** Validates the `bridges` list of the hub config; names must be unique. */
export function validateBridges(raw: unknown, field = 'bridges', baseDir?: string): BridgeConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new BridgeConfigError(field, `expected a list of bridges, got ${show(raw)}`);
  const seen = new Set<string>();
  return raw.map((b, i) => {
    const bridge = validateBridge(b, `${field}[${i}]`, baseDir);
    if (seen.has(bridge.name)) throw new BridgeConfigError(`${field}[${i}].name`, `expected a unique name; ${show(bridge.name)} is used twice`);
    seen.add(bridge.name);
    return bridge;
  });
}

/** A copy safe to show in listings and logs: the password as '***'. */
export function redactBridge(cfg: BridgeConfig): BridgeConfig {
  const copy: BridgeConfig = JSON.parse(JSON.stringify(cfg));
  if (copy.password !== undefined) copy.password = '***';
  return copy;
}
