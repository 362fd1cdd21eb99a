// SQL route on PostgreSQL (pg). A pool sized to the route's concurrency; each
// batch is BEGIN, the statement per message, COMMIT on one connection. Any error
// rolls back and discards that connection.
import { Pool, PoolClient } from 'pg';
import { DeliveryError, describeError } from './errors';
import { bindValues, CompiledStatement } from './sql-params';
import { QueuedMessage, RouteTarget, SqlRouteConfig } from './types';

/**
 * SQLSTATE classes that are about the server's state, not the message:
 * 08 connection exception, 40 transaction rollback (serialization, deadlock),
 * 53 insufficient resources, 57 operator intervention (shutdown, cancel), XX internal.
 */
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '57', 'XX']);

export function transientPgError(err: any): boolean {
  const code = typeof err?.code === 'string' ? err.code : '';
  if (/^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_CLASSES.has(code.slice(0, 2));
  // No SQLSTATE: socket errors, connect timeouts, "Connection terminated".
  return true;
}

export class PostgresTarget implements RouteTarget {
  readonly mode = 'transaction' as const;
  private readonly pool: Pool;
  private readonly where: string;

  constructor(private readonly cfg: SqlRouteConfig, private readonly compiled: CompiledStatement) {
    const c = cfg.postgres ?? {};
    const t = cfg.delivery.timeoutMs;
    this.pool = new Pool({
      ...c,
      max: cfg.delivery.concurrency,
      connectionTimeoutMillis: t,
      query_timeout: t,
      idleTimeoutMillis: 30000,
      allowExitOnIdle: true,
    });
    // An idle connection dropped by the server emits here; without a listener it would crash the hub.
    this.pool.on('error', () => undefined);
    this.where = c.connectionString ? 'postgres' : `postgres ${c.host ?? 'localhost'}:${c.port ?? 5432}`;
  }

  async deliver(batch: QueuedMessage[]): Promise<void> {
    let client: PoolClient | undefined;
    try {
      client = await this.pool.connect();
      await client.query('BEGIN');
      for (const m of batch) {
        await client.query({ text: this.compiled.text, values: bindValues(this.compiled, this.cfg.payloadFormat, m) });
      }
      await client.query('COMMIT');
      client.release();
    } catch (err: any) {
      if (client) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release(true);
      }
      throw new DeliveryError(`${this.where}: ${describeError(err)}`, !transientPgError(err));
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
