// SQL route: the configured statement runs once per message with $TOPIC and
// $PAYLOAD bound as parameters, one transaction per batch, on SQLite or PostgreSQL.
import { compileStatement } from './sql-params';
import { PostgresTarget } from './sql-postgres';
import { SqliteTarget } from './sql-sqlite';
import { RouteTarget, SqlRouteConfig } from './types';

export function createSqlTarget(cfg: SqlRouteConfig): RouteTarget {
  const compiled = compileStatement(cfg.statement, cfg.driver);
  return cfg.driver === 'sqlite' ? new SqliteTarget(cfg, compiled) : new PostgresTarget(cfg, compiled);
}
