// One client socket: framing and strict checks, the packet hooks, the CONNECT
// timeout, keepalive at 1.5 x the client's interval, ordered processing (a
// delayed or async step holds the packets behind it), and teardown with the Will.
import type { Duplex } from 'stream';
import type { Packet } from 'mqtt-packet';
import type { ClientInfo, HubEventKind } from './hooks';
import { FrameReader, type Frame, type FrameError } from './frame-reader';
import { checkFrame, packetName } from './packet-checks';
import { packetSummary } from './events';
import { OutBuffer } from './packet-writer';
import { decodeHot } from './packet-reader';
import { decodeChecked } from './packet-decoder';
import type { Session } from './session';
import type { Broker } from './broker';
import { HANDLERS } from './handlers';
import { canonicalFrom31, isMqtt31Connect, MQTT31_LEVEL } from './mqtt31';

export type ConnState = 'new' | 'connecting' | 'connected' | 'closed';

export interface Will { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean }

/** Packets waiting to be processed before the socket is paused. */
const MAX_PENDING_FRAMES = 64;
/** Outgoing bytes buffered for a slow client beyond which QoS 0 messages for it are dropped. */
const QOS0_BACKLOG_BYTES = 8 * 1024 * 1024;
/**
 * Unread output beyond which the broker stops reading the client until it drains:
 * otherwise small requests with big answers (re-SUBSCRIBE to a large retained
 * message, PINGREQ floods) grow the broker's buffer without bound.
 */
const READ_PAUSE_BACKLOG_BYTES = QOS0_BACKLOG_BYTES;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Connections with bytes waiting to be written. Everything a connection is sent
 * while the event loop handles one round of reads and timers goes out in one
 * socket write at the end of that round (setImmediate runs after the poll phase):
 * one system call per connection per round instead of one per packet.
 */
let dirty: Connection[] = [];
let flushScheduled = false;

function flushDirty(): void {
  flushScheduled = false;
  const conns = dirty;
  dirty = [];
  for (let i = 0; i < conns.length; i++) conns[i].flush();
}

export class Connection {
  state: ConnState = 'new';
  readonly info: ClientInfo;
  session: Session | null = null;
  will: Will | null = null;
  /** The protocol level the client's CONNECT asked for: 4 (MQTT 3.1.1) or 3 (MQTT 3.1, see mqtt31.ts). */
  level = 4;
  /** Keepalive the server enforces, in seconds (the client's, clamped to the limits); 0 = none. */
  keepalive = 0;
  closeReason = '';
  private reader: FrameReader;
  /**
   * Frames waiting their turn. A FrameError, or the peer's end of stream, is
   * queued too, so it takes effect after the packets before it (a DISCONNECT
   * held up by a delay hook must still discard the Will).
   */
  private pending: (Frame | FrameError | { eof: string })[] = [];
  private processing = false;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private lastRx = Date.now();
  /** Outgoing packets wait behind a delayed one to keep their order. */
  private outChain: Promise<void> | null = null;
  private outChainLength = 0;
  /** Reading is paused until the client drains its output backlog. */
  private backlogPaused = false;
  /** The backlog at the last keepalive check: shrinking counts as life while reading is paused. */
  private backlogAtCheck = 0;
  /** Encoded packets not yet handed to the socket (see flushDirty). */
  private out = new OutBuffer();
  private flushQueued = false;

  constructor(readonly broker: Broker, readonly socket: Duplex, info: Omit<ClientInfo, 'clientId'>) {
    this.info = { ...info, clientId: '' };
    this.reader = new FrameReader(broker.limits.maxPacketSize);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`, { will: true }));
    socket.on('close', () => {
      // The socket is gone: no drain will come, so frames held for it are handled now.
      this.backlogPaused = false;
      this.endOfStream('connection lost');
    });
    socket.on('end', () => this.endOfStream('connection closed by the client without DISCONNECT'));
    this.connectTimer = setTimeout(() => {
      if (this.state !== 'new') return;
      this.event('connect_timeout', 'warning', `no CONNECT within ${broker.limits.connectTimeoutMs} ms`);
      this.close('CONNECT timeout', { will: false });
    }, broker.limits.connectTimeoutMs);
  }

  get log() { return this.broker.log; }

  /** Raises a hub event about this client. */
  event(kind: HubEventKind, severity: 'info' | 'warning' | 'error', message: string, packet?: Packet | { cmd: string }): void {
    const device = this.info.deviceId;
    this.broker.hubEvent({
      kind, severity, message,
      objectType: device ? 'device' : 'client',
      objectId: device ?? (this.info.clientId || this.info.remoteAddress || `conn-${this.info.connId}`),
      ...(packet ? { packet: packetSummary(packet) } : {}),
    });
  }

  /** A packet broke a rule: raise a hub event naming it and close the connection (the Will fires) [MQTT-4.8.0-1]. */
  violation(kind: 'malformed_packet' | 'protocol_violation', message: string, packet?: Packet | { cmd: string }): void {
    this.event(kind, 'warning', message, packet);
    this.close(message, { will: true });
  }

  private endOfStream(reason: string): void {
    if (this.state === 'closed') return;
    if (!this.processing && this.pending.length === 0) { this.closeAtEof(reason); return; }
    this.pending.push({ eof: reason });
    void this.pump(); // frames held for a backlog are waiting, not being processed
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    // Any bytes from the client count as life for the keepalive, even before they form a whole packet.
    this.lastRx = Date.now();
    this.broker.stats.bytesReceived += chunk.length;
    const { frames, error } = this.reader.push(chunk);
    this.pending.push(...frames);
    if (error) {
      // Handle the frames before the bad one first, then refuse.
      this.pending.push(error);
      this.socket.pause();
    } else if (this.pending.length > MAX_PENDING_FRAMES) {
      this.socket.pause();
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      // Frames wait while the client's output backlog drains; 'drain' pumps again.
      while (this.pending.length > 0 && this.state !== 'closed' && !this.backlogPaused) {
        const f = this.pending.shift()!;
        const r = this.handleFrame(f);
        if (r) await r;
      }
    } catch (err: any) {
      // A bug in a handler must not take the broker down: log, drop this client.
      this.log.error({ err, clientId: this.info.clientId }, 'packet handling failed');
      this.close(`internal error: ${err?.message ?? err}`, { will: true });
    } finally {
      this.processing = false;
    }
    this.resumeIfIdle();
  }

  private resumeIfIdle(): void {
    if (this.state !== 'closed' && !this.processing && !this.backlogPaused && this.pending.length <= MAX_PENDING_FRAMES && this.socket.isPaused()) this.socket.resume();
  }

  /** End of stream: a stream that ends inside a packet is a truncated packet, and says so. */
  private closeAtEof(reason: string): void {
    const partial = this.reader.pendingBytes;
    if (partial > 0) {
      const msg = `the connection ended inside a packet (${partial} bytes of it received): truncated packet`;
      this.event('malformed_packet', 'warning', msg);
      reason = msg;
    }
    this.close(reason, { will: true });
  }

  private handleFrame(f: Frame | FrameError | { eof: string }): void | Promise<void> {
    if ('eof' in f) { this.closeAtEof(f.eof); return; }
    if ('kind' in f) {
      this.event(f.kind, 'warning', f.message);
      this.close(f.message, { will: true });
      return;
    }
    this.broker.stats.packetsReceived++;
    if (this.state === 'new' && f.header >> 4 === 1 && isMqtt31Connect(f)) this.level = MQTT31_LEVEL;
    let packet = decodeHot(f);
    if (!packet) {
      const bad = checkFrame(f, this.level);
      if (bad) {
        if (bad.kind === 'unsupported_protocol') {
          this.write({ cmd: 'connack', returnCode: 1, sessionPresent: false });
          this.event('protocol_violation', 'warning', bad.message, { cmd: 'connect' });
          this.close(bad.message, { will: false, graceful: true });
          return;
        }
        this.event(bad.kind, 'warning', bad.message, { cmd: packetName(f.header).toLowerCase() });
        this.close(bad.message, { will: true });
        return;
      }
      packet = this.decode(f);
      if (!packet) return;
    }
    if (this.state === 'new' && packet.cmd !== 'connect') {
      const msg = `the first packet must be CONNECT, got ${packetName(f.header)} [MQTT-3.1.0-1]`;
      this.event('protocol_violation', 'warning', msg, packet);
      this.close(msg, { will: false });
      return;
    }
    const verdict = this.broker.packetVerdict('packetIn', this.info, packet);
    if (verdict?.action === 'drop') return;
    if (verdict?.action === 'disconnect') { this.close('disconnected by a packetIn hook', { will: true, abrupt: true }); return; }
    if (verdict?.action === 'delay') return sleep(verdict.ms).then(() => this.dispatch(packet!));
    return this.dispatch(packet);
  }

  /** A frame checkFrame() passed; a decoder failure here would be a gap in the checks, reported as malformed. */
  private decode(f: Frame): Packet | null {
    try {
      return decodeChecked(this.level === MQTT31_LEVEL ? { ...f, bytes: canonicalFrom31(f) } : f);
    } catch (err) {
      const msg = `${packetName(f.header)} could not be decoded: ${(err as Error).message}`;
      this.event('malformed_packet', 'warning', msg, { cmd: packetName(f.header).toLowerCase() });
      this.close(msg, { will: true });
      return null;
    }
  }

  private dispatch(packet: Packet): void | Promise<void> {
    if (this.state === 'closed') return;
    const h = HANDLERS[packet.cmd];
    if (!h) return; // checkFrame refused every other type already
    return h(this, packet as any);
  }

  /** Sends a packet through the packetOut hooks. */
  send(packet: Packet): void {
    if (this.state === 'closed') return;
    const verdict = this.broker.packetVerdict('packetOut', this.info, packet);
    if (verdict?.action === 'drop') return;
    if (verdict?.action === 'disconnect') { this.close('disconnected by a packetOut hook', { will: true, abrupt: true }); return; }
    const delay = verdict?.action === 'delay' ? verdict.ms : 0;
    if (delay === 0 && !this.outChain) { this.write(packet); return; }
    this.outChainLength++;
    this.outChain = (this.outChain ?? Promise.resolve()).then(async () => {
      if (delay) await sleep(delay);
      this.write(packet);
      if (--this.outChainLength === 0) this.outChain = null;
    });
  }

  /** False while the socket has a backlog; QoS 0 messages are dropped then rather than buffered without bound. */
  get acceptsQos0(): boolean {
    return this.state === 'connected' && this.socket.writableLength + this.out.length < QOS0_BACKLOG_BYTES;
  }

  /**
   * Writes without asking the hooks (CONNACK refusals before a client exists, and send()).
   * The bytes go out with everything else queued this round, in order (flush()).
   */
  write(packet: Packet): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.out.add(packet);
    const stats = this.broker.stats;
    stats.packetsSent++;
    if (packet.cmd === 'publish') {
      stats.publishSent[packet.qos]++;
      stats.publishBytesSent += packet.payload.length;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      dirty.push(this);
      if (!flushScheduled) { flushScheduled = true; setImmediate(flushDirty); }
    }
    // A big answer goes out now, so that the backlog bound (flush()) holds within one round too.
    if (this.out.length + this.socket.writableLength > READ_PAUSE_BACKLOG_BYTES) this.flush();
  }

  /**
   * Hands the queued bytes to the socket in one write. Group commit: while the
   * store holds writes not yet on disk, they are committed first (one fsync for
   * all of this round's writes, by whichever connection flushes first), so no
   * acknowledgement ever leaves before what it acknowledges is durable.
   */
  flush(): void {
    this.flushQueued = false;
    if (this.out.length === 0) return;
    if (this.broker.store.uncommitted && !this.broker.commitStore()) return;
    const bytes = this.out.take();
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.broker.stats.bytesSent += bytes.length;
    this.socket.write(bytes);
    if (!this.backlogPaused && this.socket.writableLength > READ_PAUSE_BACKLOG_BYTES) {
      this.backlogPaused = true;
      this.socket.pause();
      this.socket.once('drain', () => { this.backlogPaused = false; void this.pump(); });
    }
  }

  /** Called once CONNECT is accepted. */
  startKeepalive(): void {
    if (this.connectTimer) { clearTimeout(this.connectTimer); this.connectTimer = null; }
    if (this.keepalive <= 0) return;
    const limitMs = this.keepalive * 1500; // [MQTT-3.1.2-24]: 1.5 x keepalive
    const check = () => {
      // Paused by our own backlog, the client's bytes wait unread: a shrinking backlog shows it is alive.
      const backlog = this.socket.writableLength + this.out.length;
      if (this.backlogPaused && backlog < this.backlogAtCheck) this.lastRx = Date.now();
      this.backlogAtCheck = backlog;
      const idle = Date.now() - this.lastRx;
      if (idle >= limitMs) {
        this.log.info({ clientId: this.info.clientId, keepalive: this.keepalive }, 'keepalive expired');
        this.close(`keepalive expired: nothing received for ${idle} ms (limit 1.5 x ${this.keepalive} s)`, { will: true, abrupt: true });
        return;
      }
      this.keepaliveTimer = setTimeout(check, limitMs - idle);
    };
    this.keepaliveTimer = setTimeout(check, limitMs);
  }

  /** Forgets what was queued for the client and not sent (it stood for writes that did not reach the disk). */
  discardOutput(): void {
    this.out.take();
    this.flushQueued = false;
  }

  clearConnectTimer(): void {
    if (this.connectTimer) { clearTimeout(this.connectTimer); this.connectTimer = null; }
  }

  /**
   * Ends the connection once. will: publish the Will if one is set (every loss
   * other than DISCONNECT). graceful: flush what was written before closing.
   */
  close(reason: string, opts: { will: boolean; abrupt?: boolean; graceful?: boolean }): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.closeReason = reason;
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
    this.clearConnectTimer();
    this.pending.length = 0;
    // What was sent before the close goes out first (a CONNACK refusal, acks before a violation).
    this.flush();
    if (opts.graceful && !this.socket.destroyed) {
      this.socket.end();
      // A peer that never closes its side must not hold the socket forever.
      setTimeout(() => this.socket.destroy(), 2000).unref();
    } else {
      this.socket.destroy();
    }
    const will = opts.will ? this.will : null;
    this.will = null;
    this.broker.connectionClosed(this, wasConnected, reason, will);
  }
}
