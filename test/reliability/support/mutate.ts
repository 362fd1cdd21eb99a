// Valid MQTT 3.1.1 packets from a seeded PRNG, and the ways to break them that
// the fuzz tests and the soak apply: truncation, oversize, bit flips, wrong
// flags, invalid UTF-8, U+0000, huge remaining length, wrong type, junk.
// Every case is a pure function of (seed, index), so a failure names its seed.
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { mulberry32 } from '../../../boards/sim/sensors';

/** mulberry32 (the simulator's): small, fast, good enough to pick mutations. */
export const rng = (seed: number): (() => number) => mulberry32(seed);

export type Rand = () => number;
export const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** Per-case seed: independent cases, reproducible one by one. */
export const caseSeed = (seed: number, i: number) => (Math.imul(seed ^ 0x9e3779b9, 2654435761) + Math.imul(i + 1, 0x85ebca6b)) >>> 0;

const LEVELS = ['a', 'b', 'sensor', 'dev-1', 'x', 'temp', 'é', '日本', '$sys'];
function topic(r: Rand): string {
  const n = int(r, 1, 4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(i > 0 && LEVELS[int(r, 0, 7)] === '$sys' ? 'z' : pick(r, LEVELS));
  return parts.join('/');
}
function filter(r: Rand): string {
  const t = topic(r).split('/');
  if (r() < 0.3) t[int(r, 0, t.length - 1)] = '+';
  if (r() < 0.3) t.push('#');
  return t.join('/');
}
function payload(r: Rand, max = 64): Buffer {
  const b = Buffer.alloc(int(r, 0, max));
  for (let i = 0; i < b.length; i++) b[i] = int(r, 0, 255);
  return b;
}
const id = (r: Rand) => int(r, 1, 65535);

const gen = (p: object): Buffer => mqttPacket.generate(p as Packet, { protocolVersion: 4 });

/** A valid packet a client may send to a server (after CONNECT). */
export function clientPacket(r: Rand): Buffer {
  switch (int(r, 0, 7)) {
    case 0: case 1: {
      const qos = int(r, 0, 2);
      return gen({ cmd: 'publish', topic: topic(r), payload: payload(r), qos, retain: r() < 0.2, dup: qos > 0 && r() < 0.2, messageId: qos ? id(r) : undefined });
    }
    case 2: return gen({ cmd: 'subscribe', messageId: id(r), subscriptions: Array.from({ length: int(r, 1, 3) }, () => ({ topic: filter(r), qos: int(r, 0, 2) })) });
    case 3: return gen({ cmd: 'unsubscribe', messageId: id(r), unsubscriptions: Array.from({ length: int(r, 1, 3) }, () => filter(r)) });
    case 4: return gen({ cmd: pick(r, ['puback', 'pubrec', 'pubrel', 'pubcomp']), messageId: id(r) });
    case 5: return gen({ cmd: 'pingreq' });
    case 6: return connectPacket(r, `fz-${int(r, 0, 1e6)}`);
    default: return gen({ cmd: 'publish', topic: topic(r), payload: payload(r, 600), qos: 1, retain: false, dup: false, messageId: id(r) });
  }
}

export function connectPacket(r: Rand, clientId: string): Buffer {
  const will = r() < 0.3 ? { topic: topic(r), payload: payload(r, 16), qos: int(r, 0, 2), retain: r() < 0.3 } : undefined;
  const user = r() < 0.3;
  return gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: int(r, 0, 600),
    ...(will ? { will } : {}), ...(user ? { username: 'u', ...(r() < 0.5 ? { password: Buffer.from('p') } : {}) } : {}) });
}

/** A valid packet a server may send to a client. */
export function serverPacket(r: Rand): Buffer {
  switch (int(r, 0, 6)) {
    case 0: return gen({ cmd: 'connack', returnCode: int(r, 0, 5), sessionPresent: r() < 0.5 });
    case 1: case 2: {
      const qos = int(r, 0, 2);
      return gen({ cmd: 'publish', topic: topic(r), payload: payload(r, 200), qos, retain: r() < 0.2, dup: qos > 0 && r() < 0.2, messageId: qos ? id(r) : undefined });
    }
    case 3: return gen({ cmd: pick(r, ['puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback']), messageId: id(r) });
    case 4: return gen({ cmd: 'suback', messageId: id(r), granted: Array.from({ length: int(r, 1, 4) }, () => pick(r, [0, 1, 2, 0x80])) });
    default: return gen({ cmd: 'pingresp' });
  }
}

/** Remaining-length bytes for n (1..4 bytes; n up to 268,435,455). */
export function lengthBytes(n: number): number[] {
  const out: number[] = [];
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    out.push(d);
  } while (n > 0);
  return out;
}

/** Splits a frame into header byte, length bytes and body. */
export function split(frame: Buffer): { h: number; body: Buffer } {
  let i = 1;
  while (frame[i] & 0x80) i++;
  return { h: frame[0], body: frame.subarray(i + 1) };
}

export const frame = (h: number, body: Buffer | number[]): Buffer => Buffer.concat([Buffer.from([h, ...lengthBytes(body.length)]), Buffer.from(body)]);

export const MUTATIONS = ['none', 'truncate', 'oversize', 'bitflip', 'wrongflags', 'badutf8', 'nul', 'hugelength', 'fivebytelength', 'wrongtype', 'junk', 'splice', 'cutshort'] as const;
export type Mutation = typeof MUTATIONS[number];

/** Where a topic or filter string starts in a body, when the packet has one at a known place. */
function firstStringAt(h: number): number | null {
  const t = h >> 4;
  if (t === 3) return 0; // PUBLISH topic
  if (t === 8 || t === 10) return 2; // after the packet id
  return null;
}

/**
 * Applies one mutation. `max` is the receiver's packet size limit (for oversize).
 * Returns the bytes and whether they are invalid by construction (a receiver must
 * refuse them); some mutations (bit flips, truncation, junk) may or may not break.
 */
export function mutate(r: Rand, valid: Buffer, m: Mutation, max: number): { bytes: Buffer; mustRefuse: boolean } {
  const { h, body } = split(valid);
  const t = h >> 4;
  switch (m) {
    case 'none': return { bytes: valid, mustRefuse: false };
    case 'truncate': {
      if (body.length === 0) return { bytes: frame(h, [0]), mustRefuse: true };
      const cut = int(r, 0, body.length - 1);
      return { bytes: frame(h, body.subarray(0, cut)), mustRefuse: false };
    }
    case 'cutshort': {
      // The stream ends inside the packet: the length promises bytes that never come.
      return { bytes: valid.subarray(0, int(r, 1, valid.length - 1)), mustRefuse: true };
    }
    case 'oversize': {
      const extra = Buffer.alloc(max + int(r, 1, 64));
      return { bytes: frame(h, Buffer.concat([body, extra])), mustRefuse: true };
    }
    case 'bitflip': {
      const b = Buffer.from(valid);
      const n = int(r, 1, 3);
      for (let k = 0; k < n; k++) { const i = int(r, 0, b.length - 1); b[i] ^= 1 << int(r, 0, 7); }
      return { bytes: b, mustRefuse: false };
    }
    case 'wrongflags': {
      // Packet types whose flags are fixed: anything else in the low nibble is malformed [MQTT-2.2.2-2].
      if (t === 3) return { bytes: frame(h | 0x06, body), mustRefuse: true }; // QoS 3
      const want = t === 6 || t === 8 || t === 10 ? 2 : 0;
      let f = int(r, 0, 15);
      if (f === want) f ^= 1;
      return { bytes: frame((h & 0xf0) | f, body), mustRefuse: true };
    }
    case 'badutf8': case 'nul': {
      const at = firstStringAt(h);
      if (at === null || body.length < at + 3) return mutate(r, valid, 'wrongflags', max);
      const len = body.readUInt16BE(at);
      if (len === 0) return mutate(r, valid, 'wrongflags', max);
      const b = Buffer.from(body);
      const bad = m === 'nul' ? [0x00] : pick(r, [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]);
      const pos = at + 2 + int(r, 0, len - 1);
      const out = Buffer.concat([b.subarray(0, pos), Buffer.from(bad), b.subarray(pos + 1)]);
      out.writeUInt16BE(len - 1 + bad.length, at);
      return { bytes: frame(h, out), mustRefuse: true };
    }
    case 'hugelength': {
      // Claims up to 256 MB and sends only the start.
      const n = int(r, max + 1, 268_435_455);
      return { bytes: Buffer.concat([Buffer.from([h, ...lengthBytes(n)]), body]), mustRefuse: true };
    }
    case 'fivebytelength': return { bytes: Buffer.from([h, 0xff, 0xff, 0xff, 0xff, 0x7f]), mustRefuse: true };
    case 'wrongtype': {
      // Reserved types 0 and 15 are refused by both sides.
      return { bytes: frame(pick(r, [0x00, 0xf0]) | (h & 0x0f), body), mustRefuse: true };
    }
    case 'junk': {
      const b = Buffer.alloc(int(r, 1, 40));
      for (let i = 0; i < b.length; i++) b[i] = int(r, 0, 255);
      return { bytes: b, mustRefuse: false };
    }
    case 'splice': {
      const b = Buffer.from(body);
      const at = int(r, 0, b.length);
      const ins = Buffer.alloc(int(r, 1, 4));
      for (let i = 0; i < ins.length; i++) ins[i] = int(r, 0, 255);
      return { bytes: frame(h, Buffer.concat([b.subarray(0, at), ins, b.subarray(at)])), mustRefuse: false };
    }
  }
}

/** One fuzz case: a valid packet, a mutation of it, reproducible from (seed, i). */
export function fuzzCase(seed: number, i: number, side: 'toServer' | 'toClient', max: number) {
  const r = rng(caseSeed(seed, i));
  const valid = side === 'toServer' ? clientPacket(r) : serverPacket(r);
  const m = MUTATIONS[int(r, 0, MUTATIONS.length - 1)];
  return { mutation: m, valid, ...mutate(r, valid, m, max) };
}

/** Random chunk boundaries, so split reads are fuzzed too. */
export function chunks(r: Rand, b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    const n = r() < 0.5 ? b.length - i : int(r, 1, Math.max(1, b.length - i));
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}
