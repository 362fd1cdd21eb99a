// The parent's handle on the load generator process.
import type { ChildProcess } from 'child_process';
import { forkTs, stopChild } from '../lib/proc';
import type { LoadJob, LoadResult } from './scenario';

export type { LoadJob, LoadResult } from './scenario';

export class LoadGenerator {
  private child: ChildProcess;
  private nextId = 1;
  private pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void; onMark?: (m: 'start' | 'end') => void }>();
  private stderr = '';

  constructor() {
    this.child = forkTs('bench/load/generator.ts');
    this.child.stderr!.on('data', (d) => { this.stderr = (this.stderr + d).slice(-2000); });
    this.child.stdout!.on('data', () => undefined);
    this.child.on('message', (m: { id: number; result?: LoadResult; error?: string; mark?: 'start' | 'end' }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.mark) {
        if (p.onMark) p.onMark(m.mark);
        return;
      }
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve(m.result!);
    });
    this.child.on('exit', (code, sig) => {
      for (const p of this.pending.values()) p.reject(new Error(`load generator exited (${code ?? sig}): ${this.stderr}`));
      this.pending.clear();
    });
  }

  get pid(): number { return this.child.pid!; }

  alive(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }

  /** Runs one job; onMark hears when its measured window starts and ends. Rejects after timeoutMs. */
  run(job: LoadJob, opts: { timeoutMs?: number; onMark?: (m: 'start' | 'end') => void } = {}): Promise<LoadResult> {
    const timeoutMs = opts.timeoutMs ?? 120000;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load job ${job.kind} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (r) => { clearTimeout(t); resolve(r); }, reject: (e) => { clearTimeout(t); reject(e); }, onMark: opts.onMark });
      this.child.send({ id, job });
    });
  }

  stop(): Promise<void> { return stopChild(this.child); }
}
