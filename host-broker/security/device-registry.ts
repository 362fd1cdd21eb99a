// The device registry: who may connect, with which credentials, under which
// policies. Persisted in SQLite (better-sqlite3) so it survives restarts and so
// the CLI can edit it while a broker runs (WAL mode; the broker re-reads rows).
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as path from 'path';
import { hashPassword, parsePasswordHash } from './password';
import { parseTopicPolicy, TopicPolicy } from './topic-policy';

export interface Device {
  id: string;
  name: string;
  enabled: boolean;
  username?: string;
  /** Whether a password is set (the hash itself never leaves the registry except via passwordHashOf). */
  hasPassword: boolean;
  /** SHA-256 fingerprint (Node's `fingerprint256` form, AA:BB:...) of the one client certificate accepted; unset = any hub-CA cert whose CN is certCN. */
  certFingerprint?: string;
  /** Subject CN the client certificate must carry; defaults to the device id. */
  certCN: string;
  /** false: only accepted over TLS with its client certificate. */
  allowInsecure: boolean;
  publish?: TopicPolicy;
  subscribe?: TopicPolicy;
  createdAt: number;
  updatedAt: number;
}

export interface DeviceInput {
  id: string;
  name?: string;
  enabled?: boolean;
  username?: string | null;
  /** Plain password; hashed here with scrypt. */
  password?: string;
  /** An already hashed password (scrypt$...), e.g. from a config file. */
  passwordHash?: string;
  certFingerprint?: string | null;
  certCN?: string | null;
  allowInsecure?: boolean;
  publish?: TopicPolicy | null;
  subscribe?: TopicPolicy | null;
}

export type DevicePatch = Partial<Omit<DeviceInput, 'id'>>;

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const FINGERPRINT_RE = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;
export const DEVICES_TABLE = 'hub_devices';

interface Row {
  id: string; name: string; enabled: number; username: string | null; password_hash: string | null;
  cert_fingerprint: string | null; cert_cn: string | null; allow_insecure: number;
  publish_policy: string | null; subscribe_policy: string | null; created_at: number; updated_at: number;
}

/** What is wrong with a device id, or null. */
export function deviceIdProblem(id: unknown): string | null {
  return typeof id === 'string' && ID_RE.test(id) ? null : `expected 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, got ${JSON.stringify(id)}`;
}

export function assertValidDeviceId(id: unknown, field = 'id'): asserts id is string {
  const why = deviceIdProblem(id);
  if (why) throw new Error(`${field}: ${why}`);
}

/** Upper-case colon form, as Node reports `fingerprint256`; accepts plain hex too. */
export function normalizeFingerprint(fp: string, field = 'certFingerprint'): string {
  const hex = fp.replace(/:/g, '').toUpperCase();
  const norm = (hex.match(/.{1,2}/g) || []).join(':');
  if (!FINGERPRINT_RE.test(norm)) throw new Error(`${field}: expected a SHA-256 fingerprint (64 hex digits, colons optional)`);
  return norm;
}

/** What is wrong with a user name, or null. */
export function usernameProblem(u: unknown): string | null {
  return typeof u !== 'string' || u.length === 0 || u.length > 1024 || u.indexOf('\u0000') >= 0
    ? 'expected a non-empty string without U+0000, at most 1024 characters' : null;
}

function checkUsername(u: unknown): string | null {
  if (u === undefined || u === null) return null;
  const why = usernameProblem(u);
  if (why) throw new Error(`username: ${why}`);
  return u as string;
}

function checkBool(v: unknown, field: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new Error(`${field}: expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

export interface RegistryOptions {
  /** A handle the caller owns (shared with the broker's store, say). Not closed by close(). */
  db?: Database.Database;
  /** Otherwise: a file path, or ':memory:'. */
  file?: string;
  /** Otherwise: `<dataDir>/devices.db`. */
  dataDir?: string;
}

export class DeviceRegistry {
  readonly db: Database.Database;
  private readonly ownsDb: boolean;
  private localRevision = 0;
  /** data_version as read in this synchronous run (see revision()). */
  private dataVersion: number | undefined;
  /** The last revision() answer and what it was made of: no new string per call. */
  private revisionOf: [number, number] = [-1, -1];
  private revisionText = '';
  private readonly stmts: ReturnType<DeviceRegistry['prepare']>;

  constructor(opts: RegistryOptions) {
    if (opts.db) {
      this.db = opts.db;
      this.ownsDb = false;
    } else {
      const file = opts.file ?? (opts.dataDir ? path.join(opts.dataDir, 'devices.db') : undefined);
      if (!file) throw new Error('DeviceRegistry: give db, file or dataDir');
      if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
      this.db = new Database(file);
      this.ownsDb = true;
      if (file !== ':memory:') this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
    }
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${DEVICES_TABLE} (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL DEFAULT '',
      enabled INTEGER NOT NULL DEFAULT 1,
      username TEXT UNIQUE,
      password_hash TEXT,
      cert_fingerprint TEXT,
      cert_cn TEXT,
      allow_insecure INTEGER NOT NULL DEFAULT 1,
      publish_policy TEXT,
      subscribe_policy TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
    this.stmts = this.prepare();
  }

  private prepare() {
    const t = DEVICES_TABLE;
    return {
      get: this.db.prepare(`SELECT * FROM ${t} WHERE id = ?`),
      byUsername: this.db.prepare(`SELECT * FROM ${t} WHERE username = ?`),
      byFingerprint: this.db.prepare(`SELECT * FROM ${t} WHERE cert_fingerprint = ?`),
      byCN: this.db.prepare(`SELECT * FROM ${t} WHERE coalesce(cert_cn, id) = ?`),
      list: this.db.prepare(`SELECT * FROM ${t} ORDER BY id`),
      insert: this.db.prepare(`INSERT INTO ${t} (id, name, enabled, username, password_hash, cert_fingerprint, cert_cn,
        allow_insecure, publish_policy, subscribe_policy, created_at, updated_at)
        VALUES (@id, @name, @enabled, @username, @password_hash, @cert_fingerprint, @cert_cn,
        @allow_insecure, @publish_policy, @subscribe_policy, @created_at, @updated_at)`),
      update: this.db.prepare(`UPDATE ${t} SET name = @name, enabled = @enabled, username = @username,
        password_hash = @password_hash, cert_fingerprint = @cert_fingerprint, cert_cn = @cert_cn,
        allow_insecure = @allow_insecure, publish_policy = @publish_policy, subscribe_policy = @subscribe_policy,
        updated_at = @updated_at WHERE id = @id`),
      remove: this.db.prepare(`DELETE FROM ${t} WHERE id = ?`),
    };
  }

  /**
   * Changes whenever the registry changes, here or in another process (CLI) sharing the file.
   * Asked for every message delivered (policies are cached by it), so the SQLite call
   * behind other processes' changes runs once per synchronous run of the event loop
   * (one packet, or one message fanned out to all its subscribers); changes made
   * through this object count at once.
   */
  revision(): string {
    if (this.dataVersion === undefined) {
      this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;
      queueMicrotask(() => { this.dataVersion = undefined; });
    }
    if (this.dataVersion !== this.revisionOf[0] || this.localRevision !== this.revisionOf[1]) {
      this.revisionOf = [this.dataVersion, this.localRevision];
      this.revisionText = `${this.dataVersion}.${this.localRevision}`;
    }
    return this.revisionText;
  }

  get(id: string): Device | undefined {
    const row = this.stmts.get.get(id) as Row | undefined;
    return row ? toDevice(row) : undefined;
  }

  list(): Device[] {
    return (this.stmts.list.all() as Row[]).map(toDevice);
  }

  findByUsername(username: string): Device | undefined {
    const row = this.stmts.byUsername.get(username) as Row | undefined;
    return row ? toDevice(row) : undefined;
  }

  /** The device a verified client certificate belongs to: by exact fingerprint first, else by CN (when no fingerprint is pinned). */
  findByCertificate(cert: { fingerprint256?: string; subjectCN?: string }): Device | undefined {
    if (cert.fingerprint256) {
      let fp: string | undefined;
      try { fp = normalizeFingerprint(cert.fingerprint256); } catch { fp = undefined; }
      const row = fp ? this.stmts.byFingerprint.get(fp) as Row | undefined : undefined;
      if (row) return toDevice(row);
    }
    if (cert.subjectCN) {
      const row = this.stmts.byCN.get(cert.subjectCN) as Row | undefined;
      // A pinned fingerprint means only that certificate counts, whatever its CN.
      if (row && !row.cert_fingerprint) return toDevice(row);
    }
    return undefined;
  }

  /** The stored scrypt hash, for the authenticator only. */
  passwordHashOf(id: string): string | undefined {
    const row = this.stmts.get.get(id) as Row | undefined;
    return row?.password_hash ?? undefined;
  }

  add(input: DeviceInput): Device {
    assertValidDeviceId(input.id);
    if (this.stmts.get.get(input.id)) throw new Error(`device ${input.id} already exists`);
    const now = Date.now();
    const row = this.buildRow(input, undefined, now);
    this.run(() => this.stmts.insert.run({ ...row, created_at: now }));
    return this.get(input.id)!;
  }

  update(id: string, patch: DevicePatch): Device {
    const existing = this.stmts.get.get(id) as Row | undefined;
    if (!existing) throw new Error(`device ${id} does not exist`);
    const row = this.buildRow({ ...patch, id }, existing, Date.now());
    this.run(() => this.stmts.update.run(row));
    return this.get(id)!;
  }

  /** Add, or update the fields given (used for devices declared in a config file). */
  upsert(input: DeviceInput): Device {
    assertValidDeviceId(input.id);
    return this.stmts.get.get(input.id) ? this.update(input.id, input) : this.add(input);
  }

  setEnabled(id: string, enabled: boolean): Device {
    return this.update(id, { enabled });
  }

  remove(id: string): boolean {
    const info = this.stmts.remove.run(id);
    this.localRevision++;
    return info.changes > 0;
  }

  close(): void {
    if (this.ownsDb && this.db.open) this.db.close();
  }

  private run(fn: () => unknown): void {
    try {
      fn();
    } catch (err: any) {
      if (err && err.code === 'SQLITE_CONSTRAINT_UNIQUE' && /username/.test(String(err.message))) {
        throw new Error('username: already used by another device', { cause: err });
      }
      throw err;
    }
    this.localRevision++;
  }

  private buildRow(input: DeviceInput, existing: Row | undefined, now: number): Omit<Row, 'created_at'> {
    if (input.password !== undefined && input.passwordHash !== undefined) {
      throw new Error('password, passwordHash: give one, not both');
    }
    if (input.name !== undefined && typeof input.name !== 'string') throw new Error('name: expected a string');
    let passwordHash = existing ? existing.password_hash : null;
    if (input.password !== undefined) {
      if (typeof input.password !== 'string' || input.password.length === 0) throw new Error('password: expected a non-empty string');
      passwordHash = hashPassword(input.password);
    } else if (input.passwordHash !== undefined) {
      parsePasswordHash(input.passwordHash);
      passwordHash = input.passwordHash;
    }
    const username = input.username !== undefined ? checkUsername(input.username) : existing ? existing.username : null;
    if (passwordHash && !username) throw new Error('username: a device with a password needs a username');
    const enabled = checkBool(input.enabled, 'enabled');
    const allowInsecure = checkBool(input.allowInsecure, 'allowInsecure');
    let certFingerprint = existing ? existing.cert_fingerprint : null;
    if (input.certFingerprint !== undefined) certFingerprint = input.certFingerprint === null ? null : normalizeFingerprint(input.certFingerprint);
    let certCN = existing ? existing.cert_cn : null;
    if (input.certCN !== undefined) {
      if (input.certCN !== null && (typeof input.certCN !== 'string' || input.certCN.length === 0)) throw new Error('certCN: expected a non-empty string');
      certCN = input.certCN;
    }
    const policy = (v: TopicPolicy | null | undefined, field: string, old: string | null) => {
      if (v === undefined) return old;
      if (v === null) return null;
      return JSON.stringify(parseTopicPolicy(v, field));
    };
    return {
      id: input.id,
      name: input.name ?? (existing ? existing.name : ''),
      enabled: enabled === undefined ? (existing ? existing.enabled : 1) : enabled ? 1 : 0,
      username,
      password_hash: passwordHash,
      cert_fingerprint: certFingerprint,
      cert_cn: certCN,
      allow_insecure: allowInsecure === undefined ? (existing ? existing.allow_insecure : 1) : allowInsecure ? 1 : 0,
      publish_policy: policy(input.publish, 'publish', existing ? existing.publish_policy : null),
      subscribe_policy: policy(input.subscribe, 'subscribe', existing ? existing.subscribe_policy : null),
      updated_at: now,
    };
  }
}

function toDevice(row: Row): Device {
  const d: Device = {
    id: row.id,
    name: row.name,
    enabled: row.enabled === 1,
    hasPassword: !!row.password_hash,
    certCN: row.cert_cn ?? row.id,
    allowInsecure: row.allow_insecure === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.username !== null) d.username = row.username;
  if (row.cert_fingerprint !== null) d.certFingerprint = row.cert_fingerprint;
  if (row.publish_policy) d.publish = JSON.parse(row.publish_policy);
  if (row.subscribe_policy) d.subscribe = JSON.parse(row.subscribe_policy);
  return d;
}
