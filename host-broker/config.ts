// The hub's config file (JSON): listeners, control API, devices, default
// filters, limits, events, routes. Validation names the field and what was
// expected; unknown fields are errors, so a typo never turns into a default.
import * as fs from 'fs';
import * as path from 'path';
import type { Limits } from './broker';
import type { DeviceInput } from './security/device-registry';
import { assertValidDeviceId } from './security/device-registry';
import { parsePasswordHash } from './security/password';
import { parseTopicPolicy, TopicPolicy } from './security/topic-policy';
import { checkServerName } from './security/server-names';
import { validateRoutes } from './routes/config';
import type { RouteConfig } from './routes/types';
import { Obj, show, validators } from './validate';
import { LOG_FORMATS, LOG_SIZE_RE, type LogConfig } from './log';

export class ConfigError extends Error {
  constructor(readonly field: string, expected: string) {
    super(`${field}: ${expected}`);
    this.name = 'ConfigError';
  }
}

const { obj, onlyKeys, str, bool: optBool } = validators(ConfigError);
const optString = (o: Obj, key: string, field: string) => str(o, key, field, { optional: true });

export interface ListenerAddress { port: number; host?: string }

/**
 * The control listener (API + console). Authentication: `token` (a password you
 * choose) or `tokenHash` (its scrypt hash); with neither, the hub makes a token at
 * first start, prints it once and keeps its hash in the data dir. `auth: false`
 * turns it off, allowed only on a loopback address.
 */
export interface ControlConfig extends ListenerAddress { token?: string; tokenHash?: string; auth?: boolean }

export interface HubConfig {
  listeners: {
    tcp?: ListenerAddress;
    /**
     * keyFile/certFile/caFile: PEM files; when unset, the hub CA issues the server certificate,
     * for the listener's addresses and host name plus `names`.
     */
    tls?: ListenerAddress & { keyFile?: string; certFile?: string; caFile?: string; names?: string[] };
    ws?: ListenerAddress & { path?: string };
  };
  control?: ControlConfig;
  dataDir?: string;
  memory?: boolean;
  allowAnonymous?: boolean;
  devices: DeviceInput[];
  filters: { publish?: TopicPolicy; subscribe?: TopicPolicy };
  limits: Partial<Limits>;
  events: { enabled?: boolean; prefix?: string };
  routes: RouteConfig[];
  log: LogConfig;
  /** prometheus: GET /metrics on the control listener (default true); sysInterval: seconds between $SYS updates, 0 = none (default 10). */
  metrics: { prometheus?: boolean; sysInterval?: number };
  /** Failed-login throttle per remote address; maxFailures 0 turns it off. */
  authThrottle: { maxFailures?: number; windowMs?: number; blockMs?: number };
}

const LIMIT_KEYS: (keyof Limits)[] = ['maxPacketSize', 'maxConnections', 'maxInflightPerClient', 'maxQueuedPerClient', 'keepaliveMin', 'keepaliveMax', 'connectTimeoutMs'];
const LIMIT_RANGES: Record<keyof Limits, [number, number]> = {
  maxPacketSize: [64, 268_435_455], // the largest remaining length MQTT can express, plus headers
  maxConnections: [1, 1_000_000],
  maxInflightPerClient: [1, 65_535],
  maxQueuedPerClient: [0, 10_000_000],
  keepaliveMin: [0, 65_535],
  keepaliveMax: [0, 65_535],
  connectTimeoutMs: [100, 600_000],
};
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Runs a validator whose errors read "<field path>: <expected>" and re-raises them as ConfigError, keeping the most specific path. */
function nested<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (err: any) {
    const msg = String(err && err.message ? err.message : err);
    const i = msg.indexOf(': ');
    if (i > 0 && msg.slice(0, i).startsWith(field)) throw new ConfigError(msg.slice(0, i), msg.slice(i + 2));
    throw new ConfigError(field, msg);
  }
}

function intIn(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(field, `expected an integer ${min}..${max}, got ${show(v)}`);
  return v;
}

export function checkPort(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) {
    throw new ConfigError(field, `expected a port number 0..65535 (0 = any free port), got ${show(v)}`);
  }
  return v;
}

function address(v: unknown, field: string, extra: string[] = []): Obj & ListenerAddress {
  const o = obj(v, field);
  onlyKeys(o, field, ['port', 'host', ...extra]);
  checkPort(o.port, `${field}.port`);
  optString(o, 'host', field);
  return o as Obj & ListenerAddress;
}

/** Extra names for the TLS server certificate: host names or IP addresses. */
export function serverNames(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw new ConfigError(field, `expected a list of host names or IP addresses, got ${show(v)}`);
  return v.map((n, i) => {
    const why = typeof n === 'string' ? checkServerName(n) : `expected a host name or an IP address, got ${show(n)}`;
    if (why) throw new ConfigError(`${field}[${i}]`, why);
    return n as string;
  });
}

function controlConfig(v: unknown): ControlConfig {
  const c = address(v, 'control', ['token', 'tokenHash', 'auth']);
  const token = optString(c, 'token', 'control');
  const tokenHash = optString(c, 'tokenHash', 'control');
  const auth = optBool(c, 'auth', 'control');
  if (token !== undefined && token.length < 8) throw new ConfigError('control.token', 'expected at least 8 characters');
  if (tokenHash !== undefined) nested('control.tokenHash', () => parsePasswordHash(tokenHash));
  if (token !== undefined && tokenHash !== undefined) throw new ConfigError('control.token', 'give token or tokenHash, not both');
  if (auth === false && (token !== undefined || tokenHash !== undefined)) throw new ConfigError('control.auth', 'false turns authentication off: then give no token or tokenHash');
  return { port: c.port, ...(c.host !== undefined ? { host: c.host } : {}), ...(token !== undefined ? { token } : {}),
    ...(tokenHash !== undefined ? { tokenHash } : {}), ...(auth !== undefined ? { auth } : {}) };
}

/** Resolves relative file paths against the config file's directory. */
function resolveFrom(baseDir: string | undefined, p: string | undefined): string | undefined {
  if (p === undefined || baseDir === undefined) return p;
  return path.resolve(baseDir, p);
}

/** Validate a parsed config object. `baseDir` resolves relative paths (the config file's directory). */
export function validateConfig(raw: unknown, baseDir?: string): HubConfig {
  const o = obj(raw ?? {}, 'config');
  onlyKeys(o, 'config', ['listeners', 'control', 'dataDir', 'memory', 'allowAnonymous', 'devices', 'filters', 'limits', 'events', 'routes', 'log', 'authThrottle', 'metrics']);
  const cfg: HubConfig = { listeners: {}, devices: [], filters: {}, limits: {}, events: {}, routes: [], log: {}, authThrottle: {}, metrics: {} };

  if (o.listeners !== undefined) {
    const l = obj(o.listeners, 'listeners');
    onlyKeys(l, 'listeners', ['tcp', 'tls', 'ws']);
    if (l.tcp !== undefined) cfg.listeners.tcp = { ...address(l.tcp, 'listeners.tcp') };
    if (l.tls !== undefined) {
      const t = address(l.tls, 'listeners.tls', ['keyFile', 'certFile', 'caFile', 'names']);
      const files = ['keyFile', 'certFile', 'caFile'].map((k) => resolveFrom(baseDir, optString(t, k, 'listeners.tls')));
      if ((files[0] === undefined) !== (files[1] === undefined)) throw new ConfigError('listeners.tls', 'give keyFile and certFile together (or neither, to use the hub CA)');
      const names = t.names === undefined ? undefined : serverNames(t.names, 'listeners.tls.names');
      if (names && files[0]) throw new ConfigError('listeners.tls.names', 'names are for the certificate the hub CA issues; with keyFile/certFile your certificate names the hub');
      cfg.listeners.tls = { port: t.port, ...(t.host ? { host: t.host } : {}),
        ...(files[0] ? { keyFile: files[0] } : {}), ...(files[1] ? { certFile: files[1] } : {}), ...(files[2] ? { caFile: files[2] } : {}),
        ...(names ? { names } : {}) };
    }
    if (l.ws !== undefined) {
      const w = address(l.ws, 'listeners.ws', ['path']);
      const p = optString(w, 'path', 'listeners.ws');
      if (p !== undefined && p.charAt(0) !== '/') throw new ConfigError('listeners.ws.path', `expected a URL path starting with "/", got ${show(p)}`);
      cfg.listeners.ws = { port: w.port, ...(w.host ? { host: w.host } : {}), ...(p ? { path: p } : {}) };
    }
  }
  if (o.control !== undefined) cfg.control = controlConfig(o.control);
  const dataDir = optString(o, 'dataDir', 'config');
  if (dataDir !== undefined) cfg.dataDir = resolveFrom(baseDir, dataDir);
  cfg.memory = optBool(o, 'memory', 'config');
  cfg.allowAnonymous = optBool(o, 'allowAnonymous', 'config');

  if (o.devices !== undefined) {
    if (!Array.isArray(o.devices)) throw new ConfigError('devices', `expected an array of devices, got ${show(o.devices)}`);
    const seen = new Set<string>();
    cfg.devices = o.devices.map((d, i) => {
      const field = `devices[${i}]`;
      const x = obj(d, field);
      onlyKeys(x, field, ['id', 'name', 'enabled', 'username', 'password', 'passwordHash', 'certFingerprint', 'certCN', 'allowInsecure', 'publish', 'subscribe']);
      nested(`${field}.id`, () => assertValidDeviceId(x.id, `${field}.id`));
      if (seen.has(x.id as string)) throw new ConfigError(`${field}.id`, `device ${show(x.id)} appears twice`);
      seen.add(x.id as string);
      for (const k of ['name', 'username', 'password', 'passwordHash', 'certFingerprint', 'certCN']) optString(x, k, field);
      optBool(x, 'enabled', field);
      optBool(x, 'allowInsecure', field);
      if (x.password !== undefined && x.passwordHash !== undefined) throw new ConfigError(`${field}.password`, 'give password or passwordHash, not both');
      const out = { ...x } as unknown as DeviceInput;
      for (const k of ['publish', 'subscribe'] as const) {
        if (x[k] !== undefined) {
          out[k] = nested(`${field}.${k}`, () => parseTopicPolicy(x[k], `${field}.${k}`));
        }
      }
      return out;
    });
  }

  if (o.filters !== undefined) {
    const f = obj(o.filters, 'filters');
    onlyKeys(f, 'filters', ['publish', 'subscribe']);
    for (const k of ['publish', 'subscribe'] as const) {
      if (f[k] === undefined) continue;
      cfg.filters[k] = nested(`filters.${k}`, () => parseTopicPolicy(f[k], `filters.${k}`));
    }
  }

  if (o.limits !== undefined) {
    const l = obj(o.limits, 'limits');
    onlyKeys(l, 'limits', LIMIT_KEYS);
    for (const k of LIMIT_KEYS) {
      const v = l[k];
      if (v === undefined) continue;
      const [min, max] = LIMIT_RANGES[k];
      cfg.limits[k] = intIn(v, `limits.${k}`, min, max);
    }
    if (cfg.limits.keepaliveMin !== undefined && cfg.limits.keepaliveMax !== undefined && cfg.limits.keepaliveMin > cfg.limits.keepaliveMax) {
      throw new ConfigError('limits.keepaliveMin', `must not be above limits.keepaliveMax (${cfg.limits.keepaliveMax})`);
    }
  }

  if (o.events !== undefined) {
    const e = obj(o.events, 'events');
    onlyKeys(e, 'events', ['enabled', 'prefix']);
    const enabled = optBool(e, 'enabled', 'events');
    const prefix = optString(e, 'prefix', 'events');
    if (prefix !== undefined && (/[+#]/.test(prefix) || prefix.includes(String.fromCharCode(0)) || prefix.endsWith("/"))) {
      throw new ConfigError('events.prefix', `expected a topic prefix without wildcards or a trailing "/", got ${show(prefix)}`);
    }
    if (enabled !== undefined) cfg.events.enabled = enabled;
    if (prefix !== undefined) cfg.events.prefix = prefix;
  }

  if (o.routes !== undefined) {
    cfg.routes = nested('routes', () => validateRoutes(o.routes, 'routes'));
  }

  if (o.authThrottle !== undefined) {
    const a = obj(o.authThrottle, 'authThrottle');
    const keys = ['maxFailures', 'windowMs', 'blockMs'] as const;
    onlyKeys(a, 'authThrottle', [...keys]);
    for (const k of keys) {
      const v = a[k];
      if (v === undefined) continue;
      cfg.authThrottle[k] = intIn(v, `authThrottle.${k}`, 0, 86_400_000);
    }
  }

  if (o.metrics !== undefined) {
    const m = obj(o.metrics, 'metrics');
    onlyKeys(m, 'metrics', ['prometheus', 'sysInterval']);
    const prometheus = optBool(m, 'prometheus', 'metrics');
    if (prometheus !== undefined) cfg.metrics.prometheus = prometheus;
    if (m.sysInterval !== undefined) cfg.metrics.sysInterval = intIn(m.sysInterval, 'metrics.sysInterval', 0, 86_400);
  }

  if (o.log !== undefined) {
    const g = obj(o.log, 'log');
    onlyKeys(g, 'log', ['level', 'format', 'file', 'maxSize', 'maxFiles']);
    const level = optString(g, 'level', 'log');
    if (level !== undefined && !LOG_LEVELS.includes(level)) throw new ConfigError('log.level', `expected one of ${LOG_LEVELS.join(', ')}, got ${show(level)}`);
    if (level !== undefined) cfg.log.level = level;
    const format = optString(g, 'format', 'log');
    if (format !== undefined && !(LOG_FORMATS as readonly string[]).includes(format)) throw new ConfigError('log.format', `expected one of ${LOG_FORMATS.join(', ')}, got ${show(format)}`);
    if (format !== undefined) cfg.log.format = format as LogConfig['format'];
    const file = optString(g, 'file', 'log');
    if (file !== undefined) cfg.log.file = resolveFrom(baseDir, file);
    const maxSize = optString(g, 'maxSize', 'log');
    if (maxSize !== undefined && !LOG_SIZE_RE.test(maxSize)) throw new ConfigError('log.maxSize', `expected a size like "10M" (a whole number and K, M or G), got ${show(maxSize)}`);
    if (maxSize !== undefined) cfg.log.maxSize = maxSize;
    if (g.maxFiles !== undefined) cfg.log.maxFiles = intIn(g.maxFiles, 'log.maxFiles', 1, 1000);
    if ((maxSize !== undefined || g.maxFiles !== undefined) && file === undefined) throw new ConfigError(maxSize !== undefined ? 'log.maxSize' : 'log.maxFiles', 'needs log.file (rotation applies to a log file)');
    if (format === 'journal' && file !== undefined) throw new ConfigError('log.format', '"journal" is for stdout under systemd; a log.file gets "json" or "pretty"');
  }
  return cfg;
}

/** Read and validate a config file; errors start with the file name. */
export function loadConfigFile(file: string): HubConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err: any) {
    throw new Error(`${file}: cannot read the config file (${err.code ?? err.message})`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err: any) {
    throw new Error(`${file}: not valid JSON (${err.message})`, { cause: err });
  }
  try {
    return validateConfig(raw, path.dirname(path.resolve(file)));
  } catch (err: any) {
    throw new Error(`${file}: ${err.message}`, { cause: err });
  }
}
