// Delivery loop of one route. It reads the durable queue in arrival order and
// keeps up to `concurrency` jobs in flight, never two for the same topic, so
// each topic's messages reach the target in order while distinct topics run in
// parallel. Rows leave the queue only after the target accepted them.
//
// Failures: a transient one (target down) pauses the whole route with backoff
// and retries without limit; a permanent one (target refuses the message) backs
// off only that topic and, after maxAttempts, dead-letters the message so it
// cannot block its topic for ever. A refused multi-message batch says nothing
// about which message was bad, so it is retried at once one message at a time.
import { DeliveryError, describeError } from './errors';
import { RouteQueue } from './queue';
import { QueuedMessage, RouteConfig, RouteStats, RouteStatus, RouteTarget } from './types';

export interface FailureReport {
  route: RouteConfig;
  error: DeliveryError;
  batch: QueuedMessage[];
  /** 'retry': will be tried again; 'dead': these messages moved to the dead-letter table. */
  outcome: 'retry' | 'dead';
  dead: QueuedMessage[];
}

/** Rows looked at to find one topic's waiting messages for a coalescing target. */
const COALESCE_WINDOW = 256;

export class RouteWorker {
  readonly stats: RouteStats = { enqueued: 0, delivered: 0, failedAttempts: 0, dropped: 0, deadLettered: 0 };
  private inflight = 0;
  private readonly busyTopics = new Set<string>();
  private readonly topicRetryAt = new Map<string, number>();
  private pausedUntil = 0;
  private transientStreak = 0;
  private batchLimit: number;
  private timer: NodeJS.Timeout | null = null;
  private timerDue = 0;
  private pumpScheduled = false;
  private started = false;
  private stopped = false;
  private waiters: { resolve: () => void; check: () => boolean }[] = [];

  constructor(
    readonly cfg: RouteConfig,
    private readonly queue: RouteQueue,
    private readonly target: RouteTarget,
    private readonly onFailure: (r: FailureReport) => void,
  ) {
    this.batchLimit = cfg.delivery.batchSize;
  }

  start(): void {
    this.started = true;
    this.notify();
  }

  /** New rows were queued (or something else changed): look for work soon. */
  notify(): void {
    if (this.pumpScheduled || this.stopped || !this.started) return;
    this.pumpScheduled = true;
    setImmediate(() => this.pump());
  }

  state(): RouteStatus['state'] {
    if (this.stopped) return 'stopped';
    if (this.inflight > 0) return 'delivering';
    if (this.pausedUntil > Date.now() || (this.topicRetryAt.size > 0 && this.queue.depth(this.cfg.name) > 0)) return 'backoff';
    return 'idle';
  }

  /** Resolves once the route's queue is empty and nothing is in flight. */
  whenDrained(): Promise<void> {
    const check = () => this.inflight === 0 && this.queue.depth(this.cfg.name) === 0;
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ resolve, check }));
  }

  /**
   * Stops taking new work and closes the target, which cuts requests in flight
   * where it can (their rows stay queued for the next start), then waits for them.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const closing = this.target.close().catch(() => undefined);
    while (this.inflight > 0) await new Promise((r) => setTimeout(r, 10));
    await closing;
  }

  private arm(ms: number): void {
    const due = Date.now() + Math.max(1, ms);
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => { this.timer = null; this.pump(); }, Math.max(1, ms));
    this.timer.unref();
  }

  private backoff(n: number): number {
    const b = this.cfg.delivery.backoff;
    const base = Math.min(b.maxMs, b.initialMs * Math.pow(2, Math.min(n - 1, 30)));
    // Jitter so routes (and hubs) that failed together do not retry in lockstep.
    return Math.min(b.maxMs, Math.round(base * (0.8 + Math.random() * 0.4)));
  }

  private pump(): void {
    this.pumpScheduled = false;
    if (this.stopped) return;
    const now = Date.now();
    if (now < this.pausedUntil) {
      this.arm(this.pausedUntil - now);
      return;
    }
    let nextRetry = Infinity;
    for (const [topic, at] of this.topicRetryAt) {
      if (at <= now) this.topicRetryAt.delete(topic);
      else nextRetry = Math.min(nextRetry, at);
    }
    try {
      while (this.inflight < this.cfg.delivery.concurrency) {
        const job = this.nextJob();
        if (!job) break;
        this.run(job);
      }
    } catch (err) {
      // The queue itself failed (disk trouble): report it and look again later.
      this.failed([], new DeliveryError(`route queue: ${describeError(err)}`, false));
    }
    if (nextRetry < Infinity) this.arm(nextRetry - now);
    this.settleWaiters();
  }

  private nextJob(): QueuedMessage[] | null {
    const exclude = new Set([...this.busyTopics, ...this.topicRetryAt.keys()]);
    const name = this.cfg.name;
    if (this.target.mode === 'transaction') {
      const rows = this.queue.peek(name, this.batchLimit, exclude);
      return rows.length ? this.queue.load(rows.map((r) => r.id)) : null;
    }
    const rows = this.queue.peek(name, this.target.coalesce ? COALESCE_WINDOW : 1, exclude);
    if (!rows.length) return null;
    const topic = rows[0].topic;
    return this.queue.load(rows.filter((r) => r.topic === topic).map((r) => r.id));
  }

  private run(job: QueuedMessage[]): void {
    const topics = new Set(job.map((m) => m.topic));
    this.inflight++;
    for (const t of topics) this.busyTopics.add(t);
    let settled: Promise<void>;
    try {
      settled = this.target.deliver(job);
    } catch (err) {
      settled = Promise.reject(err);
    }
    settled.then(
      () => this.delivered(job),
      (err) => this.failed(job, err instanceof DeliveryError ? err : new DeliveryError(describeError(err), false)),
    ).catch((err) => this.failed([], new DeliveryError(`route queue: ${describeError(err)}`, false)))
      .then(() => {
        this.inflight--;
        for (const t of topics) this.busyTopics.delete(t);
        this.notify();
        this.settleWaiters();
      });
  }

  private delivered(job: QueuedMessage[]): void {
    this.queue.remove(this.cfg.name, job.map((m) => m.id));
    this.stats.delivered += job.length;
    this.stats.lastDeliveredAt = new Date().toISOString();
    this.transientStreak = 0;
    this.batchLimit = Math.min(this.cfg.delivery.batchSize, this.batchLimit * 2);
  }

  private failed(job: QueuedMessage[], error: DeliveryError): void {
    // Cut short by stop(): not the target's fault; the rows stay queued as they were.
    if (this.stopped) return;
    this.stats.failedAttempts++;
    this.stats.lastError = error.message;
    this.stats.lastErrorAt = new Date().toISOString();
    // A refusal may come from one bad message in the batch: isolate it (sizes grow back by doubling).
    if (error.permanent) this.batchLimit = 1;
    const report = (outcome: FailureReport['outcome'], dead: QueuedMessage[]) =>
      this.onFailure({ route: this.cfg, error, batch: job, outcome, dead });
    if (!error.permanent || job.length === 0) {
      this.transientStreak++;
      this.pausedUntil = Date.now() + this.backoff(this.transientStreak);
      if (job.length) this.queue.recordFailure(job.map((m) => m.id), error.message);
      return report('retry', []);
    }
    if (this.target.mode === 'transaction' && job.length > 1) return report('retry', []);
    this.queue.recordFailure(job.map((m) => m.id), error.message);
    for (const m of job) m.attempts++;
    const dead = job.filter((m) => m.attempts >= this.cfg.delivery.maxAttempts);
    if (dead.length) {
      this.queue.deadLetter(this.cfg.name, dead.map((m) => m.id), error.message);
      this.stats.deadLettered += dead.length;
    }
    const left = job.filter((m) => m.attempts < this.cfg.delivery.maxAttempts);
    if (left.length) {
      const at = Date.now() + this.backoff(Math.min(...left.map((m) => m.attempts)));
      for (const m of left) this.topicRetryAt.set(m.topic, at);
    }
    report(dead.length ? 'dead' : 'retry', dead);
  }

  private settleWaiters(): void {
    if (!this.waiters.length) return;
    const ready = this.waiters.filter((w) => w.check());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}
