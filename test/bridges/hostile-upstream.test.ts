// Upstreams that misbehave in ways no real broker does on demand (an in-process
// TCP peer on 127.0.0.1 speaking raw bytes): no CONNACK, garbage, a packet
// over the size limit, silence after CONNACK (keepalive deadline), stray acks.
// Each ends in a bridge_down event with the reason, never a crash, and the hub
// keeps serving its devices.
import { strict as assert } from 'assert';
import * as net from 'net';
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { FAST, Peer, sleep, startBridgedHub, until, type BridgedHub } from './fixtures';

/** A TCP server that hands each connection's parsed packets to `script`. */
async function fakeUpstream(script: (sock: net.Socket, p: Packet) => void): Promise<{ port: number; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    socks.add(sock);
    sock.on('close', () => socks.delete(sock));
    sock.on('error', () => undefined);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => script(sock, p));
    parser.on('error', () => sock.destroy());
    sock.on('data', (d) => parser.parse(d));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => { for (const s of socks) s.destroy(); srv.close(() => r()); }),
  };
}

const send = (sock: net.Socket, p: Packet) => sock.write(mqttPacket.generate(p));
const connack = (sock: net.Socket) => send(sock, { cmd: 'connack', returnCode: 0, sessionPresent: false } as Packet);

describe('bridges: a misbehaving upstream', function () {
  this.timeout(30_000);
  let hub: BridgedHub | undefined;
  let fake: { port: number; close(): Promise<void> } | undefined;
  afterEach(async () => {
    await hub?.close({ remove: true });
    await fake?.close();
    hub = fake = undefined;
  });

  const bridged = async (extra: Record<string, unknown> = {}) => {
    hub = await startBridgedHub([{ name: 'odd', url: `mqtt://127.0.0.1:${fake!.port}`, ...FAST, mappings: [{ direction: 'out', filter: '#' }], ...extra }]);
    return hub;
  };
  const firstDown = async (h: BridgedHub) => {
    await until(() => h.eventsOf('bridge_down').length > 0, 'bridge_down');
    return h.eventsOf('bridge_down')[0].message;
  };
  const stillServes = async (h: BridgedHub) => {
    const p = await Peer.connect(h.url);
    try {
      await p.subscribe('ok');
      await p.publish('ok', 'yes');
      await until(() => p.on('ok').length === 1, 'local delivery');
    } finally { await p.end(); }
  };

  it('no CONNACK: the connect deadline', async () => {
    fake = await fakeUpstream(() => undefined);
    const h = await bridged({ connectTimeoutMs: 300 });
    assert.match(await firstDown(h), /no CONNACK from 127\.0\.0\.1:\d+ within 300 ms \(connectTimeoutMs\)/);
    await stillServes(h);
  });

  it('garbage instead of CONNACK', async () => {
    // Packet type 0 is reserved [MQTT-2.2.1]; then a PUBLISH where CONNACK belongs.
    fake = await fakeUpstream((sock) => sock.write(Buffer.from([0x00, 0x00])));
    const h = await bridged();
    assert.match(await firstDown(h), /127\.0\.0\.1:\d+ sent a malformed packet: /);
    await fake.close();
    fake = await fakeUpstream((sock) => send(sock, { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, retain: false, dup: false } as Packet));
    const h2 = await startBridgedHub([{ name: 'odd', url: `mqtt://127.0.0.1:${fake.port}`, ...FAST, mappings: [{ direction: 'out', filter: '#' }] }], { memory: true });
    try {
      assert.match(await firstDown(h2), /127\.0\.0\.1:\d+ sent PUBLISH before CONNACK/);
      assert.equal(h2.eventsOf('bridge_down')[0].severity, 'error');
    } finally { await h2.close({ remove: true }); }
    await stillServes(h);
  });

  it('a packet over the hub\'s size limit after CONNACK', async () => {
    fake = await fakeUpstream((sock, p) => {
      if (p.cmd !== 'connect') return;
      connack(sock);
      // A PUBLISH header claiming ~268 MB; nothing behind it.
      sock.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
    });
    const h = await bridged();
    await until(() => h.eventsOf('bridge_down').length > 0, 'bridge_down');
    assert.match(h.eventsOf('bridge_down')[0].message, /^link to mqtt:\/\/.*: 127\.0\.0\.1:\d+ sent a packet the hub refuses: packet claims 268435460 bytes, more than the limit of 1048576 \(limits\.maxPacketSize\)/);
    await stillServes(h);
  });

  it('silence after CONNACK: PINGREQ unanswered within pingTimeoutMs drops the link', async () => {
    fake = await fakeUpstream((sock, p) => { if (p.cmd === 'connect') connack(sock); });
    const h = await bridged({ keepalive: 1, pingTimeoutMs: 300 });
    await until(() => h.eventsOf('bridge_connected').length > 0, 'connected');
    await until(() => h.eventsOf('bridge_down').length > 0, 'bridge_down', 5000);
    assert.match(h.eventsOf('bridge_down')[0].message, /keepalive: 127\.0\.0\.1:\d+ did not answer PINGREQ within 300 ms \(pingTimeoutMs\); the link is presumed dead/);
  });

  it('answers PINGREQ: the link stays up and the round trip is measured', async () => {
    fake = await fakeUpstream((sock, p) => {
      if (p.cmd === 'connect') connack(sock);
      else if (p.cmd === 'pingreq') send(sock, { cmd: 'pingresp' });
    });
    const h = await bridged({ keepalive: 1, pingTimeoutMs: 300 });
    await until(() => h.bridges.get('odd')!.rttMs !== undefined, 'an RTT sample from PINGRESP', 5000);
    assert.equal(h.bridges.get('odd')!.state, 'connected');
    assert.equal(h.eventsOf('bridge_down').length, 0);
  });

  it('stray and wrong acknowledgements change nothing and break nothing', async () => {
    fake = await fakeUpstream((sock, p) => {
      if (p.cmd === 'connect') {
        connack(sock);
        for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const) send(sock, { cmd, messageId: 4242 } as Packet);
        send(sock, { cmd: 'suback', messageId: 7, granted: [0] } as Packet);
      } else if (p.cmd === 'publish' && p.qos === 1) {
        send(sock, { cmd: 'pubcomp', messageId: p.messageId } as Packet); // the wrong ack for QoS 1
        send(sock, { cmd: 'puback', messageId: p.messageId } as Packet);
      }
    });
    const h = await bridged();
    await until(() => h.eventsOf('bridge_connected').length > 0, 'connected');
    const dev = await Peer.connect(h.url);
    try { await dev.publish('x', 'y', 1); } finally { await dev.end(); }
    await until(() => h.bridges.get('odd')!.stats.acknowledged === 1, 'acknowledged once');
    assert.equal(h.bridges.get('odd')!.queued, 0);
    assert.equal(h.eventsOf('bridge_down').length, 0);
  });
});

describe('bridges: QoS 2 to the upstream across a hub restart', function () {
  this.timeout(30_000);

  it('resumes with the same packet ids: PUBREL for a message past PUBREC, PUBLISH with DUP for one without [MQTT-4.4.0-1]', async () => {
    const seen: { conn: number; cmd: string; id?: number; dup?: boolean; payload?: string }[] = [];
    let conns = 0;
    const fake = await fakeUpstream((sock, p) => {
      if (p.cmd === 'connect') { conns++; send(sock, { cmd: 'connack', returnCode: 0, sessionPresent: conns > 1 } as Packet); return; }
      if (p.cmd === 'publish') seen.push({ conn: conns, cmd: 'publish', id: p.messageId, dup: p.dup, payload: p.payload.toString() });
      if (p.cmd === 'pubrel') seen.push({ conn: conns, cmd: 'pubrel', id: p.messageId });
      if (conns === 1) {
        // First life: take the first message as far as PUBREC, leave the second unanswered.
        if (p.cmd === 'publish' && p.payload.toString() === 'one') send(sock, { cmd: 'pubrec', messageId: p.messageId } as Packet);
      } else {
        if (p.cmd === 'publish') send(sock, { cmd: 'pubrec', messageId: p.messageId } as Packet);
        if (p.cmd === 'pubrel') send(sock, { cmd: 'pubcomp', messageId: p.messageId } as Packet);
      }
    });
    const cfg = [{ name: 'q2', url: `mqtt://127.0.0.1:${fake.port}`, ...FAST, mappings: [{ direction: 'out', filter: '#', qos: 2 }] }];
    let hub = await startBridgedHub(cfg);
    try {
      const dev = await Peer.connect(hub.url);
      await dev.publish('t', 'one', 2);
      await dev.publish('t', 'two', 2);
      await dev.end();
      await until(() => seen.filter((s) => s.cmd === 'pubrel').length === 1 && seen.filter((s) => s.cmd === 'publish').length === 2, 'PUBLISH one (PUBREC, PUBREL), PUBLISH two');
      const [one, two] = seen.filter((s) => s.cmd === 'publish');
      await hub.close();
      hub = await startBridgedHub(cfg, { dir: hub.dir });
      await until(() => seen.some((s) => s.conn === 2 && s.cmd === 'publish') && seen.some((s) => s.conn === 2 && s.cmd === 'pubrel'), 'the resumed flows');
      const again = seen.filter((s) => s.conn === 2);
      assert.deepEqual(again.filter((s) => s.cmd === 'pubrel').map((s) => s.id), [one.id], 'PUBREL for the message the upstream already has; not its PUBLISH again');
      assert.deepEqual(again.filter((s) => s.cmd === 'publish' && s.payload === 'two').map((s) => [s.id, s.dup]), [[two.id, true]]);
      assert.equal(again.some((s) => s.payload === 'one'), false);
      await until(() => hub.bridges.get('q2')!.queued === 0, 'both complete (PUBCOMP)');
    } finally {
      await hub.close({ remove: true });
      await fake.close();
    }
  });
});

describe('bridges: QoS 2 from the upstream', function () {
  this.timeout(30_000);

  it('a PUBLISH sent again after a reconnect (before PUBREL) is delivered on the hub once [MQTT-4.3.3-2]', async () => {
    let conns = 0;
    const acks: string[] = [];
    const fake = await fakeUpstream((sock, p) => {
      if (p.cmd === 'connect') {
        conns++;
        send(sock, { cmd: 'connack', returnCode: 0, sessionPresent: conns > 1 } as Packet);
        send(sock, { cmd: 'publish', topic: 'cmd/x', payload: Buffer.from('once'), qos: 2, messageId: 5, dup: conns > 1, retain: false } as Packet);
        return;
      }
      if (p.cmd === 'pubrec') {
        acks.push(`pubrec ${p.messageId} on ${conns}`);
        if (conns === 1) sock.destroy(); // the link drops before PUBREL
        else send(sock, { cmd: 'pubrel', messageId: 5 } as Packet);
      }
      if (p.cmd === 'pubcomp') acks.push(`pubcomp ${p.messageId} on ${conns}`);
    });
    const hub = await startBridgedHub([{ name: 'in2', url: `mqtt://127.0.0.1:${fake.port}`, ...FAST, mappings: [{ direction: 'in', filter: 'cmd/#', qos: 2 }] }]);
    const local: string[] = [];
    hub.broker.on('message', (topic: string, payload: Buffer) => { if (topic === 'cmd/x') local.push(payload.toString()); });
    try {
      await until(() => acks.includes('pubcomp 5 on 2'), 'PUBREC, reconnect, PUBREC again, PUBREL, PUBCOMP', 10_000, () => acks.join(', '));
      assert.deepEqual(acks, ['pubrec 5 on 1', 'pubrec 5 on 2', 'pubcomp 5 on 2']);
      assert.deepEqual(local, ['once']);
      assert.equal((hub.broker.store as any).db.prepare('SELECT COUNT(*) AS n FROM bridge_in_qos2').get().n, 0, 'the id is released');
    } finally {
      await hub.close({ remove: true });
      await fake.close();
    }
  });
});

describe('bridges: stopping while a connect attempt hangs', function () {
  this.timeout(30_000);

  it('a TLS handshake that never completes does not hold up the hub\'s shutdown', async () => {
    // Accepts TCP and reads, but never answers the TLS ClientHello.
    const socks: net.Socket[] = [];
    const srv = net.createServer((s) => { socks.push(s); s.on('error', () => undefined); s.resume(); });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const fake = { port: (srv.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => { socks.forEach((x) => x.destroy()); srv.close(() => r()); }) };
    const hub = await startBridgedHub([{ name: 'slow', url: `mqtts://127.0.0.1:${fake.port}`, connectTimeoutMs: 20_000, mappings: [{ direction: 'out', filter: '#' }] }], { memory: true });
    try {
      await sleep(300);
      assert.equal(hub.bridges.get('slow')!.state, 'connecting');
      const t0 = Date.now();
      await hub.close({ remove: true });
      assert.ok(Date.now() - t0 < 2000, `closed in ${Date.now() - t0} ms, not after the 20 s connect deadline`);
    } finally {
      await hub.close({ remove: true });
      await fake.close();
    }
  });
});
