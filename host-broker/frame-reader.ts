// Splits a byte stream into whole MQTT frames. It reads the fixed header itself
// so that a claimed length over the limit is refused before any buffer for the
// packet is allocated (mqtt-packet would happily wait for 256 MB).

export interface Frame {
  /** The first byte: packet type << 4 | flags. */
  header: number;
  /** The whole frame (fixed header included), as mqtt-packet wants it. */
  bytes: Buffer;
  /** Offset of the variable header within bytes. */
  bodyStart: number;
}

export type FrameError = { kind: 'malformed_packet' | 'payload_too_large'; message: string };

export class FrameReader {
  /** Bytes of an unfinished frame, kept until it can be completed. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Total size of the unfinished frame once its header has been read; 0 while unknown. */
  private need = 0;

  constructor(private maxPacketSize: number) {}

  get pendingBytes(): number { return this.buffered; }

  /**
   * Adds bytes; returns the frames now complete, or an error (after which the stream
   * is unusable). A frame is a view into the received chunk, not a copy: the chunks
   * are the socket's, fresh for each read.
   */
  push(chunk: Buffer): { frames: Frame[]; error?: FrameError } {
    const frames: Frame[] = [];
    let buf = chunk;
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      // A large frame arriving in many reads is joined once, when it is whole.
      if (this.buffered < this.need) return { frames };
      buf = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
      this.need = 0;
    }
    const len = buf.length;
    let at = 0;
    while (len - at >= 2) {
      let value = 0;
      let mul = 1;
      let i = 1;
      let complete = false;
      for (; i <= 4 && at + i < len; i++) {
        const b = buf[at + i];
        value += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) { complete = true; break; }
      }
      if (!complete) {
        if (i > 4) return { frames, error: { kind: 'malformed_packet', message: 'remaining length has more than 4 bytes [MQTT-2.2.3]' } };
        break; // the header continues in the next read
      }
      const total = 1 + i + value;
      if (total > this.maxPacketSize) {
        return { frames, error: { kind: 'payload_too_large', message: `packet claims ${total} bytes, more than the limit of ${this.maxPacketSize}` } };
      }
      if (len - at < total) { this.need = total; break; }
      frames.push({ header: buf[at], bytes: buf.subarray(at, at + total), bodyStart: 1 + i });
      at += total;
    }
    if (at < len) {
      this.chunks.push(at === 0 ? buf : buf.subarray(at));
      this.buffered = len - at;
    }
    return { frames };
  }
}
