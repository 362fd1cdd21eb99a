// One MQTT 3.1.1 client connection to the upstream: CONNECT/CONNACK within a
// deadline, keepalive (PINGREQ when either direction has been quiet, the link
// dropped if the PINGRESP does not come within pingTimeoutMs), framing on the
// hub's own codec (client-codec.ts), and teardown with a reason. What to
// publish, and what to do with what arrives, is the bridge's business
// (bridge.ts): the link hands it every packet after CONNACK and writes what it
// is given.
import type { Packet } from 'mqtt-packet';
import type { Duplex } from 'stream';
import { FrameReader } from '../frame-reader';
import { OutBuffer } from '../packet-writer';
import { decodeFromServer, DISCONNECT, encodeConnect, encodeSubscribe, PINGREQ } from './client-codec';
import { connackError, describeLinkError, LinkError } from './errors';
import { endpoint, openTransport, type TlsMaterial } from './transport';

export interface LinkOptions {
  url: URL;
  clientId: string;
  username?: string;
  password?: string;
  keepalive: number;
  cleanSession: boolean;
  connectTimeoutMs: number;
  pingTimeoutMs: number;
  /** Largest packet accepted from the upstream (the hub's own limits.maxPacketSize): a bigger one ends the link. */
  maxPacketSize: number;
  tls?: TlsMaterial;
}

export interface LinkHandlers {
  /** CONNACK 0: called before any packet behind it is handled (and before connect() resolves). */
  up(sessionPresent: boolean): void;
  /** Every packet after CONNACK except PINGRESP. */
  packet(p: Packet): void;
  /** Once, when the link ends after a successful connect(). */
  closed(err: LinkError): void;
  /** A PINGREQ -> PINGRESP round trip, ms. */
  rtt(ms: number): void;
}

export class UpstreamLink {
  private stream: Duplex | null = null;
  private frames: FrameReader;
  /** Ends an attempt still before CONNACK (DNS, TCP, TLS or WebSocket handshake in progress). */
  private cancelConnect: ((err: unknown) => void) | null = null;
  private connected = false;
  private ended = false;
  private lastTx = 0;
  private lastRx = 0;
  private pingSentAt = 0;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private pingDeadline: NodeJS.Timeout | null = null;
  /** Packets written in this synchronous run, sent in one socket write (the hub's own encoder). */
  private out = new OutBuffer();
  private flushQueued = false;
  private readonly where: string;

  constructor(private readonly o: LinkOptions, private readonly on: LinkHandlers) {
    this.where = endpoint(o.url).where;
    this.frames = new FrameReader(o.maxPacketSize);
  }

  /** Bytes handed to the socket and not yet sent (QoS 0 is dropped while this is large). */
  get backlog(): number { return this.stream ? this.stream.writableLength : 0; }

  /** Opens the stream, sends CONNECT, waits for CONNACK 0. Rejects with a LinkError saying why not. */
  connect(): Promise<{ sessionPresent: boolean }> {
    return new Promise((resolve, reject) => {
      const transport = openTransport(this.o.url, this.o.tls);
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        transport.abort();
        this.teardown();
        reject(describeLinkError(err, this.where, this.o.tls?.servername ?? endpoint(this.o.url).host));
      };
      const timer = setTimeout(() => fail(new LinkError(`no CONNACK from ${this.where} within ${this.o.connectTimeoutMs} ms (connectTimeoutMs)`, 'warning', 'CONNECT_TIMEOUT')), this.o.connectTimeoutMs);
      this.cancelConnect = fail;
      transport.stream.then((stream) => {
        if (settled) { stream.destroy(); return; }
        this.stream = stream;
        const onPacket = (p: Packet) => {
          this.lastRx = Date.now();
          if (!this.connected) {
            if (p.cmd !== 'connack') return fail(new LinkError(`${this.where} sent ${p.cmd.toUpperCase()} before CONNACK`, 'error', 'PROTOCOL'));
            if (p.returnCode !== 0) return fail(connackError(p.returnCode ?? -1));
            settled = true;
            clearTimeout(timer);
            this.connected = true;
            this.startKeepalive();
            this.on.up(!!p.sessionPresent);
            resolve({ sessionPresent: !!p.sessionPresent });
            return;
          }
          if (p.cmd === 'pingresp') { this.pingAnswered(); return; }
          try {
            this.on.packet(p);
          } catch (err: any) {
            // A bug in handling one packet must not take the hub down (this runs in a socket callback).
            this.close(new LinkError(`internal error handling ${p.cmd.toUpperCase()} from ${this.where}: ${err?.message ?? err}`, 'error', 'INTERNAL'));
          }
        };
        // Whole frames only, each checked against the size limit before it is buffered, then checked and decoded.
        stream.on('data', (chunk: Buffer) => {
          const { frames, error } = this.frames.push(chunk);
          for (const f of frames) {
            if (this.ended) break;
            const p = decodeFromServer(f);
            if ('error' in p) { this.fault(new LinkError(`${this.where} sent a malformed packet: ${p.error}`, 'warning', 'MALFORMED'), fail); break; }
            onPacket(p);
          }
          if (error && !this.ended) this.fault(new LinkError(`${this.where} sent a packet the hub refuses: ${error.message} (limits.maxPacketSize)`, 'warning', 'TOO_LARGE'), fail);
        });
        stream.on('error', (err) => this.fault(err, fail));
        stream.on('close', () => this.fault(new LinkError(`${this.where} closed the connection${this.connected ? '' : ' before CONNACK (it may have refused the client certificate or the TLS version)'}`, 'warning', 'CLOSED'), fail));
        this.writeBytes(encodeConnect({
          clientId: this.o.clientId, clean: this.o.cleanSession, keepalive: this.o.keepalive,
          ...(this.o.username !== undefined ? { username: this.o.username } : {}),
          ...(this.o.password !== undefined ? { password: Buffer.from(this.o.password) } : {}),
        }));
      }, fail);
    });
  }

  /** Before CONNACK a fault fails connect(); after it, it ends the link. */
  private fault(err: unknown, failConnect: (err: unknown) => void): void {
    if (!this.connected) { failConnect(err); return; }
    this.close(describeLinkError(err, this.where, this.o.tls?.servername ?? endpoint(this.o.url).host));
  }

  /** Queues a PUBLISH or an acknowledgement; everything written in one synchronous run goes out in one socket write. */
  write(p: Packet): void {
    if (!this.stream || this.ended || this.stream.destroyed) return;
    this.out.add(p);
    this.flushSoon();
  }

  subscribe(messageId: number, subs: { topic: string; qos: 0 | 1 | 2 }[]): void {
    this.writeBytes(encodeSubscribe(messageId, subs));
  }

  private writeBytes(b: Buffer): void {
    if (!this.stream || this.ended || this.stream.destroyed) return;
    this.out.addBytes(b);
    this.flushSoon();
  }

  private flushSoon(): void {
    const s = this.stream!;
    this.lastTx = Date.now();
    if (this.flushQueued) return;
    this.flushQueued = true;
    process.nextTick(() => {
      this.flushQueued = false;
      if (!this.ended && !s.destroyed && this.out.length) s.write(this.out.take());
    });
  }

  /** Ends the link (DISCONNECT first when `graceful`); `closed` is called once. */
  close(err: LinkError, opts: { graceful?: boolean } = {}): void {
    if (this.ended) return;
    if (!this.connected) { this.cancelConnect?.(err); return; }
    const s = this.stream;
    if (opts.graceful && this.connected && s && !s.destroyed && !s.writableEnded) {
      this.out.addBytes(DISCONNECT);
      s.write(this.out.take());
    }
    this.teardown();
    if (s && opts.graceful) s.end(); else s?.destroy();
    if (this.connected) this.on.closed(err);
  }

  private teardown(): void {
    this.ended = true;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    if (this.pingDeadline) clearTimeout(this.pingDeadline);
    this.keepaliveTimer = this.pingDeadline = null;
    if (this.stream && !this.stream.destroyed && !this.connected) this.stream.destroy();
  }

  /**
   * [MQTT-3.1.2-23]: the client must send something within each keepalive period.
   * A PINGREQ goes out when we have sent nothing for half of it, or heard nothing
   * for a whole one; its answer must come within pingTimeoutMs.
   */
  private startKeepalive(): void {
    if (this.o.keepalive <= 0) return;
    const period = this.o.keepalive * 1000;
    this.lastTx = this.lastRx = Date.now();
    this.keepaliveTimer = setInterval(() => {
      const now = Date.now();
      if (this.pingSentAt || (now - this.lastTx < period / 2 && now - this.lastRx < period)) return;
      this.pingSentAt = now;
      this.writeBytes(PINGREQ);
      this.pingDeadline = setTimeout(() => {
        this.close(new LinkError(`keepalive: ${this.where} did not answer PINGREQ within ${this.o.pingTimeoutMs} ms (pingTimeoutMs); the link is presumed dead`, 'warning', 'PING_TIMEOUT'));
      }, this.o.pingTimeoutMs);
    }, Math.max(100, Math.floor(period / 4)));
  }

  private pingAnswered(): void {
    if (!this.pingSentAt) return;
    this.on.rtt(Date.now() - this.pingSentAt);
    this.pingSentAt = 0;
    if (this.pingDeadline) clearTimeout(this.pingDeadline);
    this.pingDeadline = null;
  }
}
