// MQTT 3.1 (protocol name "MQIsdp", level 3): old firmware still speaks it, and
// the hub accepts it with 3.1's own rules (host-broker/mqtt31.ts). MQTT 3.1 has
// no numbered normative statements; tests name the section of the 3.1 spec.
import { strict as assert } from 'assert';
import { execFile, spawn } from 'child_process';
import * as fs from 'fs';
import type { Packet } from 'mqtt-packet';
import type { BrokerHooks } from '../../host-broker/hooks';
import { RawClient, mqttClient, startBroker, until, type Running } from './support';

const v31 = { protocolId: 'MQIsdp', protocolVersion: 3 } as const;
const frame = (header: number, body: number[]): number[] => [header, body.length, ...body];
const str = (s: string): number[] => { const b = [...Buffer.from(s, 'utf8')]; return [b.length >> 8, b.length & 0xff, ...b]; };
/** A 3.1 CONNECT frame, byte for byte: header byte, connect flags, client id. */
const connect31 = (header: number, flags: number, clientId: string): number[] => frame(header, [...str('MQIsdp'), 3, flags, 0, 60, ...str(clientId)]);

/** The raw bytes the hub answers with, until `count` bytes arrived. */
async function rawAnswer(c: RawClient, count: number): Promise<Buffer> {
  const got: Buffer[] = [];
  c.socket.on('data', (d) => got.push(d));
  await until(() => Buffer.concat(got).length >= count || c.closed, `${count} bytes`);
  return Buffer.concat(got);
}

describe('broker: MQTT 3.1 (MQIsdp, level 3) clients', () => {
  let r: Running;
  beforeEach(async () => { r = await startBroker(); });
  afterEach(async () => { await r.broker.close(); });

  it('an MQTT.js client speaking 3.1 connects and exchanges QoS 0, 1 and 2 messages with a 3.1.1 client', async () => {
    const old = await mqttClient(r.url, { clientId: 'old-fw', ...v31 });
    const now = await mqttClient(r.url, { clientId: 'new-fw' });
    const toOld: string[] = [];
    const toNow: string[] = [];
    old.on('message', (t, p) => toOld.push(`${t} ${p}`));
    now.on('message', (t, p) => toNow.push(`${t} ${p}`));
    await old.subscribeAsync('to/old', { qos: 2 });
    await now.subscribeAsync('to/new', { qos: 2 });
    for (const qos of [0, 1, 2] as const) {
      await now.publishAsync('to/old', `q${qos}`, { qos });
      await old.publishAsync('to/new', `q${qos}`, { qos });
    }
    await until(() => toOld.length === 3 && toNow.length === 3, 'six messages');
    assert.deepEqual(toOld, ['to/old q0', 'to/old q1', 'to/old q2']);
    assert.deepEqual(toNow, ['to/new q0', 'to/new q1', 'to/new q2']);
    assert.deepEqual(r.events, []);
    await old.endAsync();
    await now.endAsync();
  });

  it('[MQTT 3.1 §3.2] CONNACK has no session-present flag: a resumed session is answered 20 02 00 00', async () => {
    const first = await RawClient.connect(r.port, { clientId: 'keeper', clean: false, ...v31 } as any);
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'k', qos: 1 }] } as Packet);
    await first.next('suback');
    first.send({ cmd: 'disconnect' } as Packet);
    await first.waitClosed();
    await r.broker.publish({ topic: 'k', payload: 'kept for you', qos: 1 });
    const again = await RawClient.connectSocket(r.port);
    const answer = rawAnswer(again, 4);
    again.sendRaw(connect31(0x10, 0x00, 'keeper'));
    assert.deepEqual([...(await answer).subarray(0, 4)], [0x20, 2, 0, 0], 'CONNACK byte 1 is reserved in 3.1');
    assert.equal(((await again.next('publish')) as any).payload.toString(), 'kept for you', 'the session was resumed all the same');
    assert.equal(r.broker.sessions().find((s) => s.clientId === 'keeper')?.persistent, true);
    again.destroy();
  });

  for (const [title, id] of [['an empty client id', ''], ['a 24-byte client id', 'x'.repeat(24)], ['a 23-character client id of 24 bytes', 'é' + 'x'.repeat(22)]] as const) {
    it(`[MQTT 3.1 §3.1] ${title}: CONNACK 2 (identifier rejected), closed, protocol_violation`, async () => {
      const c = await RawClient.connectSocket(r.port);
      c.sendRaw(connect31(0x10, 0x02, id)); // bytes: mqtt-packet will not even encode an empty 3.1 client id
      assert.equal(((await c.next('connack')) as any).returnCode, 2);
      assert.equal(await c.waitClosed(), true);
      assert.match(r.events[0].message, /MQTT 3\.1 client id .* allows 1 to 23/);
    });
  }

  it('[MQTT 3.1 §3.1] a 23-byte client id is accepted', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'y'.repeat(23), ...v31 } as any);
    c.destroy();
  });

  for (const [title, protocolId, level] of [['MQIsdp level 2', 'MQIsdp', 2], ['MQIsdp level 6', 'MQIsdp', 6]] as const) {
    it(`[MQTT 3.1 §3.2] ${title}: CONNACK 1 (unacceptable protocol version), closed`, async () => {
      const c = await RawClient.connectSocket(r.port);
      c.sendRaw(frame(0x10, [...str(protocolId), level, 0x02, 0, 60, ...str('p')]));
      assert.equal(((await c.next('connack')) as any).returnCode, 1);
      assert.equal(await c.waitClosed(), true);
    });
  }

  it('[MQTT 3.1 §3.2] CONNACK return codes 4 and 5 mean what they mean in 3.1: bad user name or password, not authorized', async () => {
    const hooks: BrokerHooks = {
      authenticate: (req) => (req.username === 'nobody' ? { ok: false, returnCode: 5, reason: 'not authorized', event: 'authentication_failure' }
        : req.password?.toString() !== 'right' ? { ok: false, returnCode: 4, reason: 'bad password', event: 'authentication_failure' } : { ok: true }),
    };
    r.broker.addHooks(hooks);
    for (const [username, password, code] of [['dev', 'wrong', 4], ['nobody', 'right', 5], ['dev', 'right', 0]] as const) {
      const c = await RawClient.connectSocket(r.port);
      c.send({ cmd: 'connect', ...v31, clean: true, clientId: 'auth31', keepalive: 60, username, password: Buffer.from(password) } as any);
      assert.equal(((await c.next('connack')) as any).returnCode, code, `${username}/${password}`);
      c.destroy();
    }
  });

  it('[MQTT 3.1 §2.1] unused header bits are ignored: CONNECT with QoS 1 in its fixed header and connect flag bit 0 set, SUBSCRIBE / UNSUBSCRIBE / PUBREL with DUP', async () => {
    const c = await RawClient.connectSocket(r.port);
    c.sendRaw(connect31(0x14, 0x03, 'bits'));
    assert.equal(((await c.next('connack')) as any).returnCode, 0);
    c.sendRaw(frame(0x8a, [0, 1, ...str('b/#'), 1])); // SUBSCRIBE, DUP set: a retry
    assert.deepEqual(((await c.next('suback')) as any).granted, [1]);
    c.sendRaw(frame(0x34, [...str('b/x'), 0, 7, 0x78])); // PUBLISH QoS 2
    await c.next('pubrec');
    c.sendRaw(frame(0x6a, [0, 7])); // PUBREL with DUP
    await c.next('pubcomp');
    assert.equal(((await c.next('publish')) as any).topic, 'b/x');
    c.sendRaw(frame(0xaa, [0, 2, ...str('b/#')])); // UNSUBSCRIBE with DUP
    await c.next('unsuback');
    assert.deepEqual(r.events, []);
    assert.equal(c.closed, false);
    c.destroy();
  });

  it('the same bits from a 3.1.1 client are still refused [MQTT-2.2.2-1] [MQTT-3.1.2-3]', async () => {
    const c = await RawClient.connectSocket(r.port);
    c.sendRaw(frame(0x14, [...str('MQTT'), 4, 0x02, 0, 60, ...str('bits311')]));
    assert.equal(await c.waitClosed(), true);
    assert.match(r.events[0].message, /\[MQTT-2\.2\.2-1\]/);
  });

  it('a refused subscription gets 0x80, as in 3.1.1 (MQTT 3.1 has no failure code)', async () => {
    r.broker.addHooks({ authorizeSubscribe: (_c, f) => f !== 'secret' });
    const c = await RawClient.connect(r.port, { clientId: 'sub31', ...v31 } as any);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'secret', qos: 1 }, { topic: 'open', qos: 1 }] } as Packet);
    assert.deepEqual(((await c.next('suback')) as any).granted, [0x80, 1]);
    c.destroy();
  });

  it('the strict checks apply to 3.1 clients too: a control character in a topic closes the connection [MQTT-1.5.3]', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'strict31', ...v31 } as any);
    c.sendRaw(frame(0x30, [...str('a\u0001'), 0x78]));
    assert.equal(await c.waitClosed(), true);
    assert.equal(r.events[0].kind, 'malformed_packet');
  });

  describe('with mosquitto_pub / mosquitto_sub -V mqttv31', () => {
    const PUB = '/usr/bin/mosquitto_pub';
    const SUB = '/usr/bin/mosquitto_sub';
    before(function () {
      if (!fs.existsSync(PUB) || !fs.existsSync(SUB)) {
        console.log('    mosquitto-clients is not installed: skipping (apt-get install mosquitto-clients; .ci/run does this)');
        this.skip();
      }
    });

    it('mosquitto_pub -V mqttv31 -q 2 reaches mosquitto_sub -V mqttv31 -q 2', async () => {
      const sub = spawn(SUB, ['-V', 'mqttv31', '-h', '127.0.0.1', '-p', String(r.port), '-t', 'v31/#', '-q', '2', '-C', '1', '-v', '-i', 'msub31']);
      let out = '';
      sub.stdout.on('data', (d) => { out += d; });
      const done = new Promise<number>((res) => sub.on('close', (code) => res(code ?? -1)));
      await until(() => r.broker.sessions().find((s) => s.clientId === 'msub31')?.subscriptions.length === 1, 'mosquitto_sub subscribed');
      await new Promise<void>((res, rej) => execFile(PUB, ['-V', 'mqttv31', '-h', '127.0.0.1', '-p', String(r.port), '-t', 'v31/x', '-q', '2', '-m', 'old but fine'],
        { timeout: 10000 }, (err) => (err ? rej(err) : res())));
      assert.equal(await done, 0);
      assert.equal(out.trim(), 'v31/x old but fine');
    });
  });
});
