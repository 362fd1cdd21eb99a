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
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Set once a frame's header has been read: its total size and header length. */
  private need: { total: number; bodyStart: number } | null = null;

  constructor(private maxPacketSize: number) {}

  get pendingBytes(): number { return this.buffered; }

  /** Adds bytes; returns the frames now complete, or an error (after which the stream is unusable). */
  push(chunk: Buffer): { frames: Frame[]; error?: FrameError } {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (!this.need) {
        const h = this.readHeader();
        if (h === null) break;
        if ('kind' in h) return { frames, error: h };
        this.need = h;
      }
      if (this.buffered < this.need.total) break;
      frames.push(this.take(this.need.total, this.need.bodyStart));
      this.need = null;
    }
    return { frames };
  }

  private byteAt(i: number): number {
    for (const c of this.chunks) {
      if (i < c.length) return c[i];
      i -= c.length;
    }
    return -1;
  }

  private readHeader(): { total: number; bodyStart: number } | FrameError | null {
    if (this.buffered < 2) return null;
    let value = 0;
    let mul = 1;
    for (let i = 1; i <= 4; i++) {
      if (i >= this.buffered) return null;
      const b = this.byteAt(i);
      value += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        const total = 1 + i + value;
        if (total > this.maxPacketSize) {
          return { kind: 'payload_too_large', message: `packet claims ${total} bytes, more than the limit of ${this.maxPacketSize}` };
        }
        return { total, bodyStart: 1 + i };
      }
    }
    return { kind: 'malformed_packet', message: 'remaining length has more than 4 bytes [MQTT-2.2.3]' };
  }

  private take(n: number, bodyStart: number): Frame {
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return { header: out[0], bytes: out, bodyStart };
  }
}
