// HIL controls over a small local HTTP JSON API (node:http), for tests that run
// in another process or on another machine. Bound to 127.0.0.1 unless told
// otherwise: it can disconnect clients and stop listeners. With `auth` every
// request but the public ones (the console's page, login) passes one gate
// (auth.ts). Extensions add routes on the same listener (the console, /metrics).
// Endpoints: see README.md next to this file.
import * as http from 'http';
import type { AddressInfo } from 'net';
import { BridgeConfigError } from '../bridges/config';
import { listenError } from '../listen-error';
import { validateDevice, validateDevicePatch } from '../config';
import type { DeviceInput } from '../security/device-registry';
import { RouteConfigError } from '../routes/config';
import type { DeadLetter } from '../routes/queue';
import type { DeviceSecurity } from '../security/device-security';
import { ControlAuth, SESSION_COOKIE } from './auth';
import { Control, ObservedMessage, TimeoutError, assertListenerName } from './control';
import { parseFaultSpec } from './faults';

export interface ControlServerOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Enables the /devices endpoints. */
  security?: DeviceSecurity;
  /** The hub's data directory, reported by GET /health (the CLI's `devices` commands match it). */
  dataDir?: string;
  /** Largest request body; default 1 MiB. */
  maxBodyBytes?: number;
  /** Without it every request is served (a loopback-only bench); start-hub.ts always gives one unless told not to. */
  auth?: ControlAuth;
  /** More routes on the same listener, behind the same gate. */
  extensions?: ControlExtension[];
}

/** A route that writes its own answer (a page, a stream, Prometheus text). */
export interface RawRoute {
  method: string;
  /** An exact path, or a pattern whose groups become `params`. */
  path: string | RegExp;
  /** Served without authentication (the console's page and assets: they hold no data). */
  public?: boolean;
  handle(req: http.IncomingMessage, res: http.ServerResponse, params: string[]): void | Promise<void>;
}

export interface ControlExtension {
  /** JSON routes, in the same form as the built-in ones. */
  routes?: Route[];
  raw?: RawRoute[];
  close?(): void | Promise<void>;
}

export interface ControlServer {
  port: number;
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

/** An error the caller caused: answered with its status and message. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

export type Handler = (ctx: { params: string[]; query: URLSearchParams; body: any; signal: AbortSignal; req: http.IncomingMessage }) => Promise<unknown> | unknown;
export interface Route { method: string; pattern: RegExp; handler: Handler; status?: number }

/** A JSON route; ':x' segments capture one URL-encoded path segment. */
export function jsonRoute(method: string, path: string, handler: Handler, status?: number): Route {
  return { method, pattern: new RegExp('^' + path.replace(/:[a-z]+/g, '([^/]+)') + '$'), handler, status };
}

export function messageToJson(m: ObservedMessage) {
  return { seq: m.seq, time: m.time, topic: m.topic, payload: m.payload.toString('utf8'), payloadBase64: m.payload.toString('base64'),
    qos: m.qos, retain: m.retain, fromClientId: m.fromClientId };
}

export function deadLetterToJson(d: DeadLetter) {
  return { id: d.id, route: d.route, topic: d.topic, payload: d.payload.toString('utf8'), payloadBase64: d.payload.toString('base64'),
    qos: d.qos, retain: d.retain, ts: d.ts, attempts: d.attempts, error: d.error, deadAt: d.deadAt };
}

export function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '0' || v === 'false') return false;
  if (v === '' || v === '1' || v === 'true') return true;
  throw new HttpError(400, `${name}: expected 1, true, 0 or false, got ${JSON.stringify(v)}`);
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new HttpError(400, `${name}: expected an integer >= 0, got ${JSON.stringify(v)}`);
  return n;
}

export function field<T>(body: any, name: string, check: (v: unknown) => boolean, expected: string, def?: T): T {
  const v = body?.[name];
  if (v === undefined) {
    if (def !== undefined) return def;
    throw new HttpError(400, `${name}: required (${expected})`);
  }
  if (!check(v)) throw new HttpError(400, `${name}: expected ${expected}, got ${JSON.stringify(v)}`);
  return v as T;
}

const isNonNegInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;

/**
 * A new device from a request body: the device fields of the config file (docs/config.md;
 * send passwordHash rather than password), and what the console's form sends besides:
 * `requireTls` (for allowInsecure: false) and empty strings for fields left blank.
 */
function deviceFromBody(body: any): DeviceInput {
  const b: Record<string, unknown> = { ...body };
  for (const k of Object.keys(b)) if (b[k] === '') delete b[k];
  if (b.requireTls !== undefined) {
    if (typeof b.requireTls !== 'boolean') throw new HttpError(400, `requireTls: expected true or false, got ${JSON.stringify(b.requireTls)}`);
    if (b.allowInsecure !== undefined) throw new HttpError(400, 'requireTls: give requireTls or allowInsecure, not both');
    b.allowInsecure = !b.requireTls;
    delete b.requireTls;
  }
  return validateDevice(b, 'device');
}

/** What the hub keeps by name and manages at run time (routes, bridges), as namedEndpoints() serves it. */
interface NamedCollection<S> {
  enabled(): boolean;
  list(): S[];
  get(name: string): S | undefined;
  /** Validates and starts one; throws ConfigError (a 400) on bad config. */
  add(body: any): S;
  remove(name: string, opts: { keepQueue: boolean }): Promise<{ removed: boolean }>;
  ConfigError: new (...args: any[]) => Error;
}

/**
 * GET /<kind>s, GET /<kind>s/:name, POST /<kind>s (201; 409 for a name in use, 400 for
 * bad config), DELETE /<kind>s/:name?keepQueue=1; 404 while the hub has none of them.
 * Returns need() and get(name) for the kind's other endpoints.
 */
function namedEndpoints<S>(add: (method: string, path: string, handler: Handler, status?: number) => void, kind: string, c: NamedCollection<S>) {
  const need = () => {
    if (!c.enabled()) throw new HttpError(404, `${kind}s are not enabled on this broker`);
  };
  const get = (name: string): S => {
    need();
    const st = c.get(name);
    if (!st) throw new HttpError(404, `no ${kind} named ${JSON.stringify(name)}`);
    return st;
  };
  add('GET', `/${kind}s`, () => { need(); return c.list(); });
  add('GET', `/${kind}s/:name`, ({ params }) => get(params[0]));
  add('POST', `/${kind}s`, ({ body }) => {
    need();
    if (typeof body.name === 'string' && c.get(body.name)) throw new HttpError(409, `${kind}.name: ${kind} ${JSON.stringify(body.name)} exists; remove it first`);
    try { return c.add(body); } catch (err: any) {
      if (err instanceof c.ConfigError) throw new HttpError(400, err.message);
      throw err;
    }
  }, 201);
  add('DELETE', `/${kind}s/:name`, async ({ params, query }) => {
    need();
    const keepQueue = boolParam(query, 'keepQueue');
    const out = await c.remove(params[0], { keepQueue });
    if (!out.removed) throw new HttpError(404, `no ${kind} named ${JSON.stringify(params[0])}`);
    return { [kind]: params[0], ...out, keptQueue: keepQueue };
  });
  return { need, get };
}

/** A registry or validation error is the caller's: 400 with its "<field>: <expected>" message. */
function badInput<T>(fn: () => T): T {
  try { return fn(); } catch (err: any) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, String(err?.message ?? err));
  }
}

function routes(control: Control, security?: DeviceSecurity, dataDir?: string): Route[] {
  const r: Route[] = [];
  const add = (method: string, path: string, handler: Handler, status?: number) => { r.push(jsonRoute(method, path, handler, status)); };
  const needSecurity = () => {
    if (!security) throw new HttpError(404, 'device security is not enabled on this broker');
    return security;
  };

  add('GET', '/health', () => ({ ok: true, listeners: control.listeners(), refusingConnectionsForMs: control.refusingFor(), pendingWaits: control.pendingWaits(), ...(dataDir ? { dataDir } : {}) }));
  add('GET', '/clients', () => control.clients());
  add('GET', '/sessions', () => control.sessions());
  add('POST', '/clients/:id/disconnect', ({ params, body }) => {
    const abrupt = field<boolean>(body, 'abrupt', (v) => typeof v === 'boolean', 'true or false', true);
    if (!control.disconnect(params[0], { abrupt })) throw new HttpError(404, `client ${params[0]} is not connected`);
    return { disconnected: params[0], abrupt };
  });
  add('GET', '/clients/:id/transcript', ({ params, query }) => ({ clientId: params[0], entries: control.transcript(params[0], { after: intParam(query, 'after') }) }));
  add('DELETE', '/clients/:id/transcript', ({ params }) => { control.clearTranscript(params[0]); return { cleared: params[0] }; });
  add('DELETE', '/transcripts', () => { control.clearTranscript(); return { cleared: 'all' }; });

  add('GET', '/faults', () => control.listFaults());
  add('POST', '/faults', ({ body }) => {
    try { return control.addFault(parseFaultSpec(body)); } catch (err: any) { throw new HttpError(400, err.message); }
  }, 201);
  add('DELETE', '/faults', () => { control.clearFaults(); return { cleared: 'all' }; });
  add('DELETE', '/faults/:id', ({ params }) => {
    const id = Number(params[0]);
    if (!control.removeFault(id)) throw new HttpError(404, `no fault rule ${params[0]}`);
    return { removed: id };
  });
  add('POST', '/refuse-connections', ({ body }) => {
    const ms = field<number>(body, 'ms', (v) => isNonNegInt(v) && (v as number) <= 86_400_000, 'an integer 0..86400000 (ms; 0 accepts again)');
    control.refuseConnections(ms);
    return { refusingForMs: control.refusingFor() };
  });

  add('GET', '/listeners', () => control.listeners());
  const listener = (name: string) => {
    try { assertListenerName(name); } catch (err: any) { throw new HttpError(400, err.message); }
    return name;
  };
  add('POST', '/listeners/:name/stop', async ({ params }) => { await control.stopListener(listener(params[0])); return { listener: params[0], running: false }; });
  add('POST', '/listeners/:name/start', async ({ params }) => ({ listener: params[0], running: true, port: await control.startListener(listener(params[0])) }));
  add('POST', '/listeners/:name/restart', async ({ params, body }) => {
    const downMs = field<number>(body, 'downMs', (v) => isNonNegInt(v) && (v as number) <= 600_000, 'an integer 0..600000', 0);
    return { listener: params[0], running: true, port: await control.restartListener(listener(params[0]), { downMs }) };
  });

  add('GET', '/messages', ({ query }) => {
    const filter = query.get('filter') ?? undefined;
    let msgs: ObservedMessage[];
    try { msgs = control.messages({ since: intParam(query, 'since'), filter }); } catch (err: any) { throw new HttpError(400, err.message); }
    return { lastSeq: control.lastMessageSeq(), messages: msgs.map(messageToJson) };
  });
  add('POST', '/messages/wait', async ({ body, signal }) => {
    const filter = field<string>(body, 'filter', (v) => typeof v === 'string', 'a topic filter');
    const timeoutMs = field<number>(body, 'timeoutMs', (v) => isNonNegInt(v) && (v as number) <= 600_000, 'an integer 0..600000', 5000);
    const since = body?.since === undefined ? undefined : field<number>(body, 'since', isNonNegInt, 'an integer >= 0');
    try {
      return { message: messageToJson(await control.waitForMessage(filter, { timeoutMs, since, signal })) };
    } catch (err: any) {
      if (err instanceof TimeoutError) throw new HttpError(408, err.message);
      if (/^filter: /.test(err.message)) throw new HttpError(400, err.message);
      throw err;
    }
  });
  add('POST', '/publish', async ({ body }) => {
    const topic = field<string>(body, 'topic', (v) => typeof v === 'string', 'a topic name');
    if (body.payload !== undefined && body.payloadBase64 !== undefined) throw new HttpError(400, 'payload, payloadBase64: give one, not both');
    const payload = body.payloadBase64 !== undefined
      ? Buffer.from(field<string>(body, 'payloadBase64', (v) => typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v), 'a base64 string'), 'base64')
      : Buffer.from(field<string>(body, 'payload', (v) => typeof v === 'string', 'a string', ''));
    const qos = field<0 | 1 | 2>(body, 'qos', (v) => v === 0 || v === 1 || v === 2, '0, 1 or 2', 0);
    const retain = field<boolean>(body, 'retain', (v) => typeof v === 'boolean', 'true or false', false);
    try { await control.publish({ topic, payload, qos, retain }); } catch (err: any) { throw new HttpError(400, err.message); }
    return { published: topic, bytes: payload.length };
  });

  add('GET', '/devices', () => needSecurity().registry.list());
  const existing = (sec: DeviceSecurity, id: string) => {
    const d = sec.registry.get(id);
    if (!d) throw new HttpError(404, `device ${id} does not exist`);
    return d;
  };
  add('GET', '/devices/:id', ({ params }) => existing(needSecurity(), params[0]));
  add('POST', '/devices', ({ body }) => {
    const sec = needSecurity();
    const input = badInput(() => deviceFromBody(body));
    if (sec.registry.get(input.id)) throw new HttpError(409, `id: device ${input.id} exists`);
    return badInput(() => sec.registry.add(input));
  }, 201);
  add('PATCH', '/devices/:id', ({ params, body }) => {
    const sec = needSecurity();
    existing(sec, params[0]);
    const patch = badInput(() => validateDevicePatch(body, 'device'));
    const d = badInput(() => sec.registry.update(params[0], patch));
    return { ...d, kicked: sec.kickUnwelcome() }; // disabled by this change: its clients go now
  });
  add('DELETE', '/devices/:id', ({ params }) => {
    const sec = needSecurity();
    existing(sec, params[0]);
    sec.registry.remove(params[0]);
    return { device: params[0], removed: true, kicked: sec.kickUnwelcome() };
  });
  add('POST', '/devices/:id/disable', ({ params }) => {
    const sec = needSecurity();
    if (!sec.registry.get(params[0])) throw new HttpError(404, `device ${params[0]} does not exist`);
    return { device: params[0], enabled: false, kicked: sec.disable(params[0]) };
  });
  add('POST', '/devices/:id/enable', ({ params }) => {
    const sec = needSecurity();
    if (!sec.registry.get(params[0])) throw new HttpError(404, `device ${params[0]} does not exist`);
    sec.enable(params[0]);
    return { device: params[0], enabled: true };
  });

  const routes = namedEndpoints(add, 'route', {
    enabled: () => control.hasRoutes(), list: () => control.listRoutes(), get: (n) => control.getRoute(n),
    add: (body) => control.addRoute(body), remove: (n, o) => control.removeRoute(n, o), ConfigError: RouteConfigError,
  });
  add('GET', '/routes/:name/dead-letters', ({ params, query }) => {
    routes.need();
    const limit = intParam(query, 'limit') ?? 100;
    if (limit < 1 || limit > 10_000) throw new HttpError(400, `limit: expected an integer 1..10000, got ${limit}`);
    const list = control.routeDeadLetters(params[0], limit);
    // Dead letters outlive a route removed with keepQueue; only an unknown name with none is 404.
    if (!list.length && !control.getRoute(params[0])) throw new HttpError(404, `no route named ${JSON.stringify(params[0])}`);
    return { route: params[0], deadLetters: list.map(deadLetterToJson) };
  });
  add('POST', '/routes/:name/dead-letters/requeue', ({ params }) => {
    routes.get(params[0]);
    return { route: params[0], requeued: control.requeueDeadLetters(params[0]) };
  });

  namedEndpoints(add, 'bridge', {
    enabled: () => control.hasBridges(), list: () => control.listBridges(), get: (n) => control.getBridge(n),
    add: (body) => control.addBridge(body), remove: (n, o) => control.removeBridge(n, o), ConfigError: BridgeConfigError,
  });
  return r;
}

export function readBody(req: http.IncomingMessage, max: number): Promise<any> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) { reject(new HttpError(413, `request body over ${max} bytes`)); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        const v = JSON.parse(text);
        if (!v || typeof v !== 'object' || Array.isArray(v)) return reject(new HttpError(400, 'body: expected a JSON object'));
        resolve(v);
      } catch (err: any) {
        reject(new HttpError(400, `body: not valid JSON (${err.message})`));
      }
    });
  });
}

function decodeParams(m: RegExpExecArray): string[] {
  try { return m.slice(1).map((p) => decodeURIComponent(p)); } catch { throw new HttpError(400, 'path: bad percent-encoding'); }
}

/** POST /login {token} sets the console's session cookie; POST /logout drops it. Public: they are how one gets in. */
function sessionRoutes(auth: ControlAuth | undefined, maxBody: number): RawRoute[] {
  const json = (res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
    const body = JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', ...headers });
    res.end(body);
  };
  return [
    { method: 'POST', path: '/login', public: true, async handle(req, res) {
      if (!auth) return json(res, 200, { ok: true, auth: false });
      const body = await readBody(req, maxBody);
      const r = await auth.login(body.token, req.socket.remoteAddress ?? '');
      if (!r.ok) return json(res, r.status, { error: r.reason });
      json(res, 200, { ok: true, auth: true }, { 'set-cookie': `${SESSION_COOKIE}=${r.session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${r.maxAgeS}` });
    } },
    { method: 'POST', path: '/logout', public: true, handle(req, res) {
      auth?.logout(req);
      json(res, 200, { ok: true }, { 'set-cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` });
    } },
  ];
}

export async function startControlServer(control: Control, opts: ControlServerOptions = {}): Promise<ControlServer> {
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const extensions = opts.extensions ?? [];
  const table = [...routes(control, opts.security, opts.dataDir), ...extensions.flatMap((e) => e.routes ?? [])];
  const rawTable = [...sessionRoutes(opts.auth, maxBody), ...extensions.flatMap((e) => e.raw ?? [])];
  const auth = opts.auth;
  const server = http.createServer(async (req, res) => {
    const send = (status: number, value: unknown) => {
      if (res.headersSent || res.destroyed) return;
      const body = JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(body);
    };
    const aborter = new AbortController();
    res.on('close', () => { if (!res.writableFinished) aborter.abort(); });
    try {
      const url = new URL(req.url ?? '/', 'http://control.local');
      const rawHit = rawTable.map((r) => ({ r, m: typeof r.path === 'string' ? (r.path === url.pathname ? [url.pathname] as unknown as RegExpExecArray : null) : r.path.exec(url.pathname) }))
        .find((x) => x.m && (x.r.method === req.method || (x.r.method === 'GET' && req.method === 'HEAD')));
      // The one gate: everything but the public pages needs the token (auth.ts).
      if (auth && !rawHit?.r.public) {
        const who = await auth.check(req);
        if (!who.ok) {
          if (who.status === 401) res.setHeader('www-authenticate', 'Bearer realm="host-broker"');
          throw new HttpError(who.status, who.reason);
        }
      }
      if (rawHit) { await rawHit.r.handle(req, res, decodeParams(rawHit.m!)); return; }
      const matches = table.map((r) => ({ r, m: r.pattern.exec(url.pathname) })).filter((x) => x.m);
      if (matches.length === 0) throw new HttpError(404, `no endpoint ${url.pathname}; see host-broker/control/README.md`);
      const hit = matches.find((x) => x.r.method === req.method);
      if (!hit) {
        res.setHeader('allow', matches.map((x) => x.r.method).join(', '));
        throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}`);
      }
      const body = req.method === 'POST' || req.method === 'PATCH' ? await readBody(req, maxBody) : {};
      const params = decodeParams(hit.m!);
      const out = await hit.r.handler({ params, query: url.searchParams, body, signal: aborter.signal, req });
      send(hit.r.status ?? 200, out);
    } catch (err: any) {
      if (err instanceof HttpError) send(err.status, { error: err.message });
      else send(500, { error: String(err && err.message ? err.message : err) });
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 0; // long polls (POST /messages/wait) may take up to their timeoutMs
  await new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => reject(listenError('control', opts.host ?? '127.0.0.1', opts.port ?? 0, err));
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => { server.off('error', fail); resolve(); });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    port: addr.port,
    url: `http://${host}:${addr.port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const e of extensions) void e.close?.();
    }),
  };
}
