// Decoder for the packets clients send most: PUBLISH with a plain ASCII topic,
// PUBACK/PUBREC/PUBREL/PUBCOMP and PINGREQ, read straight from the frame with no
// parser object per packet. It accepts only what packet-checks.ts accepts; any
// frame off that happy path (reserved flags, packet id 0, non-ASCII, U+0000 or a
// wildcard or a control character in the topic, wrong length...) returns null and takes the full route,
// checkFrame then mqtt-packet, which names the problem. The packets have the
// shape mqtt-packet gives them, so hooks and handlers cannot tell the two apart.
import type { Packet } from 'mqtt-packet';
import type { Frame } from './frame-reader';

const ACK_CMD = ['', '', '', '', 'puback', 'pubrec', 'pubrel', 'pubcomp'];

export function decodeHot(f: Frame): Packet | null {
  const b = f.bytes;
  const h = f.header;
  const type = h >> 4;
  const end = b.length;
  let at = f.bodyStart;
  if (type === 3) {
    const qos = (h >> 1) & 3;
    if (qos === 3 || (qos === 0 && (h & 8) !== 0)) return null;
    if (end - at < 2) return null;
    const topicEnd = at + 2 + ((b[at] << 8) | b[at + 1]);
    at += 2;
    if (topicEnd === at || topicEnd > end) return null;
    for (let i = at; i < topicEnd; i++) {
      const c = b[i];
      // Control characters (U+0000 included), '#', '+' and anything non-ASCII need the full checks.
      if (c < 0x20 || c >= 0x7f || c === 0x23 || c === 0x2b) return null;
    }
    const topic = b.toString('latin1', at, topicEnd); // ASCII: latin1 and UTF-8 agree
    at = topicEnd;
    if (qos === 0) {
      return { cmd: 'publish', retain: (h & 1) !== 0, qos, dup: false, length: end - f.bodyStart, topic, payload: b.subarray(at) } as Packet;
    }
    if (end - at < 2) return null;
    const messageId = (b[at] << 8) | b[at + 1];
    if (messageId === 0) return null;
    return { cmd: 'publish', retain: (h & 1) !== 0, qos, dup: (h & 8) !== 0, length: end - f.bodyStart, topic, payload: b.subarray(at + 2), messageId } as Packet;
  }
  if (type >= 4 && type <= 7) {
    if ((h & 0x0f) !== (type === 6 ? 2 : 0) || end - at !== 2) return null;
    const messageId = (b[at] << 8) | b[at + 1];
    if (messageId === 0) return null;
    return { cmd: ACK_CMD[type], retain: false, qos: type === 6 ? 1 : 0, dup: false, length: 2, topic: null, payload: null, messageId } as unknown as Packet;
  }
  if (h === 0xc0 && end === at) return { cmd: 'pingreq', retain: false, qos: 0, dup: false, length: 0, topic: null, payload: null } as unknown as Packet;
  return null;
}
