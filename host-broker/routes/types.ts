// Shapes shared by the route modules: validated config, queued messages, targets, status.

/** How a route delivers: retries, bounds, parallelism. All optional in the config file. */
export interface DeliveryOptions {
  /** Most messages waiting in the durable queue for this route; beyond it new messages are dropped with a hub event. */
  maxQueue: number;
  /** Attempts at a message the target rejects (a permanent error) before it moves to the dead-letter table. */
  maxAttempts: number;
  /** Deliveries in flight at once for this route (distinct topics, so per-topic order holds). */
  concurrency: number;
  /** Most messages in one batch where the target batches (a SQL transaction). */
  batchSize: number;
  /** Backoff after a failure: initialMs doubled per consecutive failure, capped at maxMs. */
  backoff: { initialMs: number; maxMs: number };
  /** Time limit for one request to the target. */
  timeoutMs: number;
}

interface RouteBase {
  name: string;
  /** MQTT topic filter; wildcards allowed. */
  filter: string;
  delivery: DeliveryOptions;
}

export interface S3RouteConfig extends RouteBase {
  type: 's3';
  /** e.g. http://127.0.0.1:9000 for a local server; absent for AWS itself. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Object key prefix, without trailing slash ('' for none). */
  prefix: string;
  strategy: 'per_topic' | 'per_message';
  forcePathStyle: boolean;
  /** Absent: the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, ...). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface SqliteConnection { path: string }
export interface PostgresConnection {
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  ssl?: boolean;
}

export interface SqlRouteConfig extends RouteBase {
  type: 'sql';
  driver: 'sqlite' | 'postgres';
  /** SQL with $TOPIC and $PAYLOAD placeholders, bound as parameters. */
  statement: string;
  /** 'text': $PAYLOAD is the payload decoded as UTF-8; 'binary': bytes (BLOB / bytea). */
  payloadFormat: 'text' | 'binary';
  sqlite?: SqliteConnection;
  postgres?: PostgresConnection;
}

export const REST_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type RestMethod = (typeof REST_METHODS)[number];

export interface RestRouteConfig extends RouteBase {
  type: 'rest';
  method: RestMethod;
  uri: string;
  headers: Record<string, string>;
}

export type RouteConfig = S3RouteConfig | SqlRouteConfig | RestRouteConfig;
export type RouteType = RouteConfig['type'];

/** One message as it waits in the durable route queue. */
export interface QueuedMessage {
  id: number;
  route: string;
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** RFC 3339 UTC with nanoseconds: when the hub accepted the message. Stable across retries. */
  ts: string;
  attempts: number;
}

/**
 * A delivery target. 'transaction' targets take a batch all-or-nothing (a SQL
 * transaction); 'single' targets take one message per call, and `coalesce`
 * targets only need the newest message of a topic (an object overwritten per topic).
 */
export interface RouteTarget {
  readonly mode: 'transaction' | 'single';
  readonly coalesce?: boolean;
  /** Resolves when the target accepted every message; rejects (nothing or all accepted, for 'transaction'). */
  deliver(batch: QueuedMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface RouteStats {
  enqueued: number;
  delivered: number;
  failedAttempts: number;
  /** Refused at enqueue because the queue was full. */
  dropped: number;
  deadLettered: number;
  lastError?: string;
  lastErrorAt?: string;
  lastDeliveredAt?: string;
}

export interface RouteStatus {
  name: string;
  type: RouteType;
  filter: string;
  queueDepth: number;
  deadLetters: number;
  state: 'idle' | 'delivering' | 'backoff' | 'stopped';
  /** Since this process started. */
  stats: RouteStats;
  /** The route's config with secrets replaced by '***'. */
  config: RouteConfig;
}
