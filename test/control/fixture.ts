// A real broker with the HIL controls attached (programmatic and HTTP), on 127.0.0.1.
import * as http from 'http';
import * as net from 'net';
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { Broker } from '../../host-broker/broker';
import { Control, createControl } from '../../host-broker/control/control';
import { ControlServer, startControlServer } from '../../host-broker/control/http-server';
import { waitFor } from '../routes/fixtures/common';

export interface ControlledHub {
  broker: Broker;
  control: Control;
  http: ControlServer;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startControlledHub(): Promise<ControlledHub> {
  const broker = new Broker();
  const control = createControl(broker);
  const ports = await broker.listen({ tcp: { port: 0 } });
  const http = await startControlServer(control);
  return {
    broker, control, http, port: ports.tcp!, url: `mqtt://127.0.0.1:${ports.tcp}`,
    async close() { control.close(); await http.close(); await broker.close(); },
  };
}

// MQTT.js peers: the same helpers the security tests use.
export { connect, endAll } from '../broker-security/hub-fixture';

export const until = (cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000) => waitFor(cond, what, timeoutMs);

/** One HTTP request with a raw body, for answers the Node client would not send (bad JSON, bad query). */
export function raw(url: string, method: string, path: string, body?: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, method, path, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A bare MQTT 3.1.1 client over mqtt-packet that does what the spec asks and
 * MQTT.js does not: a QoS 1 PUBLISH re-sent after reconnect carries DUP=1
 * [MQTT-3.3.1-1]. Just enough for the resend scenario.
 */
export class RawClient {
  private sock!: net.Socket;
  private parser = mqttPacket.parser({ protocolVersion: 4 });
  readonly received: Packet[] = [];
  private waiters: { pred: (p: Packet) => boolean; resolve: (p: Packet) => void }[] = [];

  constructor(private port: number, private clientId: string) {
    this.parser.on('packet', (p: Packet) => {
      this.received.push(p);
      for (const w of [...this.waiters]) if (w.pred(p)) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(p); }
    });
  }

  next(pred: (p: Packet) => boolean, timeoutMs = 5000): Promise<Packet> {
    const seen = this.received.find(pred);
    if (seen) { this.received.splice(this.received.indexOf(seen), 1); return Promise.resolve(seen); }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('RawClient: expected packet did not arrive')), timeoutMs);
      this.waiters.push({ pred, resolve: (p) => { clearTimeout(t); this.received.splice(this.received.indexOf(p), 1); resolve(p); } });
    });
  }

  async connect(clean: boolean): Promise<Packet> {
    this.sock = net.connect(this.port, '127.0.0.1');
    this.sock.on('data', (d) => this.parser.parse(d));
    this.sock.on('error', () => undefined);
    await new Promise((r) => this.sock.once('connect', r));
    this.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: this.clientId, clean, keepalive: 0 } as Packet);
    return this.next((p) => p.cmd === 'connack');
  }

  send(p: Packet): void { this.sock.write(mqttPacket.generate(p)); }
  closed(): Promise<void> { return new Promise((r) => (this.sock.destroyed ? r() : this.sock.once('close', () => r()))); }
  destroy(): void { this.sock?.destroy(); }
}
