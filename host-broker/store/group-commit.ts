// The batch bookkeeping of a group-committing store: a write opens the batch
// (one transaction) if none is open; commit() ends it with one fsync; a batch
// left open commits by itself at the end of the event-loop turn that opened it
// (setImmediate), so writes that no packet waits for do not linger.
// The store supplies the three statements; this class decides when they run.

export interface BatchStatements {
  begin(): void;
  commit(): void;
  /** Undoes an open transaction after a failed commit; never throws. */
  rollback(): void;
}

export class GroupCommit {
  /** Batches committed since the store opened (for tests and the bench). */
  commits = 0;
  /** Writes in the batch now open, and in the last one committed. */
  writes = 0;
  lastBatchWrites = 0;
  private open = false;
  private scheduled = false;
  private waiters: ((err?: Error) => void)[] = [];
  private failureHandlers: ((err: Error) => void)[] = [];

  constructor(private readonly st: BatchStatements) {}

  get uncommitted(): boolean { return this.open; }

  /** Call before every write: opens the batch the write joins. */
  join(): void {
    this.writes++;
    if (this.open) return;
    this.st.begin();
    this.open = true;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.endOfTurn);
    }
  }

  /** One transaction, one fsync for everything written since the last commit. Throws if it failed (rolled back). */
  commit(): void {
    if (!this.open) return;
    this.open = false;
    const waiters = this.waiters;
    this.waiters = [];
    this.lastBatchWrites = this.writes;
    this.writes = 0;
    try {
      this.st.commit();
    } catch (err) {
      this.st.rollback();
      for (const cb of waiters) cb(err as Error);
      throw err;
    }
    this.commits++;
    for (const cb of waiters) cb();
  }

  afterCommit(cb: (err?: Error) => void): void {
    if (this.open) this.waiters.push(cb);
    else cb();
  }

  onCommitFailure(handler: (err: Error) => void): void { this.failureHandlers.push(handler); }

  private readonly endOfTurn = (): void => {
    this.scheduled = false;
    try {
      this.commit();
    } catch (err) {
      for (const h of this.failureHandlers) h(err as Error);
    }
  };
}
