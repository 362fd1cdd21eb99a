// Shared by the broker tests: a broker on free ports, and a raw MQTT peer over
// a real socket (mqtt-packet) for the flows and violations MQTT.js will not produce.
import * as net from 'net';
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import mqtt from 'mqtt';
import { Broker, type BrokerOptions } from '../../host-broker';
import type { HubEvent } from '../../host-broker/hooks';

export interface Running { broker: Broker; port: number; events: HubEvent[]; url: string }

export async function startBroker(opts: BrokerOptions = {}): Promise<Running> {
  const broker = new Broker(opts);
  const events: HubEvent[] = [];
  broker.on('hubEvent', (e: HubEvent) => events.push(e));
  const { tcp } = await broker.listen({ tcp: { port: 0 } });
  return { broker, port: tcp!, events, url: `mqtt://127.0.0.1:${tcp}` };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until cond() is true; fails with `what` after timeoutMs. */
export async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** MQTT.js client that does not reconnect by itself. */
export function mqttClient(url: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
}

/** Resolves with the reason once an MQTT.js client fails to connect; rejects if it connects. */
export function connectFails(url: string, opts: mqtt.IClientOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
    c.on('connect', () => { c.end(true); reject(new Error('connected, but should have failed')); });
    c.on('error', (e) => { c.end(true); resolve(e.message); });
    c.on('close', () => { c.end(true); resolve('closed'); });
  });
}

/** A raw MQTT 3.1.1 peer. */
export class RawClient {
  readonly packets: Packet[] = [];
  closed = false;
  private waiters: (() => void)[] = [];
  private parser = mqttPacket.parser({ protocolVersion: 4 });

  private constructor(readonly socket: net.Socket) {
    this.parser.on('packet', (p: Packet) => { this.packets.push(p); this.wake(); });
    socket.on('data', (d) => this.parser.parse(d));
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => undefined);
  }

  static connectSocket(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Opens a socket and completes CONNECT; the CONNACK is the first packet in `packets`. */
  static async connect(port: number, connect: Partial<mqttPacket.IConnectPacket> = {}): Promise<RawClient> {
    const c = await RawClient.connectSocket(port);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'raw', keepalive: 60, ...connect } as Packet);
    const ack = await c.next('connack');
    if ((ack as any).returnCode !== 0) throw new Error(`CONNACK ${(ack as any).returnCode}`);
    return c;
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  send(p: Packet): void { this.socket.write(mqttPacket.generate(p)); }
  sendRaw(bytes: Buffer | number[]): void { this.socket.write(Buffer.from(bytes as any)); }

  /** Resolves with the next not yet taken packet of a command (any when omitted). */
  async next(cmd?: string, timeoutMs = 3000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.packets.findIndex((p) => !cmd || p.cmd === cmd);
      if (i >= 0) return this.packets.splice(i, 1)[0];
      if (this.closed) throw new Error(`connection closed while waiting for ${cmd ?? 'a packet'}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${cmd ?? 'packet'} within ${timeoutMs} ms (have: ${this.packets.map((p) => p.cmd).join(',') || 'nothing'})`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  /** True once the server closed the connection (within timeoutMs). */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => { const t = setTimeout(r, deadline - Date.now()); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
    return this.closed;
  }

  destroy(): void { this.socket.destroy(); }
}

/** Bytes of a packet, for tests that then corrupt them. */
export const encode = (p: Packet): Buffer => mqttPacket.generate(p);
