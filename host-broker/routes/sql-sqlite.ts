// SQL route on a SQLite file (better-sqlite3). The file is opened on first use,
// so a missing file or directory shows up as a route failure, not a hub that
// will not start. better-sqlite3 is synchronous: a batch runs in one short
// transaction, and a locked file fails fast (and is retried) rather than stall
// the event loop.
import Database from 'better-sqlite3';
import { DeliveryError, describeError } from './errors';
import { bindValues, CompiledStatement } from './sql-params';
import { QueuedMessage, RouteTarget, SqlRouteConfig } from './types';

/** Conditions that may clear by themselves: busy/locked file, I/O trouble, disk full, file not there yet. */
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOMEM|INTERRUPT)/;

export class SqliteTarget implements RouteTarget {
  readonly mode = 'transaction' as const;
  private db: Database.Database | null = null;
  private run: ((batch: QueuedMessage[]) => void) | null = null;

  constructor(private readonly cfg: SqlRouteConfig, private readonly compiled: CompiledStatement) {}

  private open(): (batch: QueuedMessage[]) => void {
    if (this.run) return this.run;
    const db = new Database(this.cfg.sqlite!.path, { timeout: 50 });
    try {
      const stmt = db.prepare(this.compiled.text);
      this.run = db.transaction((batch: QueuedMessage[]) => {
        for (const m of batch) stmt.run(bindValues(this.compiled, this.cfg.payloadFormat, m));
      });
      this.db = db;
      return this.run;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  async deliver(batch: QueuedMessage[]): Promise<void> {
    try {
      this.open()(batch);
    } catch (err: any) {
      const code = typeof err?.code === 'string' ? err.code : '';
      throw new DeliveryError(`sqlite ${this.cfg.sqlite!.path}: ${describeError(err)}`, !TRANSIENT.test(code) && !/unable to open/.test(String(err?.message)));
    }
  }

  async close(): Promise<void> {
    if (this.db && this.db.open) this.db.close();
    this.db = null;
    this.run = null;
  }
}
