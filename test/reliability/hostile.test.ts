// Hostile clients against the hub as users run it: `host-broker start --config`
// in its own process, devices from the config file, a client certificate from
// `host-broker devices cert`, hub events read by a monitor device on
// $hub/events/#. Every attempt must be refused and leave a hub event.
// The matrix with outcomes is in the README's Security section.
import { strict as assert } from 'assert';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { HubCA } from '../../host-broker/security/ca';
import { RawClient, sleep, until } from '../broker/support';
import { frame, lengthBytes } from './support/mutate';

const BIN = path.resolve(__dirname, '../../bin/host-broker.cjs');
const policy = (id: string) => ({ publish: { accept: [`devices/${id}/#`] }, subscribe: { accept: [`devices/${id}/#`] } });

interface HubEv { kind: string; objectId: string; objectType: string; message: string; packet?: any }

describe('reliability: hostile clients (host-broker CLI with device security)', function () {
  this.timeout(60000);
  let dir: string;
  let proc: ChildProcess;
  let ports: { tcp: number; tls: number };
  let monitor: MqttClient;
  const events: HubEv[] = [];
  const open: MqttClient[] = [];
  let ca: string;
  let goodCert: { cert: string; key: string };
  let strangerCert: { cert: string; key: string };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-'));
    const config = {
      listeners: { tcp: { port: 0 }, tls: { port: 0 } },
      devices: [
        { id: 'dev-a', username: 'dev-a', password: 'pw-a', ...policy('dev-a') },
        { id: 'dev-b', username: 'dev-b', password: 'pw-b', ...policy('dev-b') },
        { id: 'dev-off', username: 'dev-off', password: 'pw-off', enabled: false },
        { id: 'dev-tls', username: 'dev-tls', password: 'pw-tls', allowInsecure: false, ...policy('dev-tls') },
        { id: 'monitor', username: 'monitor', password: 'pw-m', subscribe: { accept: ['$hub/events/#'] } },
        { id: 'watch', username: 'watch', password: 'pw-w', subscribe: { reject: ['devices/+/secret/#'] } },
        { id: 'newbie', username: 'newbie', password: 'pw-n' },
      ],
      limits: { maxPacketSize: 65536, connectTimeoutMs: 1000, maxQueuedPerClient: 100, maxConnections: 100 },
    };
    fs.writeFileSync(path.join(dir, 'hub.json'), JSON.stringify(config));
    // The device's certificate, issued the way an operator would (this also creates the hub CA).
    const issued = spawnSync(process.execPath, [BIN, 'devices', 'cert', 'dev-tls', '--data-dir', dir, '--out', dir, '--no-pin'], { encoding: 'utf8' });
    if (issued.status !== 0) {
      // devices cert needs the device in the registry first: the hub adds config devices at start.
      const added = spawnSync(process.execPath, [BIN, 'devices', 'add', 'dev-tls', '--data-dir', dir, '--require-tls'], { encoding: 'utf8' });
      assert.equal(added.status, 0, added.stderr);
      const again = spawnSync(process.execPath, [BIN, 'devices', 'cert', 'dev-tls', '--data-dir', dir, '--out', dir, '--no-pin'], { encoding: 'utf8' });
      assert.equal(again.status, 0, again.stderr);
    }
    ca = fs.readFileSync(path.join(dir, 'ca.cert.pem'), 'utf8');
    goodCert = { cert: fs.readFileSync(path.join(dir, 'dev-tls.cert.pem'), 'utf8'), key: fs.readFileSync(path.join(dir, 'dev-tls.key.pem'), 'utf8') };
    // The same device name, signed by some other CA.
    const other = HubCA.create({ commonName: 'not the hub CA' }).ca.issueDeviceCert('dev-tls');
    strangerCert = { cert: other.certPem, key: other.keyPem };

    proc = spawn(process.execPath, [BIN, 'start', '--config', path.join(dir, 'hub.json'), '--data-dir', dir, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
    ports = await new Promise((resolve, reject) => {
      let buf = '';
      let err = '';
      proc.stderr!.on('data', (d) => { err += d; });
      proc.stdout!.on('data', (d) => {
        buf += d;
        const m = /"msg":"listening"/.test(buf) && /"ports":(\{[^}]*\})/.exec(buf);
        if (m) resolve(JSON.parse(m[1]));
      });
      proc.once('exit', (code) => reject(new Error(`host-broker exited ${code}: ${err}`)));
    });
    monitor = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.tcp}`, { clientId: 'monitor', username: 'monitor', password: 'pw-m', reconnectPeriod: 0 });
    monitor.on('message', (_t, p) => events.push(JSON.parse(p.toString())));
    await monitor.subscribeAsync('$hub/events/#');
  });

  after(async () => {
    for (const c of open) c.end(true);
    await monitor?.endAsync(true);
    if (proc && proc.exitCode === null) {
      await new Promise<void>((r) => { proc.once('exit', () => r()); proc.kill('SIGTERM'); });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const tcpUrl = () => `mqtt://127.0.0.1:${ports.tcp}`;
  const tlsUrl = () => `mqtts://127.0.0.1:${ports.tls}`;

  /** The first hub event after `from` matching kind (and objectId, if given). */
  const eventAfter = async (from: number, kind: string, objectId?: string): Promise<HubEv> => {
    let found: HubEv | undefined;
    await until(() => !!(found = events.slice(from).find((e) => e.kind === kind && (objectId === undefined || e.objectId === objectId))),
      `a ${kind} hub event${objectId ? ` about ${objectId}` : ''} (have ${JSON.stringify(events.slice(from).map((e) => [e.kind, e.objectId]))})`);
    return found!;
  };

  /** Resolves with the CONNACK return code of a refused connection. */
  const refused = (url: string, opts: IClientOptions): Promise<number> => new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.on('connect', () => { c.end(true); reject(new Error('connected, but should have been refused')); });
    c.on('error', (e: any) => { c.end(true); resolve(typeof e.code === 'number' ? e.code : -1); });
  });

  const device = async (id: string, pw: string, extra: IClientOptions = {}): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(tcpUrl(), { clientId: `${id}-${open.length}`, username: id, password: pw, reconnectPeriod: 0, ...extra });
    open.push(c);
    return c;
  };

  const rawDevice = async (id: string, pw: string): Promise<RawClient> =>
    RawClient.connect(ports.tcp, { clientId: `${id}-raw-${open.length}`, username: id, password: Buffer.from(pw) } as any);

  describe('who may connect', () => {
    it('no credentials: CONNACK 5, authentication_failure', async () => {
      const n = events.length;
      assert.equal(await refused(tcpUrl(), { clientId: 'anon' }), 5);
      assert.match((await eventAfter(n, 'authentication_failure', 'anon')).message, /no credentials/);
    });

    it('wrong password: CONNACK 4, authentication_failure', async () => {
      const n = events.length;
      assert.equal(await refused(tcpUrl(), { clientId: 'guess', username: 'dev-a', password: 'nope' }), 4);
      assert.match((await eventAfter(n, 'authentication_failure')).message, /wrong password for device dev-a/);
    });

    it('unknown user name: CONNACK 4, authentication_failure', async () => {
      const n = events.length;
      assert.equal(await refused(tcpUrl(), { clientId: 'who', username: 'mallory', password: 'x' }), 4);
      await eventAfter(n, 'authentication_failure', 'who');
    });

    it('a client id that belongs to another device: CONNACK 5', async () => {
      const n = events.length;
      assert.equal(await refused(tcpUrl(), { clientId: 'dev-b', username: 'dev-a', password: 'pw-a' }), 5);
      assert.match((await eventAfter(n, 'authentication_failure')).message, /belongs to device dev-b/);
    });

    it('a disabled device: CONNACK 5, device_disabled', async () => {
      const n = events.length;
      assert.equal(await refused(tcpUrl(), { clientId: 'off', username: 'dev-off', password: 'pw-off' }), 5);
      await eventAfter(n, 'device_disabled', 'dev-off');
    });

    it('plain TCP (right password) for a device that requires mutual TLS: CONNACK 5, tls_required', async () => {
      const n = events.length;
      assert.equal(await refused(tcpUrl(), { clientId: 'plain', username: 'dev-tls', password: 'pw-tls' }), 5);
      await eventAfter(n, 'tls_required', 'dev-tls');
    });

    it('TLS with a certificate for the same device name from another CA: CONNACK 5, authentication_failure', async () => {
      const n = events.length;
      assert.equal(await refused(tlsUrl(), { clientId: 'forged', ca, ...strangerCert, rejectUnauthorized: true, servername: 'localhost' }), 5);
      assert.match((await eventAfter(n, 'authentication_failure', 'forged')).message, /not issued by the hub CA/);
      // The real certificate works, so the refusal above is about the CA.
      const ok = await mqtt.connectAsync(tlsUrl(), { clientId: 'dev-tls', ca, ...goodCert, rejectUnauthorized: true, servername: 'localhost', reconnectPeriod: 0 });
      await ok.endAsync();
    });
  });

  describe('what a device may do', () => {
    it('a device whose policy accepts only its own topics subscribing to #, +/#, $-topics or another device\'s topics: SUBACK 0x80 each, unauthorized_topic; its own topics granted', async () => {
      const a = await rawDevice('dev-a', 'pw-a');
      const n = events.length;
      const filters = ['#', '+/#', '$hub/#', '$hub/events/#', '$SYS/#', 'devices/dev-b/#', 'devices/+/secret', 'devices/dev-a/#'];
      a.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters.map((topic) => ({ topic, qos: 1 })) } as Packet);
      const ack = (await a.next('suback')) as any;
      assert.deepEqual(ack.granted, filters.map((f) => (f === 'devices/dev-a/#' ? 1 : 128)));
      a.destroy();
      await until(() => events.slice(n).filter((e) => e.kind === 'unauthorized_topic' && e.objectId === 'dev-a').length >= filters.length - 1, '7 unauthorized_topic events');
    });

    it('a device added with no policy subscribing to $hub/events/# or $hub/#: SUBACK 0x80, unauthorized_topic; # granted (it never matches $ topics)', async () => {
      const c = await rawDevice('newbie', 'pw-n');
      const n = events.length;
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: ['$hub/events/#', '$hub/#', '#'].map((topic) => ({ topic, qos: 0 })) } as Packet);
      assert.deepEqual(((await c.next('suback')) as any).granted, [0x80, 0x80, 0]);
      await until(() => events.slice(n).filter((e) => e.kind === 'unauthorized_topic' && e.objectId === 'newbie').length === 2, 'two unauthorized_topic events');
      const before = c.packets.length;
      await refused(tcpUrl(), { clientId: 'newbie-guess', username: 'newbie', password: 'wrong' }); // raises a hub event
      await sleep(200);
      assert.deepEqual(c.packets.slice(before).filter((p) => p.cmd === 'publish' && (p as any).topic.startsWith('$')), [], 'no hub event reached it');
      c.destroy();
    });

    it('subscribing to # under a policy that only rejects topics (a monitor): granted; rejected topics, retained ones included, are never delivered', async () => {
      const a = await device('dev-a', 'pw-a');
      await a.publishAsync('devices/dev-a/secret/key', 'hunter2', { qos: 1, retain: true });
      await a.publishAsync('devices/dev-a/status', 'up', { qos: 1, retain: true });
      const w = await rawDevice('watch', 'pw-w');
      w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1 }, { topic: 'devices/dev-a/secret/#', qos: 1 }] } as Packet);
      assert.deepEqual(((await w.next('suback')) as any).granted, [1, 0x80]);
      await a.publishAsync('devices/dev-a/secret/key', 'hunter3', { qos: 1 });
      await a.publishAsync('devices/dev-a/temp', '21', { qos: 1 });
      const seen: string[] = [];
      for (;;) {
        const p = (await w.next('publish')) as any;
        seen.push(p.topic);
        if (p.qos) w.send({ cmd: 'puback', messageId: p.messageId } as Packet);
        if (p.topic === 'devices/dev-a/temp') break;
      }
      await sleep(100);
      assert.ok(seen.includes('devices/dev-a/status'), `the retained status arrived (${seen})`);
      assert.deepEqual([...seen, ...w.packets.filter((p) => p.cmd === 'publish').map((p) => (p as any).topic)].filter((t) => t.includes('secret')), []);
      await a.publishAsync('devices/dev-a/secret/key', '', { qos: 1, retain: true });
      w.destroy();
    });

    it('publishing to another device\'s topics or forging a hub event: dropped, unauthorized_topic', async () => {
      const b = await device('dev-b', 'pw-b');
      const gotB: string[] = [];
      b.on('message', (t) => gotB.push(t));
      await b.subscribeAsync('devices/dev-b/#', { qos: 1 });
      const a = await device('dev-a', 'pw-a');
      const n = events.length;
      await a.publishAsync('devices/dev-b/cmd', 'open the door', { qos: 1 }); // acknowledged, then dropped [by design: MQTT 3.1.1 has no way to say no]
      await a.publishAsync('$hub/events/error/device/dev-b', '{"kind":"forged"}', { qos: 1 });
      await eventAfter(n, 'unauthorized_topic', 'dev-a');
      await until(() => events.slice(n).filter((e) => e.kind === 'unauthorized_topic').length >= 2, 'two unauthorized_topic events');
      await b.publishAsync('devices/dev-b/marker', 'm', { qos: 1 });
      await until(() => gotB.includes('devices/dev-b/marker'), 'the marker');
      assert.deepEqual(gotB, ['devices/dev-b/marker'], 'dev-b never saw dev-a\'s message');
      assert.ok(!events.some((e) => e.kind === ('forged' as string)), 'no forged hub event');
    });

    it('a Will on a forbidden topic: CONNACK 5, unauthorized_topic', async () => {
      const n = events.length;
      assert.equal(await refused(tcpUrl(), { clientId: 'dev-a-will', username: 'dev-a', password: 'pw-a', will: { topic: 'devices/dev-b/status', payload: Buffer.from('offline'), qos: 1, retain: true } }), 5);
      await eventAfter(n, 'unauthorized_topic', 'dev-a');
    });
  });

  describe('what the bytes may be', () => {
    it('[MQTT-1.5.3-2] a topic with U+0000: connection closed, malformed_packet', async () => {
      const c = await rawDevice('dev-a', 'pw-a');
      const n = events.length;
      c.sendRaw(frame(0x30, [0, 3, 0x61, 0x00, 0x62, 0x78]));
      assert.equal(await c.waitClosed(), true);
      assert.match((await eventAfter(n, 'malformed_packet')).message, /U\+0000/);
    });

    it('[MQTT-1.5.3] a control character (U+0001) in a topic: connection closed, malformed_packet', async () => {
      const c = await rawDevice('dev-a', 'pw-a');
      const n = events.length;
      c.sendRaw(frame(0x30, [0, 3, 0x61, 0x01, 0x62, 0x78]));
      assert.equal(await c.waitClosed(), true);
      assert.match((await eventAfter(n, 'malformed_packet')).message, /U\+0001, a control character \[MQTT-1\.5\.3\]/);
    });

    it('[MQTT-4.3.2-2] PUBREC for a QoS 1 delivery (the wrong acknowledgement): connection closed, protocol_violation', async () => {
      const c = await rawDevice('dev-a', 'pw-a');
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/dev-a/ack', qos: 1 }] } as Packet);
      await c.next('suback');
      const pub = await device('dev-a', 'pw-a');
      await pub.publishAsync('devices/dev-a/ack', 'x', { qos: 1 });
      const p = (await c.next('publish')) as any;
      const n = events.length;
      c.send({ cmd: 'pubrec', messageId: p.messageId } as Packet);
      assert.equal(await c.waitClosed(), true);
      assert.match((await eventAfter(n, 'protocol_violation', 'dev-a')).message, /PUBREC for packet id \d+, a QoS 1 message.*\[MQTT-4\.3\.2-2\]/);
    });

    it('a topic length beyond the packet (claims 65535 bytes): connection closed, malformed_packet', async () => {
      const c = await rawDevice('dev-a', 'pw-a');
      const n = events.length;
      c.sendRaw(frame(0x30, [0xff, 0xff, 0x61, 0x62]));
      assert.equal(await c.waitClosed(), true);
      assert.match((await eventAfter(n, 'malformed_packet')).message, /claims 65535 bytes/);
    });

    it('a 65,535-byte topic in a packet over the hub\'s maxPacketSize (64 KiB): closed before it is read, payload_too_large', async () => {
      const c = await rawDevice('dev-a', 'pw-a');
      const n = events.length;
      const topic = Buffer.alloc(65535, 0x61);
      c.sendRaw(frame(0x30, Buffer.concat([Buffer.from([0xff, 0xff]), topic, Buffer.from('x')])));
      assert.equal(await c.waitClosed(), true);
      await eventAfter(n, 'payload_too_large');
    });

    it('a claimed 256 MB packet, before and after CONNECT: closed at once, payload_too_large, nothing buffered', async () => {
      for (const afterConnect of [false, true]) {
        const c = afterConnect ? await rawDevice('dev-a', 'pw-a') : await RawClient.connectSocket(ports.tcp);
        const n = events.length;
        c.sendRaw([0x30, ...lengthBytes(268_435_455), 0, 1, 0x61]);
        assert.equal(await c.waitClosed(), true);
        assert.match((await eventAfter(n, 'payload_too_large')).message, /268435460 bytes/);
      }
    });

    it('a socket that never sends CONNECT: closed after connectTimeoutMs, connect_timeout', async () => {
      const n = events.length;
      const c = await RawClient.connectSocket(ports.tcp);
      assert.equal(await c.waitClosed(5000), true);
      await eventAfter(n, 'connect_timeout');
    });
  });

  describe('floods', () => {
    it('300 sockets at once (none sends CONNECT) against maxConnections 100: limit_exceeded, and a device still connects and is served', async () => {
      const n = events.length;
      const sockets: net.Socket[] = [];
      for (let i = 0; i < 300; i++) {
        const s = net.connect(ports.tcp, '127.0.0.1');
        s.on('error', () => undefined);
        sockets.push(s);
      }
      await sleep(100);
      const a = await device('dev-a', 'pw-a');
      const got: string[] = [];
      a.on('message', (t) => got.push(t));
      await a.subscribeAsync('devices/dev-a/echo', { qos: 1 });
      await a.publishAsync('devices/dev-a/echo', 'still here', { qos: 1 });
      await until(() => got.length === 1, 'the echo');
      await eventAfter(n, 'limit_exceeded', 'connections');
      for (const s of sockets) s.destroy();
    });

    it('a PUBLISH flood from one device (20,000 QoS 1 + QoS 0): its offline subscriber\'s queue stays at the limit (offline_queue_overflow), broker memory bounded, others served', async () => {
      // An offline persistent subscriber: its queue is what a flood would grow.
      const sink = await device('dev-a', 'pw-a', { clientId: 'dev-a-sink', clean: false });
      await sink.subscribeAsync('devices/dev-a/flood', { qos: 1 });
      await sink.endAsync();
      const rssBefore = rssOf(proc.pid!);
      const n = events.length;
      const flooder = await rawDevice('dev-a', 'pw-a');
      const payload = Buffer.alloc(1024, 0x66);
      const batch: Buffer[] = [];
      for (let i = 0; i < 20000; i++) {
        const qos = i % 2;
        const topic = Buffer.from('devices/dev-a/flood');
        batch.push(frame(0x30 | (qos << 1), Buffer.concat([Buffer.from([0, topic.length]), topic, qos ? Buffer.from([(i % 65535 + 1) >> 8, (i % 65535 + 1) & 0xff]) : Buffer.alloc(0), payload])));
      }
      flooder.sendRaw(Buffer.concat(batch));
      // Meanwhile another device is served.
      const b = await device('dev-b', 'pw-b');
      await b.publishAsync('devices/dev-b/x', 'y', { qos: 1 });
      await until(() => flooder.packets.filter((p) => p.cmd === 'puback').length === 10000, '10,000 PUBACKs', 30000);
      await eventAfter(n, 'offline_queue_overflow', 'dev-a-sink');
      const sessions = await sessionsOf('dev-a-sink');
      assert.equal(sessions, 100, 'the queue holds maxQueuedPerClient messages, no more');
      const grown = rssOf(proc.pid!) - rssBefore;
      assert.ok(grown < 150 * 1024 * 1024, `broker RSS grew by ${Math.round(grown / 1048576)} MB for a 20 MB flood`);
      flooder.destroy();
    });
  });

  /** Queued messages of a session, from the hub's own view (SQLite). */
  async function sessionsOf(clientId: string): Promise<number> {
    const c = await RawClient.connect(ports.tcp, { clientId, username: 'dev-a', password: Buffer.from('pw-a'), clean: false } as any);
    // Resuming the session delivers what was queued: count it (the window lets them all through as they are acknowledged).
    let count = 0;
    for (;;) {
      let p: any;
      try { p = await c.next('publish', 1000); } catch { break; }
      count++;
      c.send({ cmd: 'puback', messageId: p.messageId } as Packet);
    }
    c.destroy();
    return count;
  }
});

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
