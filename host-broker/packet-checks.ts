// Strict checks on a whole frame's bytes, for what mqtt-packet lets through:
// exact lengths, reserved flags, packet id 0, UTF-8 well-formedness, U+0000 and
// the code points [MQTT-1.5.3] lets a receiver refuse (control characters,
// non-characters), wildcards in topic names, empty SUBSCRIBE/UNSUBSCRIBE,
// CONNECT flag rules. Strict on purpose: the hub is there to catch firmware bugs.
import { checkFilter, checkTopic } from '../firmware/topic';
import type { Frame } from './frame-reader';
import { MQTT31_LEVEL, MQTT31_NAME } from './mqtt31';

export type CheckResult =
  | null
  | { kind: 'malformed_packet' | 'protocol_violation'; message: string }
  /** CONNECT with a protocol level we do not speak: answer CONNACK 0x01, then close [MQTT-3.1.2-2]. */
  | { kind: 'unsupported_protocol'; message: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The first code point of `s` that [MQTT-1.5.3] says a string SHOULD NOT hold and a
 * receiver MAY close the connection for: the control characters U+0001..U+001F and
 * U+007F..U+009F, and the non-characters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF), named
 * like "U+0001, a control character"; null if there is none. (U+0000 has its own
 * rule, [MQTT-1.5.3-2].)
 */
export function refusedCodePoint(s: string): string | null {
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const control = (c >= 0x01 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f);
    if (control || (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) === 0xfffe) {
      return `U+${c.toString(16).toUpperCase().padStart(4, '0')}, ${control ? 'a control character' : 'a non-character'}`;
    }
  }
  return null;
}

class Bad extends Error {}

class Reader {
  pos: number;
  constructor(private b: Buffer, start: number) { this.pos = start; }
  get left(): number { return this.b.length - this.pos; }
  u8(what: string): number {
    if (this.left < 1) throw new Bad(`packet ends before ${what}`);
    return this.b[this.pos++];
  }
  u16(what: string): number {
    if (this.left < 2) throw new Bad(`packet ends before ${what}`);
    const v = this.b.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  bytes(what: string): Buffer {
    const n = this.u16(`the length of ${what}`);
    if (this.left < n) throw new Bad(`${what} claims ${n} bytes but only ${this.left} remain`);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A UTF-8 string field [MQTT-1.5.3-1], [MQTT-1.5.3-2]. */
  str(what: string): string {
    const raw = this.bytes(what);
    let s: string;
    try { s = utf8.decode(raw); } catch { throw new Bad(`${what} is not well-formed UTF-8 [MQTT-1.5.3-1]`); }
    if (s.indexOf('\u0000') >= 0) throw new Bad(`${what} contains U+0000 [MQTT-1.5.3-2]`);
    const refused = refusedCodePoint(s);
    if (refused) throw new Bad(`${what} contains ${refused} [MQTT-1.5.3]`);
    return s;
  }
  packetId(what: string): number {
    const id = this.u16(`the packet id of ${what}`);
    if (id === 0) throw new Bad(`${what} has packet id 0 [MQTT-2.3.1-1]`);
    return id;
  }
  end(what: string): void {
    if (this.left !== 0) throw new Bad(`${what} has ${this.left} unexpected trailing bytes`);
  }
}

const NAMES = ['reserved(0)', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'reserved(15)'];

export function packetName(header: number): string { return NAMES[header >> 4]; }

/**
 * Checks one frame received by the server. `level`: the protocol level of the
 * connection (4 until CONNECT says otherwise); MQTT 3.1 (3) leaves the fixed
 * header flags of every packet but PUBLISH unused, so they are not checked.
 */
export function checkFrame(f: Frame, level = 4): CheckResult {
  const type = f.header >> 4;
  const flags = f.header & 0x0f;
  const name = NAMES[type];
  const r = new Reader(f.bytes, f.bodyStart);
  const flagsMust = (v: number, id: string) => {
    if (level !== MQTT31_LEVEL && flags !== v) throw new Bad(`${name} has fixed header flags 0x${flags.toString(16)}, must be 0x${v.toString(16)} [${id}]`);
  };
  try {
    switch (type) {
      case 1: return checkConnect(r, flags);
      case 3: {
        const qos = (flags >> 1) & 3;
        if (qos === 3) throw new Bad('PUBLISH has QoS 3 [MQTT-3.3.1-4]');
        if (qos === 0 && flags & 0x08) throw new Bad('PUBLISH QoS 0 has DUP set [MQTT-3.3.1-2]');
        const topic = r.str('PUBLISH topic');
        const why = checkTopic(topic);
        if (why) throw new Bad(`PUBLISH ${why} [MQTT-3.3.2-1]`);
        if (qos > 0) r.packetId('PUBLISH');
        return null;
      }
      case 4: case 5: case 6: case 7:
        flagsMust(type === 6 ? 2 : 0, type === 6 ? 'MQTT-3.6.1-1' : 'MQTT-2.2.2-1');
        r.packetId(name);
        r.end(name);
        return null;
      case 8: case 10: {
        flagsMust(2, type === 8 ? 'MQTT-3.8.1-1' : 'MQTT-3.10.1-1');
        r.packetId(name);
        if (r.left === 0) throw new Bad(`${name} has no topic filters [${type === 8 ? 'MQTT-3.8.3-3' : 'MQTT-3.10.3-2'}]`);
        while (r.left > 0) {
          const filter = r.str(`${name} topic filter`);
          const why = checkFilter(filter);
          if (why) throw new Bad(`${name} ${why} [MQTT-4.7.1-1]`);
          if (type === 8) {
            const q = r.u8('the requested QoS');
            if (q & 0xfc || q === 3) throw new Bad(`SUBSCRIBE requested QoS byte 0x${q.toString(16)} has reserved bits or QoS 3 [MQTT-3-8.3-4]`);
          }
        }
        return null;
      }
      case 12: case 14:
        flagsMust(0, 'MQTT-2.2.2-1');
        r.end(name);
        return null;
      case 2: case 9: case 11: case 13:
        return { kind: 'protocol_violation', message: `a client must not send ${name}` };
      default:
        return { kind: 'malformed_packet', message: `packet type ${type} is reserved [MQTT-2.2.1]` };
    }
  } catch (e) {
    if (e instanceof Bad) return { kind: 'malformed_packet', message: e.message };
    throw e;
  }
}

function checkConnect(r: Reader, flags: number): CheckResult {
  const proto = r.str('protocol name');
  const level = r.u8('the protocol level');
  const v31 = proto === MQTT31_NAME;
  if (proto !== 'MQTT' && !v31) throw new Bad(`protocol name ${JSON.stringify(proto)} is not "MQTT" (nor "MQIsdp", MQTT 3.1) [MQTT-3.1.2-1]`);
  if ((v31 && level !== MQTT31_LEVEL) || (!v31 && level !== 4)) {
    return { kind: 'unsupported_protocol', message: `protocol ${proto} level ${level} is not supported; this hub speaks MQTT 3.1.1 (MQTT level 4) and MQTT 3.1 (MQIsdp level 3) [MQTT-3.1.2-2]` };
  }
  // MQTT 3.1 leaves the fixed header flags and connect flag bit 0 unused (see mqtt31.ts); 3.1.1 makes them rules.
  if (!v31 && flags !== 0) throw new Bad(`CONNECT has fixed header flags 0x${flags.toString(16)}, must be 0 [MQTT-2.2.2-1]`);
  const cf = r.u8('the connect flags');
  if (!v31 && cf & 0x01) throw new Bad('CONNECT reserved flag bit 0 is set [MQTT-3.1.2-3]');
  const will = (cf & 0x04) !== 0;
  const willQos = (cf >> 3) & 3;
  const willRetain = (cf & 0x20) !== 0;
  if (!v31 && !will && willQos !== 0) throw new Bad('CONNECT Will QoS is not 0 without the Will flag [MQTT-3.1.2-13]');
  if (!v31 && !will && willRetain) throw new Bad('CONNECT Will Retain is set without the Will flag [MQTT-3.1.2-15]');
  if (will && willQos === 3) throw new Bad('CONNECT Will QoS is 3 [MQTT-3.1.2-14]');
  const hasUser = (cf & 0x80) !== 0;
  const hasPass = (cf & 0x40) !== 0;
  if (!hasUser && hasPass) throw new Bad('CONNECT has a password without a user name [MQTT-3.1.2-22]');
  r.u16('the keep alive');
  r.str('client id');
  if (will) {
    const topic = r.str('Will topic');
    const why = checkTopic(topic);
    if (why) throw new Bad(`Will ${why} [MQTT-3.1.3-10]`);
    r.bytes('Will message');
  }
  if (hasUser) r.str('user name');
  if (hasPass) r.bytes('password');
  r.end('CONNECT');
  return null;
}
