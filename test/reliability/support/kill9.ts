// kill -9 under QoS 1/2 load. The broker runs in its own process on SQLite
// (test/broker/fixtures/run-broker.ts); a publisher sends QoS 1 and QoS 2
// messages as fast as the broker acknowledges them, a persistent subscriber
// receives them as a correct MQTT receiver would (QoS 2 ids held until PUBREL).
// The broker is killed at random moments and restarted on the same data. At
// the end: every message the broker acknowledged (PUBACK / PUBREC) reached the
// subscriber, and no QoS 2 message was delivered twice.
import * as net from 'net';
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { rng } from './mutate';
import { kill9, spawnBroker } from '../../broker/fixtures/spawn-broker';

/** One MQTT connection that reconnects as the test asks; packets go to `onPacket`. */
class Link {
  socket: net.Socket | null = null;
  constructor(private onPacket: (p: any) => void) {}
  open(port: number, connect: object): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      let acked = false;
      parser.on('packet', (p: any) => {
        if (p.cmd === 'connack') { acked = p.returnCode === 0; resolve(acked); return; }
        if (s === this.socket) this.onPacket(p);
      });
      s.on('data', (d) => parser.parse(d));
      s.on('error', () => undefined);
      s.on('close', () => { if (this.socket === s) this.socket = null; if (!acked) resolve(false); });
      s.on('connect', () => s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, keepalive: 0, ...connect } as Packet)));
      this.socket = s;
    });
  }
  send(p: object): void { if (this.socket && !this.socket.destroyed) this.socket.write(mqttPacket.generate(p as Packet)); }
  drop(): void { this.socket?.destroy(); this.socket = null; }
}

export interface Kill9Result { kills: number; published: number; acknowledged: number; received: number; duplicatesQos1: number; missing: string[]; qos2Twice: string[] }

/**
 * Runs `kills` cycles of load + kill -9 + restart on dataDir, then drains.
 * Message payloads are "<qos>:<n>"; n is unique per message.
 */
export async function kill9Run(dataDir: string, kills: number, seed: number, log: (s: string) => void = () => undefined): Promise<Kill9Result> {
  const r = rng(seed);
  let b = await spawnBroker(dataDir);
  const port = b.port;
  // Publisher state: messages not yet acknowledged by the broker, by packet id.
  const unacked = new Map<number, { payload: string; qos: 1 | 2; released: boolean }>();
  const acknowledged = new Set<string>();
  let nextId = 1;
  let n = 0;
  // Subscriber state: QoS 2 ids received and not yet released (the receiver's side of exactly once).
  const heldQos2 = new Set<number>();
  const deliveries = new Map<string, number>();

  const pub = new Link((p) => {
    const m = unacked.get(p.messageId);
    if (!m) return;
    if (p.cmd === 'puback' && m.qos === 1) { acknowledged.add(m.payload); unacked.delete(p.messageId); }
    else if (p.cmd === 'pubrec' && m.qos === 2) { acknowledged.add(m.payload); m.released = true; pub.send({ cmd: 'pubrel', messageId: p.messageId }); }
    else if (p.cmd === 'pubcomp' && m.qos === 2) unacked.delete(p.messageId);
  });
  let subacked: (() => void) | null = null;
  const sub = new Link((p) => {
    if (p.cmd === 'suback') subacked?.();
    else if (p.cmd === 'publish') {
      const payload = p.payload.toString();
      if (p.qos === 2) {
        sub.send({ cmd: 'pubrec', messageId: p.messageId });
        if (heldQos2.has(p.messageId)) return; // a resend before PUBREL: already delivered
        heldQos2.add(p.messageId);
      } else if (p.qos === 1) sub.send({ cmd: 'puback', messageId: p.messageId });
      deliveries.set(payload, (deliveries.get(payload) ?? 0) + 1);
    } else if (p.cmd === 'pubrel') {
      heldQos2.delete(p.messageId);
      sub.send({ cmd: 'pubcomp', messageId: p.messageId });
    }
  });

  const connectBoth = async () => {
    for (;;) {
      const ok = (await sub.open(port, { clientId: 'k9-sub', clean: false })) && (await pub.open(port, { clientId: 'k9-pub', clean: false }));
      if (ok) break;
      sub.drop(); pub.drop();
      await new Promise((res) => setTimeout(res, 50));
    }
    // Wait for SUBACK: the two sockets race, and a first PUBLISH routed before the
    // subscription exists is acknowledged with nobody to deliver it to.
    const suback = new Promise<void>((res) => { subacked = res; });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'k9/#', qos: 2 }] });
    await suback;
    subacked = null;
    // Resume the publisher's flows [MQTT-4.4.0-1]: PUBREL for those past PUBREC, the PUBLISH (DUP) for the rest.
    for (const [id, m] of unacked) {
      if (m.released) pub.send({ cmd: 'pubrel', messageId: id });
      else pub.send({ cmd: 'publish', topic: `k9/${m.qos}`, payload: Buffer.from(m.payload), qos: m.qos, messageId: id, dup: true, retain: false });
    }
  };
  const publishSome = (count: number) => {
    for (let k = 0; k < count; k++) {
      // Keep the subscriber's backlog small, so every kill finds a short queue to recover and the drain is quick.
      if (unacked.size >= 200 || acknowledged.size - deliveries.size > 300) return;
      while (unacked.has(nextId)) nextId = nextId % 65535 + 1;
      const qos = (1 + (n % 2)) as 1 | 2;
      const payload = `${qos}:${n++}`;
      unacked.set(nextId, { payload, qos, released: false });
      pub.send({ cmd: 'publish', topic: `k9/${qos}`, payload: Buffer.from(payload), qos, messageId: nextId, dup: false, retain: false });
      nextId = nextId % 65535 + 1;
    }
  };

  try {
    await connectBoth();
    for (let k = 0; k < kills; k++) {
      // Load for a random while, then kill -9 in the middle of it.
      const loadMs = 30 + Math.floor(r() * 250);
      const end = Date.now() + loadMs;
      while (Date.now() < end) {
        publishSome(20);
        await new Promise((res) => setTimeout(res, 1 + Math.floor(r() * 4)));
      }
      await kill9(b.proc);
      pub.drop(); sub.drop();
      log(`kill ${k + 1}/${kills}: ${n} published, ${acknowledged.size} acknowledged`);
      b = await spawnBroker(dataDir, port);
      await connectBoth();
    }
    // Drain: every flow completes, every acknowledged message arrives.
    const deadline = Date.now() + 30_000;
    const missingNow = () => [...acknowledged].filter((p) => !deliveries.has(p));
    while ((unacked.size > 0 || missingNow().length > 0 || heldQos2.size > 0) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
    }
    return {
      kills, published: n, acknowledged: acknowledged.size, received: deliveries.size,
      duplicatesQos1: [...deliveries].filter(([p, c]) => p.startsWith('1:') && c > 1).length,
      missing: missingNow().slice(0, 20),
      qos2Twice: [...deliveries].filter(([p, c]) => p.startsWith('2:') && c > 1).map(([p]) => p).slice(0, 20),
    };
  } finally {
    pub.drop(); sub.drop();
    await kill9(b.proc);
  }
}
