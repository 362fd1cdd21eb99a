// Process helpers: CPU and RSS of any process by pid (/proc, Linux), and
// starting a TypeScript module of this project as a Node child process.
import { fork, ChildProcess, ForkOptions } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.join(__dirname, '..', '..');

/** Clock ticks per second for /proc/<pid>/stat; 100 on every Linux Node targets. */
const CLK_TCK = 100;

/** User + system CPU seconds a process has used so far, or NaN if it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Resident set size in MB, or NaN if the process is gone. */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Measures a process's CPU between start() and stop(), as % of one core. */
export function cpuMeter(pid: number) {
  let c0 = 0;
  let t0 = 0;
  return {
    start() { c0 = cpuSeconds(pid); t0 = performance.now(); },
    stop(): number { return (100 * (cpuSeconds(pid) - c0)) / ((performance.now() - t0) / 1000); },
  };
}

/** Forks a .ts module of this project (loaded through tsx) with an IPC channel. */
export function forkTs(file: string, args: string[] = [], opts: ForkOptions & { nodeArgs?: string[] } = {}): ChildProcess {
  const { nodeArgs = [], ...rest } = opts;
  return fork(path.join(ROOT, file), args, {
    execArgv: ['--require', 'tsx/cjs', ...nodeArgs],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    cwd: ROOT,
    ...rest,
  });
}

/**
 * Forks the compiled form of a .ts module (build/, bin/build-host.cjs; rebuilt
 * first if stale) with the node flags and environment the host-broker launchers
 * use, so the bench measures our broker as it ships.
 */
export function forkBuilt(file: string, args: string[] = [], opts: ForkOptions & { nodeArgs?: string[] } = {}): ChildProcess {
  const { nodeArgs = [], ...rest } = opts;
  const build = require(path.join(ROOT, 'bin', 'build-host.cjs')) as { ensureHostBuilt(log?: (l: string) => void): string; OUT: string; RUNTIME: { env: Record<string, string>; nodeArgs: string[] } };
  build.ensureHostBuilt(() => undefined);
  return fork(path.join(build.OUT, file.replace(/\.ts$/, '.js')), args, {
    execArgv: [...build.RUNTIME.nodeArgs, ...nodeArgs],
    env: { ...process.env, ...build.RUNTIME.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    cwd: ROOT,
    ...rest,
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves with the child's exit, or after ms (then kills it with SIGKILL). */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', ms = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => { child.kill('SIGKILL'); }, ms);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill(signal);
  });
}
