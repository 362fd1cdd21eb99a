// The data directory as one thing: its files, errors that name them, and the
// lock that makes it belong to one hub at a time. The lock is an exclusive
// SQLite lock on <dataDir>/hub.lock (a POSIX lock underneath), so it is
// released by the kernel when the hub dies, even on kill -9: no stale pid file
// to clean up. `restore` takes the same lock, so it can never run under a live hub.
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HubCA } from './security/ca';

/** What the hub keeps in a data directory. */
export const DATA_FILES = {
  store: 'hub.db',
  devices: 'devices.db',
  routes: 'routes.db',
  lock: 'hub.lock',
  pid: 'hub.pid',
} as const;

/** The SQLite databases a backup copies, by their role. */
export const DATABASES = ['store', 'devices', 'routes'] as const;
export type DatabaseRole = (typeof DATABASES)[number];

/** CA files, relative to the data dir (ca/...). */
export function caFiles(dataDir: string): string[] {
  const p = HubCA.paths(dataDir);
  return [p.cert, p.key, p.serverCert, p.serverKey].map((f) => path.relative(dataDir, f));
}

function whoAmI(): string {
  try { return `user ${os.userInfo().username}`; } catch { return `uid ${process.getuid?.() ?? '?'}`; }
}

/** Creates the directory if needed and checks this process may write there; the error names the path. */
export function prepareDataDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err: any) {
    throw new Error(`data dir ${dir}: cannot create it (${err.code ?? err.message}); create it, or choose another with --data-dir`, { cause: err });
  }
  try {
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (err: any) {
    throw new Error(`data dir ${dir}: not writable by ${whoAmI()} (${err.code ?? err.message}); run the hub as the user that owns it, or chown it`, { cause: err });
  }
  if (!fs.statSync(dir).isDirectory()) throw new Error(`data dir ${dir}: not a directory`);
}

const SQLITE_HINTS: [RegExp, string][] = [
  [/^SQLITE_CANTOPEN/, 'cannot open it: the file or its directory is not readable and writable by ' + '%USER%'],
  [/^SQLITE_READONLY/, 'read-only: the file or its directory is not writable by %USER%'],
  [/^SQLITE_(NOTADB|CORRUPT)/, 'not a valid SQLite database (damaged?); restore the data dir from a backup (host-broker restore)'],
  [/^SQLITE_BUSY/, 'locked by another process'],
];

/**
 * Runs `open` (which opens `file`), naming the file and the likely cause when
 * opening it fails (SQLite and file system errors; others pass through).
 */
export function openDataFile<T>(file: string, open: () => T): T {
  try {
    return open();
  } catch (err: any) {
    const code = typeof err?.code === 'string' ? err.code : '';
    if (!/^(SQLITE_|E[A-Z]+$)/.test(code)) throw err;
    const hint = SQLITE_HINTS.find(([re]) => re.test(code));
    const why = hint ? `${hint[1].replace('%USER%', whoAmI())} (${code}: ${err.message})` : err.message;
    throw new Error(`${file}: ${why}`, { cause: err });
  }
}

export interface DataDirLock {
  release(): void;
}

/** Whose lock it is, as far as the pid file knows (it is only for the message). */
function holder(dir: string): string {
  try {
    const pid = fs.readFileSync(path.join(dir, DATA_FILES.pid), 'utf8').trim();
    return /^\d+$/.test(pid) ? ` (pid ${pid})` : '';
  } catch {
    return '';
  }
}

/**
 * Makes `dir` this process's until release(). Throws, naming the data dir and the
 * holder's pid, when a running hub or a restore has it.
 */
export function lockDataDir(dir: string): DataDirLock {
  const file = path.join(dir, DATA_FILES.lock);
  const db = openDataFile(file, () => new Database(file, { timeout: 0 }));
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock; EXCLUSIVE locking mode keeps it until close.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err: any) {
    db.close();
    if (String(err?.code).startsWith('SQLITE_BUSY')) {
      throw new Error(`data dir ${dir} is in use by another host-broker process${holder(dir)}: a running hub, or a restore; stop it first (systemctl stop <service>, or Ctrl-C), or use another --data-dir`, { cause: err });
    }
    throw new Error(`${file}: ${err.message}`, { cause: err });
  }
  try { fs.writeFileSync(path.join(dir, DATA_FILES.pid), `${process.pid}\n`); } catch { /* only for messages */ }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      try { fs.rmSync(path.join(dir, DATA_FILES.pid), { force: true }); } catch { /* only for messages */ }
      db.close();
    },
  };
}

/** Is a live hub holding `dir`? */
export function dataDirInUse(dir: string): boolean {
  const file = path.join(dir, DATA_FILES.lock);
  if (!fs.existsSync(file)) return false;
  const db = new Database(file, { timeout: 0 });
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return false;
  } catch (err: any) {
    if (String(err?.code).startsWith('SQLITE_BUSY')) return true;
    throw err;
  } finally {
    db.close();
  }
}
