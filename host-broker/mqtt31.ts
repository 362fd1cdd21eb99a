// MQTT 3.1 (protocol name "MQIsdp", level 3): what it does differently from
// 3.1.1, in one place. Old firmware still speaks it; the rest of the hub reads
// its packets as 3.1.1 once they are made canonical here.
//
// - The fixed header flags of every packet but PUBLISH are "not used" in 3.1
//   (a retried SUBSCRIBE, UNSUBSCRIBE or PUBREL may carry DUP), and so is bit 0
//   of the CONNECT flags: they are ignored, not refused.
// - The client id is 1 to 23 bytes; anything else is answered with CONNACK 2,
//   "identifier rejected" (3.1 has no server-assigned ids).
// - CONNACK's first byte is reserved: there is no session-present flag.
// - CONNACK return codes 0-5 mean what they mean in 3.1.1 (3.1.1 took them over).
// - SUBACK has no failure code in 3.1: a refused filter gets 0x80 as in 3.1.1.
import type { Frame } from './frame-reader';

export const MQTT31_NAME = 'MQIsdp';
export const MQTT31_LEVEL = 3;
/** The longest client id MQTT 3.1 allows, in bytes. */
export const MQTT31_MAX_CLIENT_ID = 23;

const CONNECT = 1;
const PUBLISH = 3;
/** Packet types whose fixed header flags are 0010 in 3.1.1 (PUBREL, SUBSCRIBE, UNSUBSCRIBE); the rest have 0000. */
const FLAGS_0010 = new Set([6, 8, 10]);

/** The protocol a CONNECT frame asks for: its name and level, or null if the frame is too short to say. */
export function connectProtocol(f: Frame): { name: string; level: number } | null {
  const b = f.bytes;
  let at = f.bodyStart;
  if (b.length - at < 2) return null;
  const n = b.readUInt16BE(at);
  at += 2;
  if (b.length - at < n + 1) return null;
  return { name: b.toString('latin1', at, at + n), level: b[at + n] };
}

/** Whether a CONNECT frame is MQTT 3.1. */
export function isMqtt31Connect(f: Frame): boolean {
  const p = connectProtocol(f);
  return !!p && p.name === MQTT31_NAME && p.level === MQTT31_LEVEL;
}

/**
 * A copy of a 3.1 frame with the bits 3.1 leaves unused set as 3.1.1 requires,
 * for the 3.1.1 decoder: canonical fixed header flags (except PUBLISH), and for
 * CONNECT the reserved bit cleared (and Will QoS/retain cleared without a Will).
 */
export function canonicalFrom31(f: Frame): Buffer {
  const type = f.header >> 4;
  if (type === PUBLISH) return f.bytes;
  const b = Buffer.from(f.bytes);
  b[0] = (type << 4) | (FLAGS_0010.has(type) ? 0x2 : 0);
  if (type === CONNECT) {
    const p = connectProtocol(f);
    if (p) {
      const flagsAt = f.bodyStart + 2 + p.name.length + 1;
      if (flagsAt < b.length) {
        let cf = b[flagsAt] & 0xfe;
        if ((cf & 0x04) === 0) cf &= ~0x38;
        b[flagsAt] = cf;
      }
    }
  }
  return b;
}
