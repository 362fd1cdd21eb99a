// The client half of MQTT 3.1.1 that a bridge link needs, on the hub's own
// codec, so a hub with bridges still does not load mqtt-packet (see
// packet-decoder.ts): encoders for CONNECT, SUBSCRIBE, PINGREQ and DISCONNECT
// (PUBLISH and the acknowledgements go through OutBuffer), and a checked decoder
// for what a server sends. PUBLISH and the acknowledgements pass the same checks
// as a device's (checkFrame) and the same decoders (decodeHot, decodeChecked);
// CONNACK, SUBACK, UNSUBACK and PINGRESP are checked and read here.
import type { Packet } from 'mqtt-packet';
import type { Frame } from '../frame-reader';
import { checkFrame, packetName } from '../packet-checks';
import { decodeChecked } from '../packet-decoder';
import { decodeHot } from '../packet-reader';
import { writeRemainingLength } from '../packet-writer';
import type { QoS } from '../store/types';

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** A fixed header byte, the remaining length, then the body. */
function frame(header: number, body: Buffer[]): Buffer {
  let n = 0;
  for (const b of body) n += b.length;
  const head = Buffer.alloc(5);
  head[0] = header;
  return Buffer.concat([head.subarray(0, writeRemainingLength(head, 1, n)), ...body]);
}

/** A length-prefixed field [MQTT-1.5.3]. */
function field(b: Buffer): Buffer {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(b.length);
  return Buffer.concat([h, b]);
}

export interface ConnectOptions { clientId: string; clean: boolean; keepalive: number; username?: string; password?: Buffer }

/** CONNECT, protocol level 4, no Will [MQTT-3.1]. */
export function encodeConnect(o: ConnectOptions): Buffer {
  const flags = (o.username !== undefined ? 0x80 : 0) | (o.password !== undefined ? 0x40 : 0) | (o.clean ? 0x02 : 0);
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(o.keepalive);
  return frame(0x10, [
    field(utf8('MQTT')), Buffer.from([4, flags]), keepalive,
    field(utf8(o.clientId)),
    ...(o.username !== undefined ? [field(utf8(o.username))] : []),
    ...(o.password !== undefined ? [field(o.password)] : []),
  ]);
}

/** SUBSCRIBE [MQTT-3.8]: fixed header flags 0b0010. */
export function encodeSubscribe(messageId: number, subs: { topic: string; qos: QoS }[]): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return frame(0x82, [id, ...subs.flatMap((s) => [field(utf8(s.topic)), Buffer.from([s.qos])])]);
}

export const PINGREQ = Buffer.from([0xc0, 0]);
export const DISCONNECT = Buffer.from([0xe0, 0]);

const packet = (cmd: string, extra: Record<string, unknown>) =>
  ({ cmd, retain: false, qos: 0, dup: false, length: 0, topic: null, payload: null, ...extra }) as unknown as Packet;

/** A packet from the upstream, or why it is malformed (the link then ends). */
export function decodeFromServer(f: Frame): Packet | { error: string } {
  const type = f.header >> 4;
  const flags = f.header & 0x0f;
  const b = f.bytes;
  const body = b.subarray(f.bodyStart);
  const name = packetName(f.header);
  const bad = (why: string) => ({ error: `${name} ${why}` });
  switch (type) {
    case 3: case 4: case 5: case 6: case 7: {
      // The same checks and decoders as for a device's PUBLISH and acknowledgements.
      const why = checkFrame(f);
      if (why) return { error: why.message };
      return decodeHot(f) ?? decodeChecked(f);
    }
    case 2:
      if (flags !== 0 || body.length !== 2) return bad('must have flags 0 and 2 bytes of body [MQTT-3.2]');
      if (body[0] & 0xfe) return bad('has reserved acknowledge flags set [MQTT-3.2.2-1]');
      return packet('connack', { length: 2, sessionPresent: (body[0] & 1) === 1, returnCode: body[1] });
    case 9: {
      if (flags !== 0 || body.length < 3) return bad('must have flags 0, a packet id and at least one return code [MQTT-3.9]');
      const messageId = body.readUInt16BE(0);
      const granted = [...body.subarray(2)];
      if (messageId === 0) return bad('has packet id 0 [MQTT-2.3.1-1]');
      if (granted.some((g) => g !== 0 && g !== 1 && g !== 2 && g !== 0x80)) return bad('has a return code other than 0, 1, 2 or 0x80 [MQTT-3.9.3-2]');
      return packet('suback', { length: body.length, messageId, granted });
    }
    case 11:
      if (flags !== 0 || body.length !== 2) return bad('must have flags 0 and 2 bytes of body [MQTT-3.11]');
      return packet('unsuback', { length: 2, messageId: body.readUInt16BE(0) });
    case 13:
      if (flags !== 0 || body.length !== 0) return bad('must have flags 0 and no body [MQTT-3.13]');
      return packet('pingresp', {});
    case 1: case 8: case 10: case 12: case 14:
      return { error: `a server must not send ${name}` };
    default:
      return { error: `packet type ${type} is reserved [MQTT-2.2.1]` };
  }
}
