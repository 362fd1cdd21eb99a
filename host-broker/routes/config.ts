// Validation of route config (from the hub's config file, the CLI or the control API).
// Every error names the field and says what was expected; unknown fields are errors,
// so a typo never silently turns into a default.
import { checkFilter } from '../../firmware/topic';
import { Obj, show, validators } from '../validate';
import { compileStatement } from './sql-params';
import {
  DeliveryOptions, PostgresConnection, REST_METHODS, RestMethod, RouteConfig, RestRouteConfig, S3RouteConfig, SqlRouteConfig,
} from './types';

export class RouteConfigError extends Error {
  constructor(readonly field: string, readonly expected: string) {
    super(`${field}: ${expected}`);
    this.name = 'RouteConfigError';
  }
}

export const DEFAULT_DELIVERY: DeliveryOptions = {
  maxQueue: 10000,
  maxAttempts: 5,
  concurrency: 4,
  batchSize: 100,
  backoff: { initialMs: 200, maxMs: 30000 },
  timeoutMs: 10000,
};

const { obj, onlyKeys, str, bool: optBool, int } = validators(RouteConfigError);


function bool(o: Obj, key: string, field: string, dflt: boolean): boolean {
  return optBool(o, key, field) ?? dflt;
}

function oneOf<T extends string>(o: Obj, key: string, field: string, values: readonly T[], dflt?: T): T {
  const v = o[key];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'string' || !values.includes(v as T)) {
    throw new RouteConfigError(`${field}.${key}`, `expected one of ${values.map((x) => `'${x}'`).join(', ')}, got ${show(v)}`);
  }
  return v as T;
}

function url(o: Obj, key: string, field: string, optional: boolean): string | undefined {
  const v = str(o, key, field, { optional });
  if (v === undefined) return undefined;
  let u: URL;
  try { u = new URL(v); } catch { throw new RouteConfigError(`${field}.${key}`, `expected an absolute http(s) URL, got ${show(v)}`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new RouteConfigError(`${field}.${key}`, `expected an http: or https: URL, got ${show(v)}`);
  }
  return v;
}

function delivery(v: unknown, field: string): DeliveryOptions {
  if (v === undefined) return { ...DEFAULT_DELIVERY, backoff: { ...DEFAULT_DELIVERY.backoff } };
  const o = obj(v, field);
  onlyKeys(o, field, ['maxQueue', 'maxAttempts', 'concurrency', 'batchSize', 'backoff', 'timeoutMs']);
  const d = DEFAULT_DELIVERY;
  let backoff = { ...d.backoff };
  if (o.backoff !== undefined) {
    const b = obj(o.backoff, `${field}.backoff`);
    onlyKeys(b, `${field}.backoff`, ['initialMs', 'maxMs']);
    backoff = {
      initialMs: int(b, 'initialMs', `${field}.backoff`, 1, 3600000, d.backoff.initialMs),
      maxMs: int(b, 'maxMs', `${field}.backoff`, 1, 3600000, d.backoff.maxMs),
    };
    if (backoff.maxMs < backoff.initialMs) throw new RouteConfigError(`${field}.backoff.maxMs`, `expected at least initialMs (${backoff.initialMs}), got ${backoff.maxMs}`);
  }
  return {
    maxQueue: int(o, 'maxQueue', field, 1, 100000000, d.maxQueue),
    maxAttempts: int(o, 'maxAttempts', field, 1, 1000000, d.maxAttempts),
    concurrency: int(o, 'concurrency', field, 1, 256, d.concurrency),
    batchSize: int(o, 'batchSize', field, 1, 10000, d.batchSize),
    backoff,
    timeoutMs: int(o, 'timeoutMs', field, 1, 3600000, d.timeoutMs),
  };
}

const COMMON = ['name', 'type', 'filter', 'delivery'];

function s3(o: Obj, field: string, base: Pick<S3RouteConfig, 'name' | 'filter' | 'delivery'>): S3RouteConfig {
  onlyKeys(o, field, [...COMMON, 'endpoint', 'region', 'bucket', 'prefix', 'strategy', 'forcePathStyle', 'credentials']);
  const endpoint = url(o, 'endpoint', field, true);
  let credentials: S3RouteConfig['credentials'];
  if (o.credentials !== undefined) {
    const c = obj(o.credentials, `${field}.credentials`);
    onlyKeys(c, `${field}.credentials`, ['accessKeyId', 'secretAccessKey', 'sessionToken']);
    credentials = {
      accessKeyId: str(c, 'accessKeyId', `${field}.credentials`)!,
      secretAccessKey: str(c, 'secretAccessKey', `${field}.credentials`)!,
    };
    const token = str(c, 'sessionToken', `${field}.credentials`, { optional: true });
    if (token !== undefined) credentials.sessionToken = token;
  }
  const prefix = (str(o, 'prefix', field, { optional: true, allowEmpty: true }) ?? '').replace(/\/+$/, '');
  return {
    ...base,
    type: 's3',
    ...(endpoint !== undefined ? { endpoint } : {}),
    region: str(o, 'region', field, { optional: true }) ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    bucket: str(o, 'bucket', field)!,
    prefix,
    strategy: oneOf(o, 'strategy', field, ['per_topic', 'per_message'] as const),
    // Local S3-compatible servers rarely have bucket DNS names.
    forcePathStyle: bool(o, 'forcePathStyle', field, endpoint !== undefined),
    ...(credentials ? { credentials } : {}),
  };
}

function postgresConnection(v: unknown, field: string): PostgresConnection {
  const o = obj(v, field);
  onlyKeys(o, field, ['connectionString', 'host', 'port', 'user', 'password', 'database', 'ssl']);
  const c: PostgresConnection = {};
  const cs = str(o, 'connectionString', field, { optional: true });
  if (cs !== undefined) c.connectionString = cs;
  for (const k of ['host', 'user', 'database'] as const) {
    const s = str(o, k, field, { optional: true });
    if (s !== undefined) c[k] = s;
  }
  const pw = str(o, 'password', field, { optional: true, allowEmpty: true });
  if (pw !== undefined) c.password = pw;
  if (o.port !== undefined) c.port = int(o, 'port', field, 1, 65535, 5432);
  if (o.ssl !== undefined) c.ssl = bool(o, 'ssl', field, false);
  return c;
}

function sql(o: Obj, field: string, base: Pick<SqlRouteConfig, 'name' | 'filter' | 'delivery'>): SqlRouteConfig {
  onlyKeys(o, field, [...COMMON, 'driver', 'statement', 'payloadFormat', 'sqlite', 'postgres']);
  const driver = oneOf(o, 'driver', field, ['sqlite', 'postgres'] as const);
  const statement = str(o, 'statement', field)!;
  try {
    compileStatement(statement, driver);
  } catch (err: any) {
    throw new RouteConfigError(`${field}.statement`, err.message);
  }
  const cfg: SqlRouteConfig = { ...base, type: 'sql', driver, statement, payloadFormat: oneOf(o, 'payloadFormat', field, ['text', 'binary'] as const, 'text') };
  if (driver === 'sqlite') {
    if (o.postgres !== undefined) throw new RouteConfigError(`${field}.postgres`, "only allowed with driver 'postgres'");
    const s = obj(o.sqlite, `${field}.sqlite`);
    onlyKeys(s, `${field}.sqlite`, ['path']);
    cfg.sqlite = { path: str(s, 'path', `${field}.sqlite`)! };
  } else {
    if (o.sqlite !== undefined) throw new RouteConfigError(`${field}.sqlite`, "only allowed with driver 'sqlite'");
    // Absent: pg's own defaults and PG* environment variables.
    cfg.postgres = o.postgres === undefined ? {} : postgresConnection(o.postgres, `${field}.postgres`);
  }
  return cfg;
}

function rest(o: Obj, field: string, base: Pick<RestRouteConfig, 'name' | 'filter' | 'delivery'>): RestRouteConfig {
  onlyKeys(o, field, [...COMMON, 'method', 'uri', 'headers']);
  const headers: Record<string, string> = {};
  if (o.headers !== undefined) {
    const h = obj(o.headers, `${field}.headers`);
    for (const [k, v] of Object.entries(h)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw new RouteConfigError(`${field}.headers`, `expected HTTP header names, got ${show(k)}`);
      if (typeof v !== 'string' || /[^\t\x20-\x7e]/.test(v)) {
        throw new RouteConfigError(`${field}.headers.${k}`, `expected a string of printable ASCII, got ${show(v)}`);
      }
      headers[k] = v;
    }
  }
  return {
    ...base,
    type: 'rest',
    method: oneOf<RestMethod>(o, 'method', field, REST_METHODS, 'POST'),
    uri: url(o, 'uri', field, false)!,
    headers,
  };
}

/** Validates one route; `field` is where it sits in the config (for messages), e.g. 'routes[2]'. */
export function validateRoute(raw: unknown, field = 'route'): RouteConfig {
  const o = obj(raw, field);
  const name = str(o, 'name', field)!;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new RouteConfigError(`${field}.name`, `expected 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), got ${show(name)}`);
  }
  const filter = str(o, 'filter', field)!;
  const bad = checkFilter(filter);
  if (bad) throw new RouteConfigError(`${field}.filter`, `expected an MQTT topic filter: ${bad}`);
  const type = oneOf(o, 'type', field, ['s3', 'sql', 'rest'] as const);
  const base = { name, filter, delivery: delivery(o.delivery, `${field}.delivery`) };
  if (type === 's3') return s3(o, field, base);
  if (type === 'sql') return sql(o, field, base);
  return rest(o, field, base);
}

/** Validates the `routes` list of the hub config; names must be unique. */
export function validateRoutes(raw: unknown, field = 'routes'): RouteConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new RouteConfigError(field, `expected a list of routes, got ${show(raw)}`);
  const seen = new Set<string>();
  return raw.map((r, i) => {
    const route = validateRoute(r, `${field}[${i}]`);
    if (seen.has(route.name)) throw new RouteConfigError(`${field}[${i}].name`, `expected a unique name; ${show(route.name)} is used twice`);
    seen.add(route.name);
    return route;
  });
}

const SECRET_HEADER = /auth|token|key|secret|cookie|password/i;

/** A copy safe to show in listings and logs. */
export function redactRoute(route: RouteConfig): RouteConfig {
  const copy = JSON.parse(JSON.stringify(route)) as RouteConfig;
  if (copy.type === 's3' && copy.credentials) {
    copy.credentials = { accessKeyId: copy.credentials.accessKeyId, secretAccessKey: '***', ...(copy.credentials.sessionToken ? { sessionToken: '***' } : {}) };
  }
  if (copy.type === 'sql' && copy.postgres) {
    if (copy.postgres.password !== undefined) copy.postgres.password = '***';
    if (copy.postgres.connectionString) {
      try {
        const u = new URL(copy.postgres.connectionString);
        if (u.password) { u.password = '***'; copy.postgres.connectionString = u.toString(); }
      } catch {
        copy.postgres.connectionString = '***';
      }
    }
  }
  if (copy.type === 'rest') for (const k of Object.keys(copy.headers)) if (SECRET_HEADER.test(k)) copy.headers[k] = '***';
  return copy;
}
