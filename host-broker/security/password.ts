// Password hashing for device credentials: scrypt with a random salt per
// password, compared in constant time. The stored form names its parameters so
// they can be raised later without breaking stored hashes.
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'crypto';

const PREFIX = 'scrypt';
const KEY_LEN = 32;
const SALT_LEN = 16;
// N=2^14, r=8, p=1: the interactive-login cost scrypt's author recommends (~16 MiB, tens of ms).
const DEFAULT = { N: 16384, r: 8, p: 1 };

export interface ScryptParams { N: number; r: number; p: number }

/** Hash a password: `scrypt$N$r$p$<salt b64>$<key b64>`. */
export function hashPassword(password: string | Buffer, params: ScryptParams = DEFAULT): string {
  if (password.length === 0) {
    throw new Error('password: expected a non-empty string');
  }
  const salt = randomBytes(SALT_LEN);
  const key = scryptSync(password, salt, KEY_LEN, scryptOptions(params));
  return [PREFIX, params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Parse a stored hash; throws naming what is wrong. */
export function parsePasswordHash(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) {
    throw new Error('passwordHash: expected "scrypt$N$r$p$salt$key"');
  }
  const N = Number(parts[1]);
  const r = Number(parts[2]);
  const p = Number(parts[3]);
  if (!Number.isInteger(N) || N < 2 || (N & (N - 1)) !== 0 || N > 1048576) throw new Error('passwordHash: N must be a power of two between 2 and 2^20');
  if (!Number.isInteger(r) || r < 1 || r > 32) throw new Error('passwordHash: r must be an integer 1..32');
  if (!Number.isInteger(p) || p < 1 || p > 16) throw new Error('passwordHash: p must be an integer 1..16');
  const salt = Buffer.from(parts[4], 'base64');
  const key = Buffer.from(parts[5], 'base64');
  if (salt.length < 8) throw new Error('passwordHash: salt must be at least 8 bytes');
  if (key.length < 16) throw new Error('passwordHash: key must be at least 16 bytes');
  return { params: { N, r, p }, salt, key };
}

function tryParse(stored: string) {
  try { return parsePasswordHash(stored); } catch { return null; }
}

/** True when `password` matches `stored`. A wrong password or a malformed stored hash is false, never an exception. */
export function verifyPassword(password: string | Buffer | undefined, stored: string | undefined): boolean {
  if (password === undefined || stored === undefined) return false;
  const parsed = tryParse(stored);
  if (!parsed) return false;
  const candidate = scryptSync(password, parsed.salt, parsed.key.length, scryptOptions(parsed.params));
  return timingSafeEqual(candidate, parsed.key);
}

/** The same check off the event loop (libuv pool), so a burst of CONNECTs cannot stall the broker. */
export function verifyPasswordAsync(password: string | Buffer | undefined, stored: string | undefined): Promise<boolean> {
  if (password === undefined || stored === undefined) return Promise.resolve(false);
  const parsed = tryParse(stored);
  if (!parsed) return Promise.resolve(false);
  return new Promise((resolve) => {
    scrypt(password, parsed.salt, parsed.key.length, scryptOptions(parsed.params), (err, candidate) => {
      resolve(!err && timingSafeEqual(candidate, parsed.key));
    });
  });
}

function scryptOptions(params: ScryptParams) {
  // maxmem must cover 128 * N * r bytes; allow what parsePasswordHash accepts.
  return { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r + 1024 * 1024 };
}
