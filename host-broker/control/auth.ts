// Who may use the control API and the console: one secret (a token the hub
// makes, or a password from the config), checked here and nowhere else, so
// every route on the control listener (the JSON API, the console, /metrics)
// shares the same gate. Callers send `Authorization: Bearer <token>`; the
// console's browser logs in once and then sends a session cookie.
import { createHash, randomBytes, timingSafeEqual } from 'crypto';
import * as fs from 'fs';
import type { IncomingMessage } from 'http';
import * as path from 'path';
import type { HubEvent } from '../hooks';
import { AuthFailureThrottle } from '../security/auth-throttle';
import { hashPassword, parsePasswordHash, verifyPasswordAsync } from '../security/password';

/** The file in the data dir that holds the scrypt hash of the generated token. */
export const TOKEN_FILE = 'control-token.json';
export const SESSION_COOKIE = 'hub_session';
/** Header a cookie-authenticated POST/DELETE must carry: a cross-site form cannot set it (CSRF). */
export const CONSOLE_HEADER = 'x-hub-console';

export type AuthCheck =
  | { ok: true; via: 'bearer' | 'session' | 'open' }
  | { ok: false; status: 401 | 403 | 429; reason: string };

export interface ControlAuthOptions {
  /** scrypt hash (password.ts format) of the token or password. */
  hash: string;
  /** The file the hash came from: re-read when it changes (`host-broker control-token reset` on a running hub). */
  file?: string;
  /** Console sessions last this long without use; default 12 h. */
  sessionIdleMs?: number;
  /** Failed logins per address before it is refused for a while (as MQTT logins); default 10 per minute. */
  throttle?: AuthFailureThrottle;
  /** Told of failed logins (broker.hubEvent). */
  report?: (ev: HubEvent) => void;
  now?: () => number;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** A fresh token: 24 random bytes, URL-safe base64 (32 characters). */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Writes the hash of a new token to <dataDir>/control-token.json (mode 0600) and returns the token. */
export function resetStoredToken(dataDir: string): { token: string; file: string } {
  const token = newToken();
  const file = path.join(dataDir, TOKEN_FILE);
  fs.mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ hash: hashPassword(token), createdAt: new Date().toISOString() }) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
  return { token, file };
}

/** The stored hash, or undefined when there is none yet. Throws naming the file when it is unreadable. */
export function readStoredTokenHash(file: string): string | undefined {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (err: any) {
    if (err.code === 'ENOENT') return undefined;
    throw new Error(`${file}: cannot read the control token hash (${err.code ?? err.message})`, { cause: err });
  }
  let hash: unknown;
  try { hash = JSON.parse(text).hash; } catch { hash = undefined; }
  try { parsePasswordHash(String(hash)); } catch (err: any) {
    throw new Error(`${file}: ${err.message}; delete the file (a new token is made at the next start) or run host-broker control-token reset`, { cause: err });
  }
  return hash as string;
}

/**
 * The hash the hub uses, and the token when it was made just now (print it once:
 * only its hash is kept). Precedence: the config's token or tokenHash, then the
 * stored one, else a new one.
 */
export function resolveControlSecret(dataDir: string, cfg: { token?: string; tokenHash?: string }): { hash: string; file?: string; newToken?: string; source: 'config' | 'stored' | 'new' } {
  if (cfg.token !== undefined) return { hash: hashPassword(cfg.token), source: 'config' };
  if (cfg.tokenHash !== undefined) return { hash: cfg.tokenHash, source: 'config' };
  const file = path.join(dataDir, TOKEN_FILE);
  const stored = readStoredTokenHash(file);
  if (stored) return { hash: stored, file, source: 'stored' };
  const made = resetStoredToken(dataDir);
  return { hash: readStoredTokenHash(file)!, file, newToken: made.token, source: 'new' };
}

/** 127.0.0.0/8, ::1 and localhost: the addresses where running without a token is allowed. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./.test(host);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export class ControlAuth {
  private hash: string;
  private readonly file?: string;
  private fileStamp = '';
  /** sha256 of tokens already verified with scrypt: scrypt costs tens of ms, too much per request. */
  private verified: Buffer[] = [];
  private readonly sessions = new Map<string, number>();
  private readonly idleMs: number;
  private readonly throttle: AuthFailureThrottle;
  private readonly report?: (ev: HubEvent) => void;
  private readonly now: () => number;

  constructor(opts: ControlAuthOptions) {
    parsePasswordHash(opts.hash);
    this.hash = opts.hash;
    this.file = opts.file;
    if (this.file) this.fileStamp = this.stamp();
    this.idleMs = opts.sessionIdleMs ?? 12 * 3600_000;
    this.report = opts.report;
    this.now = opts.now ?? Date.now;
    this.throttle = opts.throttle ?? new AuthFailureThrottle({ report: opts.report, now: this.now });
  }

  /** mtime and inode: a reset writes a new file (rename), so the inode changes even within one millisecond. */
  private stamp(): string {
    try { const st = fs.statSync(this.file!); return `${st.mtimeMs}:${st.ino}:${st.size}`; } catch { return ''; }
  }

  /** A reset token file replaces the secret: earlier tokens and sessions stop working. */
  private reloadIfChanged(): void {
    if (!this.file) return;
    const m = this.stamp();
    if (m === this.fileStamp) return;
    this.fileStamp = m;
    const h = readStoredTokenHash(this.file);
    if (h && h !== this.hash) {
      this.hash = h;
      this.verified = [];
      this.sessions.clear();
    }
  }

  /** Whether `token` is the secret (scrypt once per distinct token, then a constant-time digest compare). */
  async verify(token: string, remoteAddress: string): Promise<boolean> {
    this.reloadIfChanged();
    const digest = sha256(token);
    if (this.verified.some((d) => timingSafeEqual(d, digest))) return true;
    if (token.length > 0 && token.length <= 1024 && await verifyPasswordAsync(token, this.hash)) {
      if (this.verified.length >= 16) this.verified.shift();
      this.verified.push(digest);
      return true;
    }
    this.throttle.recordFailure(remoteAddress);
    this.report?.({ kind: 'authentication_failure', severity: 'warning', objectType: 'hub', objectId: 'control-api',
      message: `a control API or console login from ${remoteAddress} gave a wrong token` });
    return false;
  }

  /**
   * The one gate: may this request go on? A bearer token, or a console session cookie
   * (then POST/DELETE must also carry the x-hub-console header).
   */
  async check(req: IncomingMessage): Promise<AuthCheck> {
    const addr = req.socket.remoteAddress ?? '';
    const blocked = this.throttle.blockedFor(addr);
    if (blocked > 0) return { ok: false, status: 429, reason: `too many wrong tokens from ${addr}; try again in ${Math.ceil(blocked / 1000)} s` };
    const authz = req.headers.authorization;
    if (authz !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authz);
      if (!m) return { ok: false, status: 401, reason: 'authorization: expected "Bearer <token>"' };
      if (await this.verify(m[1], addr)) return { ok: true, via: 'bearer' };
      return { ok: false, status: 401, reason: 'authorization: wrong token' };
    }
    const sid = cookie(req, SESSION_COOKIE);
    if (sid !== undefined && this.touchSession(sid)) {
      const unsafe = req.method !== 'GET' && req.method !== 'HEAD';
      if (unsafe && req.headers[CONSOLE_HEADER] === undefined) {
        return { ok: false, status: 403, reason: `${CONSOLE_HEADER}: a console request that changes something must carry this header` };
      }
      return { ok: true, via: 'session' };
    }
    return { ok: false, status: 401, reason: `authentication required: send "Authorization: Bearer <token>" (the token host-broker printed at first start; HOST_BROKER_TOKEN for the CLI)${sid !== undefined ? '; the console session has expired, log in again' : ''}` };
  }

  /** Console login: a new session id for the cookie, or why not. */
  async login(token: unknown, remoteAddress: string): Promise<{ ok: true; session: string; maxAgeS: number } | { ok: false; status: 400 | 401 | 429; reason: string }> {
    const blocked = this.throttle.blockedFor(remoteAddress);
    if (blocked > 0) return { ok: false, status: 429, reason: `too many wrong tokens from ${remoteAddress}; try again in ${Math.ceil(blocked / 1000)} s` };
    if (typeof token !== 'string' || token === '') return { ok: false, status: 400, reason: 'token: required (a non-empty string)' };
    if (!await this.verify(token, remoteAddress)) return { ok: false, status: 401, reason: 'token: wrong token' };
    this.pruneSessions();
    const session = randomBytes(24).toString('base64url');
    this.sessions.set(session, this.now());
    return { ok: true, session, maxAgeS: Math.floor(this.idleMs / 1000) };
  }

  logout(req: IncomingMessage): void {
    const sid = cookie(req, SESSION_COOKIE);
    if (sid !== undefined) this.sessions.delete(sid);
  }

  private touchSession(sid: string): boolean {
    this.reloadIfChanged();
    const last = this.sessions.get(sid);
    if (last === undefined) return false;
    if (this.now() - last > this.idleMs) { this.sessions.delete(sid); return false; }
    this.sessions.set(sid, this.now());
    return true;
  }

  private pruneSessions(): void {
    const t = this.now();
    for (const [sid, last] of this.sessions) if (t - last > this.idleMs) this.sessions.delete(sid);
    // Bounded: a flood of logins (each needs the token) cannot grow memory without end.
    while (this.sessions.size >= 1000) this.sessions.delete(this.sessions.keys().next().value as string);
  }
}
