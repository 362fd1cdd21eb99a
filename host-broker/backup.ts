// Backups of a data dir while the hub runs, and restoring one into a stopped hub's.
//
// A backup is a .tar.gz holding a consistent copy of each SQLite database made
// with SQLite's online backup API (better-sqlite3's db.backup: the copy is one
// snapshot even while the hub commits), the hub CA's files, and manifest.json
// (sizes, SHA-256, what was in it). Each database is consistent on its own; the
// store, the registry and the route queues are independent of one another.
//
// Restore takes the data dir's lock (data-dir.ts), so it refuses to run under a
// live hub, and a hub cannot start while it runs. It never deletes: files
// already in the data dir are moved aside (with --force) before the copy goes in.
import Database from 'better-sqlite3';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type * as Tar from 'tar';

// Loaded by the commands that pack or unpack a backup, not by every start of the hub.
const tar = (): typeof Tar => require('tar') as typeof Tar;
import { caFiles, DATA_FILES, DATABASES, type DatabaseRole, lockDataDir, prepareDataDir } from './data-dir';
import { HUB_VERSION } from './version';

export const BACKUP_FORMAT = 'host-broker-backup';
export const BACKUP_FORMAT_VERSION = 1;

export interface BackupCounts {
  /** Persistent sessions, their subscriptions and queued (or in-flight) messages. */
  sessions: number;
  subscriptions: number;
  queuedMessages: number;
  retainedMessages: number;
  devices: number;
  /** Messages waiting in route queues, and dead letters. */
  routeQueue: number;
  deadLetters: number;
  /** Whether the hub CA (certificate and key) was there. */
  ca: boolean;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  formatVersion: number;
  hubVersion: string;
  createdAt: string;
  /** The data dir it was taken from. */
  dataDir: string;
  files: { name: string; bytes: number; sha256: string }[];
  counts: BackupCounts;
}

/** Rows in `table`, or 0 when the database or table is absent. */
function count(db: Database.Database | undefined, table: string): number {
  if (!db) return 0;
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
  return has ? (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n : 0;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function checkIntegrity(file: string, what: string): void {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const result = db.pragma('integrity_check', { simple: true });
    if (result !== 'ok') throw new Error(`${what}: integrity check failed (${String(result)})`);
  } finally { db.close(); }
}

/** Counts what a set of copied databases holds (for the manifest and the restore summary). */
function countIn(dir: string, present: Set<DatabaseRole>, caPresent: boolean): BackupCounts {
  const open = (role: DatabaseRole) => (present.has(role) ? new Database(path.join(dir, DATA_FILES[role]), { readonly: true }) : undefined);
  const store = open('store');
  const devices = open('devices');
  const routes = open('routes');
  try {
    return {
      sessions: count(store, 'sessions'), subscriptions: count(store, 'subscriptions'),
      queuedMessages: count(store, 'outbound'), retainedMessages: count(store, 'retained'),
      devices: count(devices, 'hub_devices'),
      routeQueue: count(routes, 'route_queue'), deadLetters: count(routes, 'route_dead'),
      ca: caPresent,
    };
  } finally {
    store?.close(); devices?.close(); routes?.close();
  }
}

/**
 * Writes a backup of `dataDir` to `out` (written under a temporary name and renamed,
 * so a file named `out` is always complete; mode 0600: it holds the CA key and
 * password hashes). Safe while a hub runs on `dataDir`.
 */
export async function createBackup(dataDir: string, out: string): Promise<BackupManifest> {
  dataDir = path.resolve(dataDir);
  out = path.resolve(out);
  const present = new Set(DATABASES.filter((r) => fs.existsSync(path.join(dataDir, DATA_FILES[r]))));
  if (!present.has('store') && !present.has('devices')) {
    throw new Error(`data dir ${dataDir}: no hub data there (no ${DATA_FILES.store} or ${DATA_FILES.devices}); give the hub's --data-dir`);
  }
  const outDir = path.dirname(out);
  let staging: string;
  try {
    staging = fs.mkdtempSync(path.join(outDir, '.hub-backup-'));
  } catch (err: any) {
    throw new Error(`--out ${out}: cannot write in ${outDir} (${err.code ?? err.message})`, { cause: err });
  }
  const partial = `${out}.partial`;
  try {
    const names: string[] = [];
    for (const role of present) {
      const name = DATA_FILES[role];
      // Read-only: the backup never writes to the live database.
      const src = new Database(path.join(dataDir, name), { readonly: true, fileMustExist: true, timeout: 5000 });
      try {
        // All remaining pages in one step: a step is one snapshot, so a hub committing
        // meanwhile cannot make the copy restart (which page-by-page copying would).
        await src.backup(path.join(staging, name), { progress: () => 0x7fffffff });
      } finally { src.close(); }
      checkIntegrity(path.join(staging, name), `copy of ${name}`);
      names.push(name);
    }
    const ca = caFiles(dataDir).filter((f) => fs.existsSync(path.join(dataDir, f)));
    for (const f of ca) {
      fs.mkdirSync(path.dirname(path.join(staging, f)), { recursive: true, mode: 0o700 });
      fs.copyFileSync(path.join(dataDir, f), path.join(staging, f));
      fs.chmodSync(path.join(staging, f), fs.statSync(path.join(dataDir, f)).mode & 0o777);
      names.push(f);
    }
    const caPresent = ca.length > 0;
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT, formatVersion: BACKUP_FORMAT_VERSION, hubVersion: HUB_VERSION,
      createdAt: new Date().toISOString(), dataDir,
      files: names.map((name) => ({ name, bytes: fs.statSync(path.join(staging, name)).size, sha256: sha256(path.join(staging, name)) })),
      counts: countIn(staging, present, caPresent),
    };
    fs.writeFileSync(path.join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    // Created 0600 before tar writes into it: the archive is never readable by others, not even for a moment.
    fs.writeFileSync(partial, '', { mode: 0o600 });
    await tar().c({ gzip: true, file: partial, cwd: staging, portable: true }, ['manifest.json', ...names]);
    fs.renameSync(partial, out);
    return manifest;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
    fs.rmSync(partial, { force: true });
  }
}

/** Unpacks a backup into `dir` and checks it: format, every file's size and SHA-256, each database's integrity. */
async function unpackVerified(file: string, dir: string): Promise<BackupManifest> {
  const allowed = (p: string) => p === 'manifest.json' || Object.values(DATA_FILES).includes(p as never) || /^ca\/[a-z.]+\.pem$/.test(p);
  try {
    // Only the regular files a backup holds: no links, devices or paths elsewhere.
    await tar().x({ file, cwd: dir, strict: true, filter: (p, entry) => allowed(p.replace(/^\.\//, '')) && (entry as { type?: string }).type === 'File' });
  } catch (err: any) {
    throw new Error(`${file}: not a readable backup (${err.code ?? err.message})`, { cause: err });
  }
  const mf = path.join(dir, 'manifest.json');
  if (!fs.existsSync(mf)) throw new Error(`${file}: not a host-broker backup (no manifest.json)`);
  const manifest = JSON.parse(fs.readFileSync(mf, 'utf8')) as BackupManifest;
  if (manifest.format !== BACKUP_FORMAT) throw new Error(`${file}: not a host-broker backup (format ${JSON.stringify(manifest.format)})`);
  if (manifest.formatVersion > BACKUP_FORMAT_VERSION) {
    throw new Error(`${file}: backup format ${manifest.formatVersion} is newer than this hub reads (${BACKUP_FORMAT_VERSION}); upgrade the hub first`);
  }
  for (const f of manifest.files) {
    const p = path.join(dir, f.name);
    if (!allowed(f.name) || !fs.existsSync(p)) throw new Error(`${file}: ${f.name} is listed but missing`);
    if (fs.statSync(p).size !== f.bytes || sha256(p) !== f.sha256) throw new Error(`${file}: ${f.name} is damaged (size or SHA-256 differs from the manifest)`);
    if (f.name.endsWith('.db')) checkIntegrity(p, `${file}: ${f.name}`);
  }
  return manifest;
}

/** Hub files a data dir holds now (what a restore would replace). */
export function existingHubFiles(dataDir: string): string[] {
  const names = DATABASES.flatMap((r) => [DATA_FILES[r], `${DATA_FILES[r]}-wal`, `${DATA_FILES[r]}-shm`]);
  const found = names.filter((n) => fs.existsSync(path.join(dataDir, n)));
  if (fs.existsSync(path.join(dataDir, 'ca'))) found.push('ca');
  return found;
}

export interface RestoreResult {
  manifest: BackupManifest;
  dataDir: string;
  /** Where the files that were in the data dir went (--force). */
  movedAside?: string;
}

/**
 * Restores `file` into `dataDir`. Refuses while a hub runs on it (the data dir
 * lock), and refuses a data dir that already holds hub data unless `force`, which
 * moves those files into `<dataDir>/pre-restore-<time>/` first.
 */
export async function restoreBackup(file: string, dataDir: string, opts: { force?: boolean } = {}): Promise<RestoreResult> {
  file = path.resolve(file);
  dataDir = path.resolve(dataDir);
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  prepareDataDir(dataDir);
  let lock;
  try {
    lock = lockDataDir(dataDir);
  } catch (err: any) {
    throw new Error(`refusing to restore: ${err.message}`, { cause: err });
  }
  const staging = fs.mkdtempSync(path.join(dataDir, '.restore-'));
  try {
    const manifest = await unpackVerified(file, staging);
    const existing = existingHubFiles(dataDir);
    let movedAside: string | undefined;
    if (existing.length > 0) {
      if (!opts.force) {
        throw new Error(`data dir ${dataDir} already holds hub data (${existing.join(', ')}); restore into an empty data dir, or pass --force to move these aside first`);
      }
      movedAside = path.join(dataDir, `pre-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      fs.mkdirSync(movedAside, { mode: 0o700 });
      for (const name of existing) fs.renameSync(path.join(dataDir, name), path.join(movedAside, name));
    }
    for (const f of manifest.files) {
      const to = path.join(dataDir, f.name);
      fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
      fs.renameSync(path.join(staging, f.name), to);
    }
    // Run as root for a service's data dir: the restored files belong to the dir's owner, as the hub's own would.
    const owner = fs.statSync(dataDir);
    if (process.getuid?.() === 0 && owner.uid !== 0) {
      for (const f of manifest.files) fs.chownSync(path.join(dataDir, f.name), owner.uid, owner.gid);
      if (fs.existsSync(path.join(dataDir, 'ca'))) fs.chownSync(path.join(dataDir, 'ca'), owner.uid, owner.gid);
    }
    return { manifest, dataDir, ...(movedAside ? { movedAside } : {}) };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
    lock.release();
  }
}

/** The manifest of a backup file, after checking every file in it. */
export async function inspectBackup(file: string): Promise<BackupManifest> {
  const dir = fs.mkdtempSync(path.join(path.dirname(path.resolve(file)), '.inspect-'));
  try {
    return await unpackVerified(path.resolve(file), dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
