// The hub's config file (JSON): listeners, control API, devices, default
// filters, limits, events, routes, bridges, log, login throttle. One schema describes
// every field; it checks the file (errors name the field and what was expected;
// unknown fields are errors, so a typo never turns into a default) and writes
// the reference, docs/config.md (`npm run docs:config`). A new field is one
// entry in HUB_CONFIG_SCHEMA below.
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_LIMITS, type Limits } from './broker';
import { validate, type Fail, type Schema } from './config-schema';
import { DEFAULT_CONTROL_PORT, DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_SYS_INTERVAL, DEFAULT_TCP_PORT } from './defaults';
import { DEFAULT_EVENTS } from './events';
import { DEFAULT_AUTH_THROTTLE } from './security/auth-throttle';
import type { DeviceInput } from './security/device-registry';
import { deviceIdProblem, normalizeFingerprint, usernameProblem } from './security/device-registry';
import { parsePasswordHash } from './security/password';
import { checkServerName } from './security/server-names';
import { POLICY_SCHEMA, type TopicPolicy } from './security/topic-policy';
import { validateRoutes } from './routes/config';
import type { RouteConfig } from './routes/types';
import { validateBridges } from './bridges/config';
import type { BridgeConfig } from './bridges/types';
import { Obj, show } from './validate';
import { LOG_DEFAULTS, LOG_FORMATS, LOG_SIZE_RE, type LogConfig } from './log';

export class ConfigError extends Error {
  constructor(readonly field: string, expected: string) {
    super(`${field}: ${expected}`);
    this.name = 'ConfigError';
  }
}

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
  /** Links to upstream brokers, store-and-forward (host-broker/bridges/README.md). */
  bridges: BridgeConfig[];
  log: LogConfig;
  /** prometheus: GET /metrics on the control listener (default true); sysInterval: seconds between $SYS updates, 0 = none (default 10). */
  metrics: { prometheus?: boolean; sysInterval?: number };
  /** Failed-login throttle per remote address; maxFailures 0 turns it off. */
  authThrottle: { maxFailures?: number; windowMs?: number; blockMs?: number };
}

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

/** The message a validator that throws "<field>: <why>" gives, as a schema check's answer. */
function problemOf(fn: () => unknown): string | null {
  try { fn(); return null; } catch (err: any) { return String(err.message).replace(/^[\w.[\]]+: /, ''); }
}

const PORT_EXPECTED = 'a port number 0..65535 (0 = any free port)';
/** A well-formed scrypt hash (of no password anyone uses), for examples. */
const EXAMPLE_HASH = 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=';

export function checkPort(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw new ConfigError(field, `expected ${PORT_EXPECTED}, got ${show(v)}`);
  return v;
}

/** Extra names for the TLS server certificate: host names or IP addresses. */
export function serverNames(v: unknown, field: string): string[] {
  return validate(TLS_NAMES, v, field, { Err: ConfigError }) as string[];
}

const port = (doc: string, example: number, flag?: string, dflt?: string): Schema =>
  ({ kind: 'int', min: 0, max: 65535, expected: PORT_EXPECTED, doc, example, ...(flag ? { flag } : {}), ...(dflt ? { default: dflt } : {}) });
const host = (what: string, flag: string, note = ''): Schema => ({
  kind: 'string', type: 'a host name or IP address', check: checkServerName, default: DEFAULT_HOST, example: '0.0.0.0', flag,
  doc: `Address the ${what} binds to: \`0.0.0.0\` (or \`::\`) for every interface.${note}`,
});
interface AddressOptions { what: string; doc: string; example: number; portFlag: string; hostFlag?: string; hostNote?: string; portDefault?: string; extra?: Record<string, Schema>; check?: (v: Obj, field: string, fail: Fail) => void }
const address = (o: AddressOptions): Schema => ({
  kind: 'object', doc: o.doc, required: ['port'], ...(o.check ? { check: o.check } : {}),
  fields: { port: port(`Port of the ${o.what}.`, o.example, o.portFlag, o.portDefault), host: host(o.what, o.hostFlag ?? '--host', o.hostNote), ...o.extra },
});
const pemFile = (doc: string, example: string, dflt: string): Schema => ({ kind: 'string', path: true, type: 'a path to a PEM file', doc, example, default: dflt });

const TLS_NAMES: Schema = {
  kind: 'list', expected: 'a list of host names or IP addresses', flag: '--tls-name',
  doc: 'Extra names and addresses devices reach the hub by, for the server certificate the hub CA issues (which always names localhost, the host name and the listener\'s addresses: docs/tls.md).',
  example: ['pi.local'], default: 'none',
  of: { kind: 'string', type: 'a host name or an IP address', check: checkServerName, doc: 'a host name or IP address' },
};

/** One device of the registry (config `devices`, `POST /devices`). */
export const DEVICE_SCHEMA: Schema = {
  kind: 'object', required: ['id'],
  doc: 'A device the hub knows: how it logs in and what it may do. Devices here are added to the registry (`<dataDir>/devices.db`) at every start, or updated with the fields given; devices added with `host-broker devices add` live there too.',
  check: (d, field, fail) => {
    if (d.password !== undefined && d.passwordHash !== undefined) fail(`${field}.password`, 'give password or passwordHash, not both');
  },
  fields: {
    id: { kind: 'string', check: deviceIdProblem, type: 'a device id', doc: 'Device id: 1-128 of `A-Z a-z 0-9 . _ -`. Also the CN of its certificate, and a client id no other device may use.', example: 'esp32-kitchen' },
    name: { kind: 'string', doc: 'A human name.', default: '""', example: 'Kitchen sensor' },
    enabled: { kind: 'bool', doc: 'A disabled device is refused (CONNACK 5, `device_disabled`).', default: 'true', example: true },
    username: { kind: 'string', check: usernameProblem, doc: 'MQTT user name for password login.', default: 'none', example: 'kitchen' },
    password: { kind: 'string', doc: 'Password, stored as a scrypt hash. Prefer `passwordHash` in a file.', default: 'none', example: 'change me' },
    passwordHash: { kind: 'string', check: (h) => problemOf(() => parsePasswordHash(h)), type: 'a scrypt hash', doc: 'An already hashed password, `scrypt$N$r$p$salt$key` (salt and key in base64), so the file holds no password.', default: 'none', example: EXAMPLE_HASH },
    certFingerprint: { kind: 'string', check: (f) => problemOf(() => normalizeFingerprint(f)), type: 'a SHA-256 fingerprint', doc: 'The one client certificate accepted (SHA-256, 64 hex digits, colons optional); `devices cert` pins it.', default: 'any hub-CA certificate whose CN is `certCN`', example: 'AB:'.repeat(31) + 'AB' },
    certCN: { kind: 'string', doc: 'Subject CN its client certificate carries.', default: 'the id', example: 'esp32-kitchen' },
    allowInsecure: { kind: 'bool', doc: '`false`: accepted only over TLS with its client certificate (`tls_required` otherwise).', default: 'true', example: false },
    publish: { ...POLICY_SCHEMA, doc: 'What it may publish to. A refused PUBLISH is acknowledged and dropped (`unauthorized_topic`).', default: '`filters.publish`' },
    subscribe: { ...POLICY_SCHEMA, doc: 'What it may subscribe to and receive: see docs/security.md. The hub\'s topics, `$hub/...` (hub events) and `$SYS/...` (counters), only through an `accept` filter that names them.', default: '`filters.subscribe`' },
  },
};

const LIMIT_DOCS: Record<keyof Limits, [string, number, number, number]> = {
  // Up to the largest remaining length MQTT can express, plus headers.
  maxPacketSize: ['Largest packet a client may send, fixed header included, in bytes; checked before it is read.', 64, 268_435_455, 65536],
  maxConnections: ['Open sockets, those still without CONNECT included.', 1, 1_000_000, 200],
  maxInflightPerClient: ['Outbound QoS 1/2 messages awaiting acknowledgement, per client.', 1, 65_535, 20],
  maxQueuedPerClient: ['Outbound QoS 1/2 messages waiting behind the window or for an offline client; beyond it they are dropped (`offline_queue_overflow`) until the queue drains to half. A loose bound: `maxQueuedBytesPerClient` is the one that counts.', 0, 10_000_000, 100_000],
  maxQueuedBytesPerClient: ['What one client\'s queue may take on disk, in bytes (topic + payload + 64 + 2 x client id per message); beyond it new QoS 1/2 messages are dropped (`offline_queue_overflow`) until it drains to half. Only its head (256 messages / 256 KiB) is held in memory.', 0, 2 ** 40, 16 * 1024 * 1024],
  keepaliveMin: ['Keepalive floor in seconds; a client asking for less (or for none) gets this.', 0, 65_535, 10],
  keepaliveMax: ['Keepalive ceiling in seconds.', 0, 65_535, 600],
  connectTimeoutMs: ['Time from socket open to CONNECT before the socket is closed (`connect_timeout`).', 100, 600_000, 5000],
};

const THROTTLE_DOCS: Record<keyof typeof DEFAULT_AUTH_THROTTLE, [string, number]> = {
  maxFailures: ['Failed logins from one address within `windowMs` that block it; 0 turns the throttle off.', 5],
  windowMs: ['The window failures are counted in.', 300_000],
  blockMs: ['How long a blocked address has its sockets refused.', 600_000],
};

/** The whole config file. */
export const HUB_CONFIG_SCHEMA: Schema = {
  kind: 'object',
  doc: 'The config file of `host-broker start --config <file>`.',
  fields: {
    listeners: {
      kind: 'object',
      doc: `MQTT listeners. Without a config file the hub listens on TCP ${DEFAULT_TCP_PORT}; a config file must name at least one listener (or flags add one).`,
      fields: {
        tcp: address({ what: 'TCP listener', doc: 'MQTT over TCP.', example: DEFAULT_TCP_PORT, portFlag: '--port, --no-tcp', portDefault: `${DEFAULT_TCP_PORT} without a config file` }),
        tls: address({
          what: 'TLS listener', example: 8883, portFlag: '--tls-port',
          doc: 'MQTT over TLS, with mutual TLS for devices that log in by certificate. Without keyFile/certFile the hub CA in the data dir issues the server certificate (docs/tls.md).',
          extra: {
            keyFile: pemFile('Your own server key (with `certFile`): docs/tls.md.', 'tls/hub.key.pem', 'the hub CA issues one'),
            certFile: pemFile('Your own server certificate (chain after it), with `keyFile`.', 'tls/hub.cert.pem', 'the hub CA issues one'),
            caFile: pemFile('CA whose client certificates are verified.', 'tls/clients-ca.pem', 'the hub CA'),
            names: TLS_NAMES,
          },
          check: (t, field, fail) => {
            if ((t.keyFile === undefined) !== (t.certFile === undefined)) fail(field, 'give keyFile and certFile together (or neither, to use the hub CA)');
            if (t.names !== undefined && t.keyFile !== undefined) fail(`${field}.names`, 'names are for the certificate the hub CA issues; with keyFile/certFile your certificate names the hub');
          },
        }),
        ws: address({
          what: 'WebSocket listener', doc: 'MQTT over WebSocket.', example: 8080, portFlag: '--ws-port',
          extra: { path: { kind: 'string', check: (p) => (p.charAt(0) === '/' ? null : `expected a URL path starting with "/", got ${show(p)}`), type: 'a URL path', doc: 'Accept upgrades only on this path.', default: 'any path', example: '/mqtt', flag: '--ws-path' } },
        }),
      },
    },
    control: address({
      what: 'control API', example: DEFAULT_CONTROL_PORT, portFlag: '--control-port', hostFlag: '--control-host', portDefault: 'off',
      hostNote: ' Off loopback it needs its token (plain HTTP: use an SSH tunnel or a TLS proxy on an untrusted network).',
      doc: `The HIL control HTTP API, its \`/metrics\` and the console (host-broker/control/README.md); \`host-broker routes\` and \`devices\` commands use it. \`--control-port\` alone means ${DEFAULT_CONTROL_PORT}.`,
      extra: {
        token: { kind: 'string', check: (t) => (t.length < 8 ? 'expected at least 8 characters' : null), type: 'a string of 8 or more characters', doc: 'The token clients of the control API and the console log in with. Prefer `tokenHash` in a file.', default: 'made at first start, printed once, its hash kept in the data dir', example: 'a long random string' },
        tokenHash: { kind: 'string', check: (h) => problemOf(() => parsePasswordHash(h)), type: 'a scrypt hash', doc: 'The token\'s scrypt hash (`scrypt$N$r$p$salt$key`), so the file holds no token.', default: 'none', example: EXAMPLE_HASH },
        auth: { kind: 'bool', doc: '`false` turns authentication off; allowed only on a loopback address.', default: 'true', example: false, flag: '--no-control-auth' },
      },
      check: (c, field, fail) => {
        if (c.token !== undefined && c.tokenHash !== undefined) fail(`${field}.token`, 'give token or tokenHash, not both');
        if (c.auth === false && (c.token !== undefined || c.tokenHash !== undefined)) fail(`${field}.auth`, 'false turns authentication off: then give no token or tokenHash');
      },
    }),
    dataDir: { kind: 'string', path: true, type: 'a path', doc: 'SQLite store, device registry, hub CA, route queues. Relative to the config file.', default: `./${DEFAULT_DATA_DIR} (relative to the working directory)`, example: 'data', flag: '--data-dir' },
    memory: { kind: 'bool', doc: 'Sessions, queued and retained messages in memory only (lost on exit); devices and the CA stay in the data dir.', default: 'false', example: true, flag: '--memory' },
    allowAnonymous: { kind: 'bool', doc: 'Let clients without credentials in, as no device (under `filters`). A user name that names no device counts as none; a registered one still needs its password.', default: 'false', example: true, flag: '--allow-anonymous' },
    devices: {
      kind: 'list', of: DEVICE_SCHEMA, expected: 'an array of devices', default: '[]', doc: 'Devices to register at start.',
      check: (list, field, fail) => {
        const seen = new Set<string>();
        list.forEach((d, i) => {
          const id = (d as Obj).id as string;
          if (seen.has(id)) fail(`${field}[${i}].id`, `device ${show(id)} appears twice`);
          seen.add(id);
        });
      },
    },
    filters: {
      kind: 'object', doc: 'Policies for anonymous clients and for devices without a policy of their own.',
      fields: {
        publish: { ...POLICY_SCHEMA, doc: 'Default publish policy.', default: 'none: any topic but `$...`' },
        subscribe: { ...POLICY_SCHEMA, doc: 'Default subscribe policy.', default: 'none: any filter but the hub\'s `$hub/...` and `$SYS/...`' },
      },
    },
    limits: {
      kind: 'object', doc: 'Bounds that keep a hub alive under load and abuse (docs/security.md sizes them).',
      check: (l, field, fail) => {
        if (l.keepaliveMin !== undefined && l.keepaliveMax !== undefined && (l.keepaliveMin as number) > (l.keepaliveMax as number)) {
          fail(`${field}.keepaliveMin`, `must not be above limits.keepaliveMax (${l.keepaliveMax})`);
        }
      },
      fields: Object.fromEntries(Object.entries(LIMIT_DOCS).map(([k, [doc, min, max, example]]) =>
        [k, { kind: 'int', min, max, doc, example, default: String(DEFAULT_LIMITS[k as keyof Limits]) } as Schema])),
    },
    events: {
      kind: 'object', doc: 'Hub events: JSON on `<prefix>/<severity>/<object-type>/<object-id>`, read by devices whose policy names them.',
      fields: {
        enabled: { kind: 'bool', doc: 'Publish hub events over MQTT (they are logged either way).', default: String(DEFAULT_EVENTS.enabled), example: false },
        prefix: {
          kind: 'string', type: 'a topic prefix', doc: 'Topic prefix of hub events.', default: `\`${DEFAULT_EVENTS.prefix}\``, example: '$hub/events',
          check: (p) => (/[+#]/.test(p) || p.includes('\u0000') || p.endsWith('/') ? `expected a topic prefix without wildcards or a trailing "/", got ${show(p)}` : null),
        },
      },
    },
    routes: {
      kind: 'custom', type: 'a list of routes', default: '[]',
      doc: 'Routes forwarding matching messages to S3, SQL or REST targets; each route\'s fields: host-broker/routes/README.md.',
      example: [{ name: 'api', type: 'rest', filter: 'sensors/#', uri: 'http://127.0.0.1:9000/in' }],
      parse: (v, field) => nested(field, () => validateRoutes(v, field)),
    },
    bridges: {
      kind: 'custom', type: 'a list of bridges', default: '[]',
      doc: 'Links to upstream brokers (mqtt, mqtts, ws, wss) with store-and-forward; each bridge\'s fields: host-broker/bridges/README.md, examples in docs/bridges.md. `host-broker bridges` manages them on a running hub.',
      example: [{ name: 'cloud', url: 'mqtts://broker.example.com:8883', clientId: 'hub-greenhouse', username: 'hub', password: 'secret', mappings: [{ direction: 'out', filter: 'sensors/#', remotePrefix: 'greenhouse/' }] }],
      // Relative TLS file paths resolve against the config file's directory.
      parse: (v, field, baseDir) => nested(field, () => validateBridges(v, field, baseDir)),
    },
    log: {
      kind: 'object', doc: 'Logging.',
      check: (g, field, fail) => {
        if ((g.maxSize !== undefined || g.maxFiles !== undefined) && g.file === undefined) fail(g.maxSize !== undefined ? `${field}.maxSize` : `${field}.maxFiles`, 'needs log.file (rotation applies to a log file)');
        if (g.format === 'journal' && g.file !== undefined) fail(`${field}.format`, '"journal" is for stdout under systemd; a log.file gets "json" or "pretty"');
      },
      fields: {
        level: { kind: 'enum', values: LOG_LEVELS, doc: 'Log level.', default: 'info', example: 'debug', flag: '--log-level' },
        format: { kind: 'enum', values: LOG_FORMATS, doc: '`auto`: journal lines under systemd, readable lines on a terminal, JSON otherwise (a file gets JSON).', default: 'auto', example: 'json', flag: '--log-format' },
        file: { kind: 'string', path: true, type: 'a path', doc: 'Write logs to this file instead of stdout, rotated by size.', default: 'stdout', example: 'logs/hub.log', flag: '--log-file' },
        maxSize: { kind: 'string', check: (v) => (LOG_SIZE_RE.test(v) ? null : `expected a size like "10M" (a whole number and K, M or G), got ${show(v)}`), type: 'a size like "10M"', doc: 'Rotate the file when it passes this size (with `file`).', default: LOG_DEFAULTS.maxSize, example: '50M' },
        maxFiles: { kind: 'int', min: 1, max: 1000, doc: 'Rotated files kept (with `file`).', default: String(LOG_DEFAULTS.maxFiles), example: 10 },
      },
    },
    metrics: {
      kind: 'object', doc: 'Counters of the hub: Prometheus `/metrics` on the control listener and `$SYS/...` topics (host-broker/metrics/README.md).',
      fields: {
        prometheus: { kind: 'bool', doc: 'Serve `GET /metrics` on the control listener (when there is one).', default: 'true', example: false },
        sysInterval: { kind: 'int', min: 0, max: 86_400, doc: 'Seconds between `$SYS/...` updates; 0 = none. Devices read `$SYS` only when their policy names it.', default: String(DEFAULT_SYS_INTERVAL), example: 30 },
      },
    },
    authThrottle: {
      kind: 'object', doc: 'Failed-login throttle per remote address: it slows password guessing.',
      fields: Object.fromEntries(Object.entries(THROTTLE_DOCS).map(([k, [doc, example]]) =>
        [k, { kind: 'int', min: 0, max: 86_400_000, doc, example, default: String(DEFAULT_AUTH_THROTTLE[k as keyof typeof DEFAULT_AUTH_THROTTLE]) } as Schema])),
    },
  },
};

/** A realistic config for the reference; the doc test checks that it is valid. */
export const EXAMPLE_CONFIG = {
  listeners: { tcp: { port: 1883, host: '0.0.0.0' }, tls: { port: 8883, host: '0.0.0.0', names: ['pi.local'] } },
  control: { port: 8081 },
  dataDir: 'data',
  devices: [
    { id: 'esp32-kitchen', username: 'kitchen', passwordHash: EXAMPLE_HASH, publish: { accept: ['devices/esp32-kitchen/#'] }, subscribe: { accept: ['devices/esp32-kitchen/cmd/#'] } },
    { id: 'esp32-door', allowInsecure: false, publish: { accept: ['devices/esp32-door/#'] } },
    { id: 'monitor', username: 'monitor', password: 'change me', subscribe: { accept: ['$hub/events/#', '#'], reject: ['devices/+/secret/#'] } },
  ],
  filters: { publish: { reject: ['admin/#'] } },
  limits: { maxPacketSize: 65536, maxQueuedBytesPerClient: 16777216 },
  events: { prefix: '$hub/events' },
  routes: [{ name: 'api', type: 'rest', filter: 'devices/+/telemetry', uri: 'http://127.0.0.1:9000/in' }],
  log: { level: 'info' },
};

/** Validate a parsed config object. `baseDir` resolves relative paths (the config file's directory). */
export function validateConfig(raw: unknown, baseDir?: string): HubConfig {
  const v = validate(HUB_CONFIG_SCHEMA, raw ?? {}, 'config', { Err: ConfigError, baseDir }, 'config') as Partial<HubConfig>;
  return { ...v, listeners: v.listeners ?? {}, devices: v.devices ?? [], filters: v.filters ?? {}, limits: v.limits ?? {}, events: v.events ?? {},
    routes: v.routes ?? [], bridges: v.bridges ?? [], log: v.log ?? {}, metrics: v.metrics ?? {}, authThrottle: v.authThrottle ?? {} };
}

/**
 * Validate one device from a request (control API `POST /devices`): errors name the
 * field as it is in the request ("id: ..."), the object itself as `field`.
 */
export function validateDevice(raw: unknown, field = 'device'): DeviceInput {
  return validate(DEVICE_SCHEMA, raw, field, { Err: ConfigError }, field) as DeviceInput;
}

/** The same, for a change to a device (`PATCH /devices/:id`): every field optional, the id not among them. */
export function validateDevicePatch(raw: unknown, field = 'device'): Omit<DeviceInput, 'id'> {
  if (DEVICE_SCHEMA.kind !== 'object') throw new Error('DEVICE_SCHEMA is an object schema');
  const { id: _id, ...fields } = DEVICE_SCHEMA.fields;
  return validate({ ...DEVICE_SCHEMA, required: [], fields }, raw, field, { Err: ConfigError }, field) as Omit<DeviceInput, 'id'>;
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
