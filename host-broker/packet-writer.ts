// A connection's output buffer, with its own encoder for every packet a broker
// sends (PUBLISH, PUBACK/PUBREC/PUBREL/PUBCOMP, PINGRESP, CONNACK, SUBACK,
// UNSUBACK): each is written straight into the buffer, with no Buffer per packet
// and without mqtt-packet's generate (which builds a stream, concatenates and
// calls debug per packet, and costs ~4 MB of RSS to load). Anything else (a
// packet a hook made up) goes through mqtt-packet, loaded only then.
import type * as MqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';

const EMPTY = Buffer.alloc(0);
/** First allocation: below Buffer.poolSize / 2, so it is carved from Node's shared pool. */
const INITIAL = 1024;

/** Fixed header bytes of the two-byte-body acknowledgements (PUBREL has flags 0b0010 [MQTT-3.6.1-1]). */
const ACK_HEADER: Record<string, number | undefined> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };

const varintBytes = (n: number) => (n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4);

/** Writes MQTT's remaining length (7 bits a byte, low first) at `at`; returns where it ended. */
export function writeRemainingLength(b: Buffer, at: number, n: number): number {
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    b[at++] = d;
  } while (n > 0);
  return at;
}

export class OutBuffer {
  private buf: Buffer = EMPTY;
  /** Bytes written and not yet taken. */
  length = 0;

  /** Appends one packet's bytes. */
  add(p: Packet): void {
    const cmd = p.cmd;
    if (cmd === 'publish') {
      const id = p.messageId;
      const qos = p.qos;
      if (typeof p.topic === 'string' && Buffer.isBuffer(p.payload) && (qos === 0 || ((qos === 1 || qos === 2) && typeof id === 'number' && id > 0 && id < 65536))) {
        this.publish(p.topic, p.payload, qos, !!p.dup, !!p.retain, id ?? 0);
        return;
      }
    } else if (cmd === 'pingresp') {
      const at = this.room(2);
      this.buf[at] = 0xd0;
      this.buf[at + 1] = 0;
      return;
    } else if (cmd === 'connack') {
      const rc = (p as { returnCode?: number }).returnCode ?? 0;
      if (rc >= 0 && rc <= 255) {
        const at = this.room(4);
        const b = this.buf;
        b[at] = 0x20;
        b[at + 1] = 2;
        b[at + 2] = (p as { sessionPresent?: boolean }).sessionPresent ? 1 : 0;
        b[at + 3] = rc;
        return;
      }
    } else if (cmd === 'suback') {
      const id = (p as { messageId?: number }).messageId;
      const granted = (p as { granted?: number[] }).granted;
      if (typeof id === 'number' && id > 0 && id < 65536 && Array.isArray(granted) && granted.length > 0 && granted.length < 16000
        && granted.every((g) => g === 0 || g === 1 || g === 2 || g === 0x80)) {
        const remaining = 2 + granted.length;
        let at = this.room(1 + varintBytes(remaining) + remaining);
        const b = this.buf;
        b[at++] = 0x90;
        if (remaining < 128) b[at++] = remaining;
        else { b[at++] = (remaining % 128) | 0x80; b[at++] = Math.floor(remaining / 128); }
        b[at++] = id >> 8;
        b[at++] = id & 0xff;
        for (const g of granted) b[at++] = g;
        return;
      }
    } else if (cmd === 'unsuback') {
      const id = (p as { messageId?: number }).messageId;
      if (typeof id === 'number' && id > 0 && id < 65536) {
        const at = this.room(4);
        const b = this.buf;
        b[at] = 0xb0;
        b[at + 1] = 2;
        b[at + 2] = id >> 8;
        b[at + 3] = id & 0xff;
        return;
      }
    } else {
      const h = ACK_HEADER[cmd];
      const id = (p as { messageId?: number }).messageId;
      if (h !== undefined && typeof id === 'number' && id > 0 && id < 65536) {
        const at = this.room(4);
        const b = this.buf;
        b[at] = h;
        b[at + 1] = 2;
        b[at + 2] = id >> 8;
        b[at + 3] = id & 0xff;
        return;
      }
    }
    const bytes = (require('mqtt-packet') as typeof MqttPacket).generate(p);
    const at = this.room(bytes.length); // before reading this.buf: room() may replace it
    bytes.copy(this.buf, at);
  }

  /** Appends bytes encoded elsewhere (the bridge link's CONNECT and SUBSCRIBE), in order with the rest. */
  addBytes(bytes: Buffer): void {
    const at = this.room(bytes.length);
    bytes.copy(this.buf, at);
  }

  /** The bytes written so far; the buffer starts afresh (the socket keeps the returned one). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.length);
    this.buf = EMPTY;
    this.length = 0;
    return out;
  }

  private publish(topic: string, payload: Buffer, qos: number, dup: boolean, retain: boolean, id: number): void {
    const topicBytes = Buffer.byteLength(topic);
    const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payload.length;
    let at = this.room(1 + varintBytes(remaining) + remaining);
    const b = this.buf;
    b[at++] = 0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0);
    at = writeRemainingLength(b, at, remaining);
    b[at++] = topicBytes >> 8;
    b[at++] = topicBytes & 0xff;
    at += b.write(topic, at, topicBytes, 'utf8');
    if (qos > 0) {
      b[at++] = id >> 8;
      b[at++] = id & 0xff;
    }
    if (payload.length <= 64) {
      for (let i = 0; i < payload.length; i++) b[at + i] = payload[i];
    } else {
      payload.copy(b, at);
    }
  }

  /** Makes room for n more bytes; returns where they go. */
  private room(n: number): number {
    const at = this.length;
    const need = at + n;
    if (need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(INITIAL, need * 2));
      if (at > 0) this.buf.copy(next, 0, 0, at);
      this.buf = next;
    }
    this.length = need;
    return at;
  }
}
