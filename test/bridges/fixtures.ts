// Shared by the bridge tests: a hub (Broker + BridgeManager, SQLite store or
// memory) on a free 127.0.0.1 port, MQTT.js peers that collect what they
// receive, and a Mosquitto with a TLS listener and certificates from the hub CA.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { BridgeManager } from '../../host-broker/bridges/manager';
import { Broker } from '../../host-broker/broker';
import type { HubEvent, HubEventKind } from '../../host-broker/hooks';
import { HubCA } from '../../host-broker/security/ca';
import { MemoryStore } from '../../host-broker/store/memory';
import { SqliteStore } from '../../host-broker/store/sqlite';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { freePort } from '../helpers/ports';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until cond() holds; fails naming `what` (and what `state()` says) after timeoutMs. */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000, state: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${state() ? ` (${state()})` : ''}`);
    await sleep(20);
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Quick reconnects so tests do not sit in backoff. */
export const FAST = { reconnect: { initialMs: 50, maxMs: 400 }, connectTimeoutMs: 3000 };

export interface BridgedHub {
  broker: Broker;
  bridges: BridgeManager;
  port: number;
  url: string;
  wsPort?: number;
  events: HubEvent[];
  dir: string;
  eventsOf(kind: HubEventKind, bridge?: string): HubEvent[];
  /** Stops the hub; the data dir stays unless `remove`. */
  close(opts?: { remove?: boolean }): Promise<void>;
}

/** A hub with these bridges, SQLite in `dir` (a new temp dir by default) unless `memory`. */
export async function startBridgedHub(bridges: unknown[], opts: { dir?: string; memory?: boolean; ws?: boolean; wsPath?: string; port?: number } = {}): Promise<BridgedHub> {
  const dir = opts.dir ?? tempDir('bridge-hub-');
  const broker = new Broker({ store: opts.memory ? new MemoryStore() : new SqliteStore({ dataDir: dir }) });
  const events: HubEvent[] = [];
  broker.on('hubEvent', (e: HubEvent) => events.push(e));
  const manager = new BridgeManager({ broker, bridges });
  broker.addHooks(manager.hooks);
  manager.start();
  const ports = await broker.listen({ tcp: { port: opts.port ?? 0 }, ...(opts.ws ? { ws: { port: 0, ...(opts.wsPath ? { path: opts.wsPath } : {}) } } : {}) });
  let closed = false;
  return {
    broker, bridges: manager, port: ports.tcp!, url: `mqtt://127.0.0.1:${ports.tcp}`, ...(ports.ws ? { wsPort: ports.ws } : {}), events, dir,
    eventsOf: (kind, bridge) => events.filter((e) => e.kind === kind && (bridge === undefined || e.objectId === bridge)),
    async close(o = {}) {
      if (!closed) {
        closed = true;
        await manager.close();
        await broker.close();
      }
      if (o.remove) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Received { topic: string; payload: string; qos: number; retain: boolean }

/** An MQTT.js client that records every message it gets, in order. */
export class Peer {
  readonly got: Received[] = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => this.got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }));
  }

  /**
   * The message listener is on before CONNACK: a resumed session's queued messages can
   * arrive in the same read as CONNACK, before connectAsync() would have resolved.
   */
  static async connect(url: string, opts: IClientOptions = {}): Promise<Peer> {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, clientId: `peer-${Math.random().toString(16).slice(2, 10)}`, ...opts });
    const peer = new Peer(c);
    await new Promise<void>((resolve, reject) => {
      // Only the first connect decides: later errors belong to the client's own reconnects.
      const ok = () => { c.off('error', fail); resolve(); };
      const fail = (err: Error) => { c.off('connect', ok); c.end(true); reject(err); };
      c.once('connect', ok);
      c.once('error', fail);
    });
    return peer;
  }

  async subscribe(filter: string | string[], qos: 0 | 1 | 2 = 1): Promise<void> {
    await this.client.subscribeAsync(filter, { qos });
  }

  publish(topic: string, payload: string, qos: 0 | 1 | 2 = 1, retain = false): Promise<unknown> {
    return this.client.publishAsync(topic, payload, { qos, retain });
  }

  on(topic: string): string[] { return this.got.filter((m) => m.topic === topic).map((m) => m.payload); }

  async end(): Promise<void> { await this.client.endAsync(true).catch(() => undefined); }
}

export interface TlsFiles { dir: string; ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; strangerCert: string; strangerKey: string; otherCa: string }

/**
 * A CA (the hub's HubCA code) with a server certificate for 127.0.0.1/localhost and
 * a client certificate for `clientCn`; a second CA with its own "stranger" client certificate.
 */
export function makeTlsFiles(clientCn = 'edge-hub-1'): TlsFiles {
  const dir = tempDir('bridge-tls-');
  fs.chmodSync(dir, 0o755); // mosquitto reads them as its own user
  const { ca } = HubCA.create({ commonName: 'upstream test CA', bits: 2048 });
  const { ca: other } = HubCA.create({ commonName: 'some other CA', bits: 2048 });
  const server = ca.issueServerCert({ hosts: ['127.0.0.1', 'localhost'] });
  const client = ca.issueDeviceCert(clientCn);
  const stranger = other.issueDeviceCert(clientCn);
  const files: TlsFiles = {
    dir, ca: path.join(dir, 'ca.pem'), serverCert: path.join(dir, 'server.pem'), serverKey: path.join(dir, 'server.key'),
    clientCert: path.join(dir, 'client.pem'), clientKey: path.join(dir, 'client.key'),
    strangerCert: path.join(dir, 'stranger.pem'), strangerKey: path.join(dir, 'stranger.key'), otherCa: path.join(dir, 'other-ca.pem'),
  };
  fs.writeFileSync(files.ca, ca.certPem);
  fs.writeFileSync(files.otherCa, other.certPem);
  fs.writeFileSync(files.serverCert, server.certPem);
  fs.writeFileSync(files.serverKey, server.keyPem);
  fs.writeFileSync(files.clientCert, client.certPem);
  fs.writeFileSync(files.clientKey, client.keyPem);
  fs.writeFileSync(files.strangerCert, stranger.certPem);
  fs.writeFileSync(files.strangerKey, stranger.keyPem);
  return files;
}

/** Mosquitto with its plain listener and a mutual-TLS one (client certificates required, CN as user name). */
export async function startTlsMosquitto(files: TlsFiles): Promise<{ mosq: Mosquitto; tlsPort: number } | null> {
  const tlsPort = await freePort();
  const mosq = await startMosquitto([
    `listener ${tlsPort} 127.0.0.1`,
    `cafile ${files.ca}`, `certfile ${files.serverCert}`, `keyfile ${files.serverKey}`,
    'require_certificate true', 'use_identity_as_username true',
  ].join('\n'));
  return mosq ? { mosq, tlsPort } : null;
}
