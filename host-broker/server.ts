// Listeners: TCP, TLS and MQTT over WebSocket, each optional, each bound to a
// configurable address (default 127.0.0.1). All of them hand a byte stream to
// the broker's one connection handler.
import * as net from 'net';
import * as tls from 'tls';
import * as http from 'http';
import type { Duplex } from 'stream';
import type * as WS from 'ws';
import type { ClientInfo } from './hooks';
import { listenError } from './listen-error';

export type ListenerName = 'tcp' | 'tls' | 'ws';

export interface TcpListenerOptions { port: number; host?: string }
export interface TlsListenerOptions {
  port: number; host?: string;
  key: string | Buffer; cert: string | Buffer; ca?: string | Buffer | (string | Buffer)[];
  requestCert?: boolean; rejectUnauthorized?: boolean;
}
export interface WsListenerOptions { port: number; host?: string; /** Only this URL path is accepted; any path when unset. */ path?: string }
export interface ListenOptions { tcp?: TcpListenerOptions; tls?: TlsListenerOptions; ws?: WsListenerOptions }

export const DEFAULT_HOST = '127.0.0.1';

export type AcceptFn = (stream: Duplex, info: { remoteAddress: string; listener: ListenerName; tls?: ClientInfo['tls'] }) => void;

interface Running { server: net.Server; wss?: WS.WebSocketServer; port: number }

function tlsInfo(s: tls.TLSSocket): ClientInfo['tls'] {
  const cert = s.getPeerCertificate();
  const has = cert && Object.keys(cert).length > 0;
  const cn = has ? cert.subject?.CN : undefined;
  return {
    authorized: s.authorized,
    ...(cn ? { subjectCN: Array.isArray(cn) ? cn[0] : cn } : {}),
    ...(has && cert.fingerprint256 ? { fingerprint256: cert.fingerprint256 } : {}),
  };
}

export class Listeners {
  private options: ListenOptions = {};
  private running = new Map<ListenerName, Running>();
  /** Ports once bound, so a restarted listener comes back on the same port. */
  private ports = new Map<ListenerName, number>();

  constructor(private accept: AcceptFn) {}

  async listen(opts: ListenOptions): Promise<{ tcp?: number; tls?: number; ws?: number }> {
    this.options = { ...this.options, ...opts };
    for (const name of ['tcp', 'tls', 'ws'] as ListenerName[]) if (opts[name]) await this.start(name);
    return this.addresses();
  }

  addresses(): { tcp?: number; tls?: number; ws?: number } {
    const out: { tcp?: number; tls?: number; ws?: number } = {};
    for (const [name, r] of this.running) out[name] = r.port;
    return out;
  }

  isRunning(name: ListenerName): boolean { return this.running.has(name); }

  async start(name: ListenerName): Promise<number> {
    const existing = this.running.get(name);
    if (existing) return existing.port;
    const opt = this.options[name];
    if (!opt) throw new Error(`listener ${name} was never configured; pass it to broker.listen() first`);
    const host = opt.host ?? DEFAULT_HOST;
    const port = this.ports.get(name) ?? opt.port;
    let server: net.Server;
    let wss: WS.WebSocketServer | undefined;
    if (name === 'tcp') {
      server = net.createServer((s) => {
        s.setNoDelay(true);
        this.accept(s, { remoteAddress: s.remoteAddress ?? '', listener: 'tcp' });
      });
    } else if (name === 'tls') {
      const t = opt as TlsListenerOptions;
      server = tls.createServer({
        key: t.key, cert: t.cert, ca: t.ca,
        requestCert: t.requestCert ?? false, rejectUnauthorized: t.rejectUnauthorized ?? false,
      }, (s) => {
        s.setNoDelay(true);
        this.accept(s, { remoteAddress: s.remoteAddress ?? '', listener: 'tls', tls: tlsInfo(s) });
      });
      // A failed handshake is the peer's problem, not the hub's.
      server.on('tlsClientError', () => undefined);
    } else {
      const w = opt as WsListenerOptions;
      // Loaded only for a WebSocket listener: a hub without one does not carry it.
      const { WebSocketServer, createWebSocketStream } = require('ws') as typeof WS;
      const httpServer = http.createServer((_req, res) => { res.writeHead(426, { 'content-type': 'text/plain' }); res.end('MQTT over WebSocket only\n'); });
      wss = new WebSocketServer({
        server: httpServer,
        ...(w.path ? { path: w.path } : {}),
        // MQTT over WebSocket uses the "mqtt" subprotocol; old clients send "mqttv3.1".
        handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
      });
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        this.accept(stream, { remoteAddress: req.socket.remoteAddress ?? '', listener: 'ws' });
      });
      server = httpServer;
    }
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException) => reject(listenError(name, host, port, err));
      server.once('error', fail);
      server.listen(port, host, () => { server.off('error', fail); resolve(); });
    });
    const actual = (server.address() as net.AddressInfo).port;
    this.ports.set(name, actual);
    this.running.set(name, { server, wss, port: actual });
    return actual;
  }

  /** Stops accepting on one listener. The broker drops that listener's clients itself. */
  async stop(name: ListenerName): Promise<void> {
    const r = this.running.get(name);
    if (!r) return;
    this.running.delete(name);
    if (r.wss) {
      for (const c of r.wss.clients) c.terminate();
      await new Promise<void>((resolve) => r.wss!.close(() => resolve()));
    }
    await new Promise<void>((resolve) => r.server.close(() => resolve()));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((n) => this.stop(n)));
  }
}
