// Real TCP/TLS sockets on the host, shaped like Espruino's: what the board sees is
// a queue of events delivered one per turn of the event loop (as Espruino's idle
// loop does), data as binary strings no longer than the chunk size, and the close
// sequence of libs/network/socketserver.c: [error {code, message}] end close(hadError).
import * as net from 'net';
import * as tls from 'tls';
import { boardStringToBytes, bytesToBoardString } from './bytes';
import { FaultState, GLUE_WINDOW_MS } from './faults';

export type SocketEventType = 'connect' | 'data' | 'drain' | 'error' | 'end' | 'close';
export type Deliver = (id: number, type: SocketEventType, a?: string | number | boolean, b?: string) => void;

export interface NetOptions {
  chunkSize: number;
  unicode: boolean;
  /** The Linux build throws from net.connect when the connection is refused; ESP builds report it asynchronously. */
  refuseThrows: boolean;
  faults: FaultState;
  deliver: Deliver;
}

// Espruino's socket error codes (libs/network/socketerrors.h).
export const SOCKET_ERRORS = {
  timeout: [-3, 'timeout'],
  notFound: [-6, 'not found'],
  reset: [-9, 'connection reset'],
  unknown: [-10, 'unknown error'],
  noConnection: [-11, 'no connection'],
  sslHandshake: [-13, 'SSL handshake failed'],
} as const;

function errorFor(err: NodeJS.ErrnoException | undefined, secure: boolean, connected: boolean): readonly [number, string] {
  const code = err?.code ?? '';
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return SOCKET_ERRORS.noConnection;
  if (code === 'ECONNRESET' || code === 'EPIPE') return SOCKET_ERRORS.reset;
  if (code === 'ETIMEDOUT') return SOCKET_ERRORS.timeout;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return SOCKET_ERRORS.notFound;
  if (secure && !connected) return SOCKET_ERRORS.sslHandshake;
  return SOCKET_ERRORS.unknown;
}

interface Pending { type: SocketEventType; a?: string | number | boolean; b?: string; due: number }

class Link {
  node: net.Socket | null = null;
  connected = false;
  finished = false; // close queued for the board
  private inbound: Pending[] = [];
  private lastArrival = 0;
  private pumpTimer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private outbound: { bytes: Buffer; due: number }[] = [];
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private writesInFlight = 0;
  private ending = false;
  private endSent = false;
  private dropped = false;
  private lastError: NodeJS.ErrnoException | undefined;

  constructor(readonly id: number, private readonly secure: boolean, private readonly o: NetOptions) {}

  private get maxChunk(): number {
    const f = this.o.faults.chunkSize;
    return f > 0 ? Math.min(f, this.o.chunkSize) : this.o.chunkSize;
  }

  attach(node: net.Socket): void {
    this.node = node;
    node.setNoDelay(true);
    node.on(this.secure ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      this.queue('connect');
      if (!this.outbound.length && !this.writesInFlight) this.queue('drain');
    });
    node.on('data', (b: Buffer) => {
      if (this.o.faults.blackhole || this.finished) return;
      this.lastArrival = Date.now();
      this.queue('data', bytesToBoardString(b));
    });
    node.on('error', (e) => { this.lastError = e; });
    node.on('close', () => this.closed());
  }

  /** Fails the connection the way an ESP board reports a refusal. */
  refuse(): void {
    const [code, message] = SOCKET_ERRORS.noConnection;
    this.queue('error', code, message);
    this.queue('end');
    this.queue('close', true);
    this.finished = true;
  }

  write(s: string): void {
    if (this.finished || this.ending) return;
    if (this.o.faults.blackhole) {
      this.afterWrite();
      return;
    }
    this.outbound.push({ bytes: boardStringToBytes(s, this.o.unicode), due: Date.now() + this.o.faults.delayMs });
    this.scheduleFlush(0);
  }

  end(): void {
    if (this.ending || this.finished) return;
    this.ending = true;
    this.scheduleFlush(0);
  }

  drop(): void {
    if (!this.node || this.finished) return;
    this.dropped = true;
    this.outbound = [];
    const n = this.node as net.Socket & { resetAndDestroy?: () => void };
    try {
      if (n.resetAndDestroy && !this.secure) n.resetAndDestroy();
      else n.destroy();
    } catch {
      n.destroy();
    }
  }

  /** Board gone: stop everything, tell it nothing. */
  kill(): void {
    this.finished = true;
    this.inbound = [];
    this.outbound = [];
    if (this.pumpTimer) { clearTimeout(this.pumpTimer as NodeJS.Timeout); clearImmediate(this.pumpTimer as NodeJS.Immediate); }
    if (this.flushTimer) { clearTimeout(this.flushTimer as NodeJS.Timeout); clearImmediate(this.flushTimer as NodeJS.Immediate); }
    this.node?.destroy();
  }

  private closed(): void {
    if (this.finished) return;
    this.finished = true;
    this.outbound = [];
    if (this.dropped) {
      const [code, message] = SOCKET_ERRORS.reset;
      this.queue('error', code, message);
      this.queue('end');
      this.queue('close', true);
    } else if (this.lastError) {
      const [code, message] = errorFor(this.lastError, this.secure, this.connected);
      this.queue('error', code, message);
      this.queue('end');
      this.queue('close', true);
    } else {
      this.queue('end');
      this.queue('close', false);
    }
  }

  private afterWrite(): void {
    if (!this.outbound.length && !this.writesInFlight && !this.ending && !this.finished) this.queue('drain');
  }

  private scheduleFlush(ms: number): void {
    if (this.flushTimer) return;
    const run = () => { this.flushTimer = null; this.flush(); };
    this.flushTimer = ms > 0 ? setTimeout(run, ms) : setImmediate(run);
  }

  private flush(): void {
    const node = this.node;
    if (!node || this.finished) return;
    const now = Date.now();
    if (this.outbound.length) {
      const head = this.outbound[0];
      if (head.due > now) return this.scheduleFlush(head.due - now);
      const glue = this.o.faults.glue;
      if (glue && now - head.due < GLUE_WINDOW_MS) return this.scheduleFlush(GLUE_WINDOW_MS - (now - head.due));
      const parts: Buffer[] = [];
      while (this.outbound.length && this.outbound[0].due <= now) {
        parts.push(this.outbound.shift()!.bytes);
        if (!glue) break;
      }
      const bytes = Buffer.concat(parts);
      // Glued writes go out as one TCP write; otherwise at most one chunk per write.
      const step = glue ? bytes.length : this.maxChunk;
      for (let off = 0; off < bytes.length; off += step) {
        this.writesInFlight++;
        node.write(bytes.subarray(off, off + step), () => {
          this.writesInFlight--;
          this.afterWrite();
        });
      }
      if (this.outbound.length) return this.scheduleFlush(0);
    }
    if (this.ending && !this.endSent) {
      // Espruino closes the socket outright once its send buffer is empty.
      this.endSent = true;
      node.end(() => node.destroy());
    }
  }

  private queue(type: SocketEventType, a?: string | number | boolean, b?: string): void {
    this.inbound.push({ type, a, b, due: Date.now() + this.o.faults.delayMs });
    this.schedulePump(0);
  }

  private schedulePump(ms: number): void {
    if (this.pumpTimer) return;
    const run = () => { this.pumpTimer = null; this.pump(); };
    this.pumpTimer = ms > 0 ? setTimeout(run, ms) : setImmediate(run);
  }

  /** Delivers at most one event per turn, so timers and other sockets interleave as on the board. */
  private pump(): void {
    const head = this.inbound[0];
    if (!head) return;
    const now = Date.now();
    if (head.due > now) return this.schedulePump(head.due - now);
    if (head.type === 'data') {
      // Glue waits for the sender to go quiet so that separate arrivals meet in one chunk.
      if (this.o.faults.glue) {
        const quiet = now - this.lastArrival;
        if (quiet < GLUE_WINDOW_MS && !this.finished) return this.schedulePump(GLUE_WINDOW_MS - quiet);
      }
      // Like recv() on the board, a chunk takes whatever has arrived, up to the chunk size.
      while (this.inbound.length > 1 && this.inbound[1].type === 'data' && this.inbound[1].due <= now) {
        head.a = (head.a as string) + (this.inbound.splice(1, 1)[0].a as string);
      }
      const s = head.a as string;
      const max = this.maxChunk;
      if (s.length > max) head.a = s.slice(max);
      else this.inbound.shift();
      this.o.deliver(this.id, 'data', s.slice(0, max));
    } else {
      this.inbound.shift();
      this.o.deliver(this.id, head.type, head.a, head.b);
    }
    if (this.inbound.length) this.schedulePump(0);
  }
}

export interface TlsOptions { ca?: string; key?: string; cert?: string }

export class SimNet {
  private links = new Map<number, Link>();

  constructor(private readonly o: NetOptions) {}

  /** Returns an error message when the board's net.connect must throw, else ''. */
  connect(id: number, host: string, port: number, secure: boolean, tlsOptions: TlsOptions): string {
    // What the Linux build throws (it also prints "ERROR: Connect failed (err 111)").
    if (this.o.faults.refuse && this.o.refuseThrows) return 'Unable to create socket';
    const link = new Link(id, secure, this.o);
    this.links.set(id, link);
    if (this.o.faults.refuse) {
      link.refuse();
      return '';
    }
    let node: net.Socket;
    if (secure) {
      node = tls.connect({
        host, port,
        ca: tlsOptions.ca, key: tlsOptions.key, cert: tlsOptions.cert,
        // Espruino's mbedTLS checks the chain only when a CA is given, and the
        // simulator does not check the host name (test brokers run on 127.0.0.1).
        rejectUnauthorized: !!tlsOptions.ca,
        checkServerIdentity: () => undefined,
        servername: net.isIP(host) ? undefined : host,
      });
    } else {
      node = net.connect({ host, port });
    }
    link.attach(node);
    return '';
  }

  write(id: number, s: string): void { this.links.get(id)?.write(s); }
  end(id: number): void { this.links.get(id)?.end(); }

  /** Called once the board has seen 'close', so the link can be forgotten. */
  forget(id: number): void { this.links.delete(id); }

  dropAll(): void { for (const l of this.links.values()) l.drop(); }

  openCount(): number {
    let n = 0;
    for (const l of this.links.values()) if (!l.finished) n++;
    return n;
  }

  destroy(): void {
    for (const l of this.links.values()) l.kill();
    this.links.clear();
  }
}
