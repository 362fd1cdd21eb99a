// One MQTT connection of the load generator: a plain socket, pre-encoded packets
// out, a frame splitter in. Acknowledgements the protocol requires are answered
// here (PUBACK / PUBREC / PUBCOMP as subscriber, PUBREL as QoS 2 publisher),
// batched into one write per received chunk.
import * as net from 'net';
import { FrameSplitter, T_CONNACK, T_PUBACK, T_PUBCOMP, T_PUBLISH, T_PUBREC, T_PUBREL, T_SUBACK, connectPacket, writeAck, DISCONNECT } from './packets';

export interface PublishSeen { buf: Buffer; topicAt: number; topicEnd: number; payloadAt: number; payloadEnd: number; qos: number }

export class RawClient {
  readonly sock: net.Socket;
  private splitter: FrameSplitter;
  private waiters: { type: number; resolve: (b: Buffer) => void }[] = [];
  private acks = Buffer.allocUnsafe(4 * 1024);
  private acksAt = 0;
  closed = false;
  error: Error | null = null;
  /** Called for every PUBLISH received. */
  onPublish: ((p: PublishSeen) => void) | null = null;
  /** Called for every PUBACK / PUBCOMP received (the publisher's flow is done for that id). */
  onAck: ((type: number, id: number) => void) | null = null;
  /** Called after each received chunk has been handled. */
  onChunk: (() => void) | null = null;

  constructor(port: number, readonly clientId: string) {
    this.splitter = new FrameSplitter((h, b, s, e) => this.packet(h, b, s, e));
    this.sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
    this.sock.on('data', (d) => {
      try {
        this.splitter.push(d);
      } catch (e) {
        this.error = e as Error;
        this.sock.destroy();
      }
      this.flushAcks();
      if (this.onChunk) this.onChunk();
    });
    this.sock.on('error', (e) => { this.error = this.error ?? e; });
    this.sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.resolve(Buffer.alloc(0));
    });
  }

  /** CONNECT (clean = false: a persistent session) and wait for a successful CONNACK. */
  async connect(keepalive = 0, clean = true): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.sock.once('connect', () => resolve());
      this.sock.once('error', reject);
    });
    this.sock.write(connectPacket(this.clientId, keepalive, clean));
    const b = await this.expect(T_CONNACK);
    if (b.length < 2 || b[1] !== 0) throw new Error(`${this.clientId}: CONNACK ${b.length ? 'code ' + b[1] : 'missing (socket closed)'}`);
  }

  /** Writes a SUBSCRIBE (pre-encoded) and waits for its SUBACK; fails on 0x80. */
  async subscribe(packet: Buffer): Promise<void> {
    this.sock.write(packet);
    const b = await this.expect(T_SUBACK);
    if (b.length < 3 || b.subarray(2).includes(0x80)) throw new Error(`${this.clientId}: subscription refused or link closed`);
  }

  write(b: Buffer): boolean { return this.closed ? false : this.sock.write(b); }

  /** DISCONNECT, then wait for the broker to close (bounded). */
  end(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.sock.destroy(); resolve(); }, 2000);
      this.sock.once('close', () => { clearTimeout(t); resolve(); });
      this.sock.end(DISCONNECT);
    });
  }

  private expect(type: number): Promise<Buffer> {
    if (this.closed) return Promise.resolve(Buffer.alloc(0));
    return new Promise((resolve) => this.waiters.push({ type, resolve }));
  }

  private queueAck(type: number, id: number): void {
    if (this.acksAt + 4 > this.acks.length) this.flushAcks();
    writeAck(this.acks, this.acksAt, type, id);
    this.acksAt += 4;
  }

  private flushAcks(): void {
    if (!this.acksAt || this.closed) return;
    this.sock.write(Buffer.from(this.acks.subarray(0, this.acksAt)));
    this.acksAt = 0;
  }

  private packet(h: number, b: Buffer, s: number, e: number): void {
    const t = h >> 4;
    if (t === T_PUBLISH) {
      const qos = (h >> 1) & 3;
      const topicEnd = s + 2 + b.readUInt16BE(s);
      const payloadAt = qos ? topicEnd + 2 : topicEnd;
      if (qos) this.queueAck(qos === 1 ? T_PUBACK : T_PUBREC, b.readUInt16BE(topicEnd));
      if (this.onPublish) this.onPublish({ buf: b, topicAt: s + 2, topicEnd, payloadAt, payloadEnd: e, qos });
      return;
    }
    if (t === T_PUBREL) return this.queueAck(T_PUBCOMP, b.readUInt16BE(s));
    if (t === T_PUBREC) {
      this.queueAck(T_PUBREL, b.readUInt16BE(s));
      return;
    }
    if (t === T_PUBACK || t === T_PUBCOMP) {
      if (this.onAck) this.onAck(t, b.readUInt16BE(s));
      return;
    }
    const i = this.waiters.findIndex((w) => w.type === t);
    if (i >= 0) this.waiters.splice(i, 1)[0].resolve(Buffer.from(b.subarray(s, e)));
  }
}

/** Opens `n` clients, `concurrency` CONNECTs at a time. */
export async function connectMany(port: number, ids: string[], concurrency = 100, keepalive = 0, clean = true): Promise<RawClient[]> {
  const out: RawClient[] = [];
  for (let i = 0; i < ids.length; i += concurrency) {
    const batch = ids.slice(i, i + concurrency).map((id) => new RawClient(port, id));
    await Promise.all(batch.map((c) => c.connect(keepalive, clean)));
    out.push(...batch);
  }
  return out;
}
