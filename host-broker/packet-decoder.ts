// Decoder for every packet a client may send, for frames checkFrame() has
// passed (packet-checks.ts): lengths, flags, UTF-8 and field rules are already
// known good here, so this only reads the fields in order. decodeHot()
// (packet-reader.ts) takes the frequent packets first; this takes the rest
// (CONNECT, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT, PUBLISH with a non-ASCII topic).
// The packets have the shape mqtt-packet's parser gives them (tested against
// it), so hooks and handlers cannot tell; the hub does not load mqtt-packet's
// parser (it pulls in a whole streams library: ~8 MB of RSS).
import type { Packet } from 'mqtt-packet';
import type { Frame } from './frame-reader';

const CMDS = ['', 'connect', '', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', '', 'unsubscribe', '', 'pingreq', '', 'disconnect'];

/** Decodes a frame that passed checkFrame(). */
export function decodeChecked(f: Frame): Packet {
  const b = f.bytes;
  const flags = f.header & 0x0f;
  const type = f.header >> 4;
  let at = f.bodyStart;
  const u16 = () => { const v = (b[at] << 8) | b[at + 1]; at += 2; return v; };
  const bytes = () => { const n = u16(); const v = b.subarray(at, at + n); at += n; return v; };
  const str = () => bytes().toString('utf8');
  const base = { cmd: CMDS[type], retain: false, qos: 0, dup: false, length: b.length - f.bodyStart, topic: null, payload: null } as Record<string, unknown>;
  switch (type) {
    case 1: {
      base.protocolId = str();
      base.protocolVersion = b[at++];
      const cf = b[at++];
      if (cf & 0x04) base.will = { retain: (cf & 0x20) !== 0, qos: (cf >> 3) & 3 };
      base.clean = (cf & 0x02) !== 0;
      base.keepalive = u16();
      base.clientId = str();
      if (base.will) {
        const will = base.will as Record<string, unknown>;
        will.topic = str();
        will.payload = Buffer.from(bytes());
      }
      if (cf & 0x80) base.username = str();
      if (cf & 0x40) base.password = Buffer.from(bytes());
      break;
    }
    case 3: {
      const qos = (flags >> 1) & 3;
      base.retain = (flags & 1) !== 0;
      base.qos = qos;
      base.dup = (flags & 8) !== 0;
      base.topic = str();
      if (qos > 0) base.messageId = u16();
      base.payload = b.subarray(at);
      break;
    }
    case 4: case 5: case 6: case 7:
      base.qos = type === 6 ? 1 : 0;
      base.messageId = u16();
      break;
    case 8: {
      base.qos = 1;
      base.messageId = u16();
      const subscriptions: { topic: string; qos: number }[] = [];
      while (at < b.length) {
        const topic = str();
        subscriptions.push({ topic, qos: b[at++] & 3 });
      }
      base.subscriptions = subscriptions;
      break;
    }
    case 10: {
      base.qos = 1;
      base.messageId = u16();
      const unsubscriptions: string[] = [];
      while (at < b.length) unsubscriptions.push(str());
      base.unsubscriptions = unsubscriptions;
      break;
    }
    default: // PINGREQ, DISCONNECT: no body
  }
  return base as unknown as Packet;
}
