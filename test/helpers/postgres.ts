// Starts a private PostgreSQL server (Debian's postgresql package) for a test suite:
// initdb into a temp dir, postgres on a free 127.0.0.1 port, trust auth.
// postgres refuses to run as root, so under root it runs as the `postgres`
// system user (or `nobody`) through runuser; the temp dir is handed to that user.
import { spawn, ChildProcess, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client } from 'pg';
import { freePort, waitForPort } from './ports';

export const POSTGRES_SKIP_MESSAGE =
  'PostgreSQL is not installed: skipping (apt-get install postgresql; .ci/run does this)';

/** Directory holding initdb and postgres, or null when PostgreSQL is not installed. */
export function postgresBinDir(): string | null {
  const has = (dir: string) => fs.existsSync(path.join(dir, 'postgres')) && fs.existsSync(path.join(dir, 'initdb'));
  const base = '/usr/lib/postgresql';
  if (fs.existsSync(base)) {
    const versions = fs.readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (has(path.join(base, v, 'bin'))) return path.join(base, v, 'bin');
  }
  try {
    const found = execFileSync('which', ['postgres'], { encoding: 'utf8' }).trim();
    // /usr/local/bin/postgres may be a symlink into the versioned dir; initdb sits beside the real one.
    if (found) for (const d of [path.dirname(fs.realpathSync(found)), path.dirname(found)]) if (has(d)) return d;
  } catch {}
  return null;
}

interface RunAs { user: string; uid: number; gid: number }

/** Under root: an unprivileged account to run postgres as. */
function unprivilegedUser(): RunAs | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
      return { user, uid, gid };
    } catch {}
  }
  throw new Error('running as root and neither a `postgres` nor a `nobody` account exists to run postgres as');
}

function commandAs(runAs: RunAs | null, bin: string, args: string[]): [string, string[]] {
  if (!runAs) return [bin, args];
  if (fs.existsSync('/usr/sbin/runuser') || fs.existsSync('/sbin/runuser')) return ['runuser', ['-u', runAs.user, '--', bin, ...args]];
  const quoted = [bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return ['su', ['-s', '/bin/sh', runAs.user, '-c', quoted]];
}

export interface Postgres {
  port: number;
  /** Superuser name (trust auth on 127.0.0.1, no password). */
  user: string;
  database: string;
  connectionString: string;
  /** Stops the server (fast shutdown), keeping its data. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

/** Starts a fresh server. Returns null when PostgreSQL is not installed. */
export async function startPostgres(): Promise<Postgres | null> {
  const bin = postgresBinDir();
  if (!bin) return null;
  const runAs = unprivilegedUser();
  // The unprivileged user must reach the dir: under root, TMPDIR may be private, /tmp is not.
  const dir = fs.mkdtempSync(path.join(runAs && fs.existsSync('/tmp') ? '/tmp' : os.tmpdir(), 'pg-'));
  if (runAs) fs.chownSync(dir, runAs.uid, runAs.gid);
  const data = path.join(dir, 'data');
  const user = 'hubtest';
  const [initCmd, initArgs] = commandAs(runAs, path.join(bin, 'initdb'),
    ['-D', data, '-U', user, '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  try {
    execFileSync(initCmd, initArgs, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  } catch (err: any) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${String(err.stderr || err.message)}`, { cause: err });
  }
  const port = await freePort();
  let proc: ChildProcess | null = null;
  let stderr = '';

  const start = async () => {
    stderr = '';
    const [cmd, args] = commandAs(runAs, path.join(bin, 'postgres'), [
      '-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir,
      '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'synchronous_commit=off',
      '-c', 'dynamic_shared_memory_type=mmap', '-c', 'max_connections=40', '-c', 'shared_buffers=16MB',
    ]);
    proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
    proc.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    const exited = new Promise<never>((_, reject) => proc!.once('exit', (code) =>
      reject(new Error(`postgres exited (${code}) while starting: ${stderr}`))));
    exited.catch(() => undefined);
    await Promise.race([waitForPort(port, 20000), exited]);
    // The port opens before the server accepts sessions ("the database system is starting up").
    const deadline = Date.now() + 20000;
    for (;;) {
      const c = new Client({ host: '127.0.0.1', port, user, database: 'postgres' });
      try {
        await c.connect();
        await c.end();
        return;
      } catch (err) {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  /** The real postmaster pid: under runuser, `proc` is runuser, which may not pass signals on. */
  const postmasterPid = (): number | null => {
    try { return Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]) || null; } catch { return null; }
  };

  const stop = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode) return;
    const done = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    const pid = postmasterPid();
    try { process.kill(pid ?? p.pid!, 'SIGINT'); } catch {} // SIGINT: fast shutdown, sessions aborted
    const timer = setTimeout(() => { try { process.kill(pid ?? p.pid!, 'SIGQUIT'); } catch {} }, 10000);
    await done;
    clearTimeout(timer);
    proc = null;
  };

  try {
    await start();
  } catch (err) {
    await stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    user,
    database: 'postgres',
    connectionString: `postgresql://${user}@127.0.0.1:${port}/postgres`,
    stop,
    start,
    destroy: async () => { await stop(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}
