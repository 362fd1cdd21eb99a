// A small scripted MQTT peer: a real net.Server on 127.0.0.1 speaking
// mqtt-packet, for faults a real broker does not produce on demand (missing
// acks, dropped links mid-flow, duplicates, malformed or oversized packets,
// SUBACK 0x80, CONNACK refusals). Each test scripts its replies.
import * as net from 'net';
import * as tls from 'tls';
import * as mqttPacket from 'mqtt-packet';

export interface PeerConn {
  /** 1 for the first connection to this peer, 2 for the next, ... */
  index: number;
  socket: net.Socket;
  /** Packets received on this connection, parsed by mqtt-packet. */
  packets: any[];
  send(p: any): void;
  raw(bytes: string | Buffer): void;
  /** Abrupt close (no DISCONNECT). */
  drop(): void;
  closed: boolean;
}

export type Script = (conn: PeerConn, packet: any) => void;

/** Default script: CONNACK 0 with session-present off, PINGRESP, PUBACK/PUBREC/PUBCOMP/SUBACK/UNSUBACK as a broker would. */
export const politeBroker: Script = (c, p) => {
  if (p.cmd === 'connect') c.send({ cmd: 'connack', returnCode: 0, sessionPresent: false });
  else if (p.cmd === 'pingreq') c.send({ cmd: 'pingresp' });
  else if (p.cmd === 'publish' && p.qos === 1) c.send({ cmd: 'puback', messageId: p.messageId });
  else if (p.cmd === 'publish' && p.qos === 2) c.send({ cmd: 'pubrec', messageId: p.messageId });
  else if (p.cmd === 'pubrel') c.send({ cmd: 'pubcomp', messageId: p.messageId });
  else if (p.cmd === 'subscribe') c.send({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map((s: any) => s.qos) });
  else if (p.cmd === 'unsubscribe') c.send({ cmd: 'unsuback', messageId: p.messageId });
};

export class Peer {
  readonly conns: PeerConn[] = [];
  private server: net.Server;
  port = 0;

  /** With `tlsOptions` ({ key, cert }) the peer listens with TLS. */
  constructor(public script: Script = politeBroker, tlsOptions?: tls.TlsOptions) {
    this.server = tlsOptions ? tls.createServer(tlsOptions, (s) => this.accept(s)) : net.createServer((s) => this.accept(s));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Every packet received, on every connection, in order. */
  all(): any[] {
    return this.conns.flatMap((c) => c.packets);
  }

  /** Packets with this cmd, on every connection. */
  of(cmd: string): any[] {
    return this.all().filter((p) => p.cmd === cmd);
  }

  get last(): PeerConn {
    return this.conns[this.conns.length - 1];
  }

  async until<T>(what: string, pred: () => T, ms = 10000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const r = pred();
      if (r) return r;
      if (Date.now() > end) throw new Error(`peer: timed out after ${ms} ms waiting for ${what}; got ${JSON.stringify(this.all().map((p) => p.cmd))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the n-th connection (1-based) to exist and have sent CONNECT. */
  connection(n: number, ms?: number): Promise<PeerConn> {
    return this.until(`connection #${n}`, () => (this.conns.length >= n && this.conns[n - 1].packets.length > 0 ? this.conns[n - 1] : null), ms) as Promise<PeerConn>;
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const conn: PeerConn = {
      index: this.conns.length + 1,
      socket,
      packets: [],
      closed: false,
      send: (p) => { if (!socket.destroyed) socket.write(mqttPacket.generate(p, { protocolVersion: 4 })); },
      raw: (b) => { if (!socket.destroyed) socket.write(typeof b === 'string' ? Buffer.from(b, 'latin1') : b); },
      drop: () => { socket.resetAndDestroy(); },
    };
    this.conns.push(conn);
    parser.on('packet', (p: any) => {
      conn.packets.push(p);
      this.script(conn, p);
    });
    parser.on('error', (e: Error) => conn.packets.push({ cmd: 'parse-error', message: e.message }));
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => undefined);
    socket.on('close', () => { conn.closed = true; });
  }
}
