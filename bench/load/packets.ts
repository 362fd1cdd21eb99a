// Pre-encoded packets for the load generator. mqtt-packet builds each kind once;
// per message only the packet id and the payload stamp are patched in, so the
// generator spends its CPU on sockets, not on a client library.
import * as mqtt from 'mqtt-packet';

export const T_CONNACK = 2, T_PUBLISH = 3, T_PUBACK = 4, T_PUBREC = 5, T_PUBREL = 6, T_PUBCOMP = 7, T_SUBACK = 9;

/** Bytes at the start of every payload: publisher index (u16), sequence (u32), send time in ms (f64). */
export const STAMP_BYTES = 14;

/** clean = false asks for a persistent session (kept, with its queue, across connections). */
export function connectPacket(clientId: string, keepalive = 0, clean = true): Buffer {
  return mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean, keepalive });
}

export function subscribePacket(messageId: number, filters: string[], qos: 0 | 1 | 2): Buffer {
  return mqtt.generate({ cmd: 'subscribe', messageId, subscriptions: filters.map((topic) => ({ topic, qos })) });
}

export const DISCONNECT = mqtt.generate({ cmd: 'disconnect' });

/** A PUBLISH template for one publisher: patch() writes id and stamp into a copy. */
export class PublishTemplate {
  readonly bytes: Buffer;
  private idAt: number;
  private payloadAt: number;

  constructor(topic: string, readonly qos: 0 | 1 | 2, payloadBytes: number) {
    const payload = Buffer.alloc(Math.max(STAMP_BYTES, payloadBytes), 0x61);
    this.bytes = mqtt.generate({ cmd: 'publish', topic, payload, qos, messageId: qos ? 1 : undefined, retain: false, dup: false });
    this.payloadAt = this.bytes.length - payload.length;
    this.idAt = qos ? this.payloadAt - 2 : -1;
  }

  get length() { return this.bytes.length; }

  /** Writes this packet into `into` at `at`, with packet id and stamp. */
  writeInto(into: Buffer, at: number, id: number, publisher: number, seq: number, now: number): void {
    this.bytes.copy(into, at);
    if (this.idAt >= 0) into.writeUInt16BE(id, at + this.idAt);
    const p = at + this.payloadAt;
    into.writeUInt16BE(publisher, p);
    into.writeUInt32BE(seq >>> 0, p + 2);
    into.writeDoubleLE(now, p + 6);
  }
}

/** PUBACK / PUBREC / PUBREL / PUBCOMP for an id, written into a buffer at an offset. */
export function writeAck(into: Buffer, at: number, type: number, id: number): void {
  into[at] = (type << 4) | (type === T_PUBREL ? 2 : 0);
  into[at + 1] = 2;
  into.writeUInt16BE(id, at + 2);
}

/**
 * Splits a byte stream into packets without copying whole packets:
 * onPacket(firstByte, buffer, bodyStart, bodyEnd).
 */
export class FrameSplitter {
  private rest: Buffer | null = null;
  constructor(private onPacket: (h: number, b: Buffer, start: number, end: number) => void) {}

  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    let i = 0;
    while (i + 2 <= buf.length) {
      let n = 0;
      let mul = 1;
      let j = i + 1;
      let c: number;
      do {
        if (j >= buf.length) { this.rest = buf.subarray(i); return; }
        if (j - i > 4) throw new Error('malformed remaining length from broker');
        c = buf[j++];
        n += (c & 127) * mul;
        mul *= 128;
      } while (c & 128);
      if (j + n > buf.length) break;
      this.onPacket(buf[i], buf, j, j + n);
      i = j + n;
    }
    if (i < buf.length) this.rest = buf.subarray(i);
  }
}
