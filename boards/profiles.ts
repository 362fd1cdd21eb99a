// Board profiles are data (boards/*.json); this module loads and validates them
// for the build, the simulator and the tools.
import * as fs from 'fs';
import * as path from 'path';

export interface BoardProfile {
  name: string;
  description: string;
  /** JsVars the interpreter has on this board. */
  vars: number;
  varBytes: number;
  /** Largest chunk one socket 'data' event delivers. */
  chunkSize: number;
  tls: boolean;
  storage: boolean;
  /** Bytes of Storage (flash) the firmware for this board gives files (Espruino's board file: saved_code pages x page size). */
  storageBytes: number;
  /** Whether the interpreter's strings are unicode (Linux build) or raw bytes (ESP builds). */
  unicode: boolean;
  /** connackText: CONNACK refusals name the reason ("connack: 4 bad user name or password"), not only the code ("connack: 4"). */
  features: { qos2: boolean; will: boolean; session: boolean; reconnect: boolean; tls: boolean; connackText: boolean };
  /** Client defaults; memoryMargin: vars an inbound packet must leave free to be kept. */
  client: { maxPacket: number; maxInflight: number; outboxCount: number; outboxBytes: number; memoryMargin: number };
  wifi: { module: string; ssidEnv: string; passwordEnv: string } | null;
}

export const BOARDS_DIR = __dirname;

export function listBoards(): string[] {
  return fs.readdirSync(BOARDS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

export function loadBoard(name: string): BoardProfile {
  const file = path.join(BOARDS_DIR, name + '.json');
  if (!/^[a-z0-9_-]+$/.test(name) || !fs.existsSync(file)) {
    throw new Error(`unknown board "${name}": expected one of ${listBoards().join(', ')}`);
  }
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as BoardProfile;
  for (const k of ['vars', 'chunkSize', 'storageBytes'] as const) {
    if (!Number.isInteger(p[k]) || p[k] <= 0) throw new Error(`board ${name}: "${k}" must be a positive integer`);
  }
  if (p.name !== name) throw new Error(`board ${name}: "name" is "${p.name}", expected "${name}"`);
  return p;
}
