// A real broker with device security on 127.0.0.1 (TCP + mutual TLS), and MQTT.js
// peers to talk to it. Shared by the security tests.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import { Broker } from '../../host-broker/broker';
import type { HubEvent } from '../../host-broker/hooks';
import type { AuthFailureThrottle } from '../../host-broker/security/auth-throttle';
import { HubCA } from '../../host-broker/security/ca';
import { DeviceRegistry } from '../../host-broker/security/device-registry';
import { DeviceSecurity } from '../../host-broker/security/device-security';

export interface Hub {
  broker: Broker;
  registry: DeviceRegistry;
  security: DeviceSecurity;
  ca: HubCA;
  ports: { tcp: number; tls: number };
  dir: string;
  events: HubEvent[];
  close(): Promise<void>;
}

export async function startHub(opts: { allowAnonymous?: boolean; throttle?: AuthFailureThrottle } = {}): Promise<Hub> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-sec-'));
  const registry = new DeviceRegistry({ dataDir: dir });
  const security = new DeviceSecurity({ registry, allowAnonymous: opts.allowAnonymous ?? false, watchIntervalMs: 100, throttle: opts.throttle });
  const ca = HubCA.loadOrCreate(dir);
  const server = ca.loadOrIssueServerCert(dir, ['localhost', '127.0.0.1']);
  const broker = new Broker({ hooks: opts.throttle ? [opts.throttle, security] : [security] });
  security.attach(broker);
  const events: HubEvent[] = [];
  broker.on('hubEvent', (ev: HubEvent) => events.push(ev));
  const ports = await broker.listen({
    tcp: { port: 0 },
    tls: { port: 0, key: server.keyPem, cert: server.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false },
  });
  return {
    broker, registry, security, ca, dir, events, ports: ports as { tcp: number; tls: number },
    async close() {
      security.stop();
      await broker.close();
      registry.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const open = new Set<MqttClient>();

/** Connects an MQTT.js client (no automatic reconnect); rejects with the CONNACK error on refusal. */
export function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, clientId: `t-${Math.random().toString(16).slice(2, 10)}`, ...opts });
    open.add(c);
    c.once('connect', () => resolve(c));
    c.once('error', (err) => { c.end(true); reject(err); });
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** The CONNACK return code of a refused connection. */
export async function refusedWith(url: string, opts: IClientOptions = {}): Promise<number> {
  try {
    const c = await connect(url, opts);
    c.end(true);
  } catch (err: any) {
    if (typeof err.code === 'number') return err.code;
    throw err;
  }
  throw new Error('the connection was accepted');
}

export async function endAll(): Promise<void> {
  await Promise.all([...open].map((c) => c.endAsync(true).catch(() => undefined)));
  open.clear();
}

/** Resolves with the first message on `filter` for which `pred` holds. */
export function nextMessage(c: MqttClient, pred: (topic: string, body: string) => boolean, timeoutMs = 5000): Promise<{ topic: string; body: string }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { c.off('message', on); reject(new Error(`no matching message within ${timeoutMs} ms`)); }, timeoutMs);
    const on = (topic: string, payload: Buffer) => {
      const body = payload.toString();
      if (!pred(topic, body)) return;
      clearTimeout(t);
      c.off('message', on);
      resolve({ topic, body });
    };
    c.on('message', on);
  });
}
