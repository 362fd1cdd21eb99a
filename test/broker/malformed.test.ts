// Malformed packets of every kind close the connection and raise a hub event;
// nothing a hostile peer sends may crash the broker.
import { strict as assert } from 'assert';
import * as net from 'net';
import { RawClient, startBroker, mqttClient, encode, until, type Running } from './support';

/** A frame with a hand-made body: header byte, then the remaining length (< 128), then body. */
const frame = (header: number, body: number[]): number[] => [header, body.length, ...body];
const str = (s: string | number[]): number[] => {
  const b = typeof s === 'string' ? [...Buffer.from(s, 'utf8')] : s;
  return [b.length >> 8, b.length & 0xff, ...b];
};

describe('broker: malformed packets', () => {
  let r: Running;
  beforeEach(async () => { r = await startBroker({ limits: { maxPacketSize: 4096 } }); });
  afterEach(async () => { await r.broker.close(); });

  const cases: [string, number[], RegExp][] = [
    ['[MQTT-2.3.1-1] PUBLISH QoS 1 with packet id 0', frame(0x32, [...str('a/b'), 0, 0, 0x68, 0x69]), /packet id 0/],
    ['[MQTT-2.3.1-1] SUBSCRIBE with packet id 0', frame(0x82, [0, 0, ...str('a/b'), 0]), /packet id 0/],
    ['[MQTT-2.3.1-1] UNSUBSCRIBE with packet id 0', frame(0xa2, [0, 0, ...str('a/b')]), /packet id 0/],
    ['[MQTT-2.3.1-1] PUBACK with packet id 0', frame(0x40, [0, 0]), /packet id 0/],
    ['[MQTT-1.5.3-1] invalid UTF-8 in a PUBLISH topic', frame(0x30, [...str([0x61, 0xc3, 0x28]), 0x78]), /UTF-8/],
    ['[MQTT-1.5.3-1] a UTF-16 surrogate encoded in UTF-8 (ED A0 80)', frame(0x30, [...str([0x61, 0xed, 0xa0, 0x80]), 0x78]), /UTF-8/],
    ['[MQTT-1.5.3-2] U+0000 in a PUBLISH topic', frame(0x30, [...str([0x61, 0x00, 0x62]), 0x78]), /U\+0000/],
    ['[MQTT-1.5.3-1] invalid UTF-8 in a SUBSCRIBE filter', frame(0x82, [0, 1, ...str([0xff, 0x61]), 0]), /UTF-8/],
    ['[MQTT-3.3.2-2] a wildcard in a PUBLISH topic', frame(0x30, [...str('a/+/c'), 0x78]), /wildcard/],
    ['[MQTT-3.3.2-2] # in a PUBLISH topic', frame(0x30, [...str('a/#'), 0x78]), /wildcard/],
    ['[MQTT-4.7.3-1] an empty PUBLISH topic', frame(0x30, [0, 0, 0x78]), /empty/],
    ['[MQTT-3.8.3-3] SUBSCRIBE without topic filters', frame(0x82, [0, 1]), /no topic filters/],
    ['[MQTT-3.10.3-2] UNSUBSCRIBE without topic filters', frame(0xa2, [0, 1]), /no topic filters/],
    ['[MQTT-3.8.1-1] SUBSCRIBE with reserved flags 0000', frame(0x80, [0, 1, ...str('a'), 0]), /flags/],
    ['[MQTT-3.10.1-1] UNSUBSCRIBE with reserved flags 0000', frame(0xa0, [0, 1, ...str('a')]), /flags/],
    ['[MQTT-3.6.1-1] PUBREL with reserved flags 0000', frame(0x60, [0, 1]), /flags/],
    ['[MQTT-2.2.2-1] PINGREQ with a flag bit set', frame(0xc1, []), /flags/],
    ['[MQTT-2.2.2-1] PUBACK with a flag bit set', frame(0x41, [0, 1]), /flags/],
    ['[MQTT-3-8.3-4] SUBSCRIBE requested QoS 3', frame(0x82, [0, 1, ...str('a'), 3]), /QoS/],
    ['[MQTT-3-8.3-4] SUBSCRIBE requested-QoS byte with reserved bits', frame(0x82, [0, 1, ...str('a'), 0x40]), /reserved bits/],
    ['[MQTT-4.7.1-2] SUBSCRIBE with a misplaced #', frame(0x82, [0, 1, ...str('a/#/b'), 0]), /#/],
    ['[MQTT-4.7.1-3] SUBSCRIBE with + not alone in its level', frame(0x82, [0, 1, ...str('a/b+'), 0]), /\+/],
    ['[MQTT-3.3.1-4] PUBLISH with QoS 3', frame(0x36, [...str('a'), 0, 1]), /QoS 3/],
    ['[MQTT-3.3.1-2] PUBLISH QoS 0 with DUP set', frame(0x38, [...str('a'), 0x78]), /DUP/],
    ['PUBACK with a trailing byte', frame(0x40, [0, 1, 0]), /trailing/],
    ['PINGREQ with a body', frame(0xc0, [1]), /trailing/],
    ['DISCONNECT with a body', frame(0xe0, [0]), /trailing/],
    ['PUBACK shorter than a packet id', frame(0x40, [1]), /ends before/],
    ['PUBLISH whose topic length runs past the packet', frame(0x30, [0, 9, 0x61]), /claims 9 bytes/],
    ['reserved packet type 0', frame(0x00, []), /reserved/],
    ['reserved packet type 15', frame(0xf0, []), /reserved/],
  ];

  for (const [title, bytes, why] of cases) {
    it(`${title}: closes the connection with a malformed_packet event`, async () => {
      const c = await RawClient.connect(r.port, { clientId: 'bad-peer' });
      c.sendRaw(bytes);
      assert.equal(await c.waitClosed(), true, 'the server should close the connection');
      const ev = r.events.find((e) => e.kind === 'malformed_packet');
      assert.ok(ev, `a malformed_packet event (got ${JSON.stringify(r.events)})`);
      assert.equal(ev.objectType, 'client');
      assert.equal(ev.objectId, 'bad-peer');
      assert.match(ev.message, why);
      assert.ok(ev.packet?.cmd, 'the event names the packet type');
    });
  }

  for (const [cmd, header] of [['CONNACK', 0x20], ['SUBACK', 0x90], ['UNSUBACK', 0xb0], ['PINGRESP', 0xd0]] as const) {
    it(`a client sending ${cmd} (server-to-client only) is closed with a protocol_violation event`, async () => {
      const c = await RawClient.connect(r.port, { clientId: 'confused' });
      c.sendRaw(header === 0xd0 ? [header, 0] : header === 0x90 ? [header, 3, 0, 1, 0] : [header, 2, 0, 1]);
      assert.equal(await c.waitClosed(), true);
      assert.equal(r.events[0].kind, 'protocol_violation');
    });
  }

  it('[MQTT-2.2.3] a remaining length of more than 4 bytes closes the connection', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'len' });
    c.sendRaw([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert.equal(await c.waitClosed(), true);
    assert.match(r.events[0].message, /more than 4 bytes/);
  });

  it('refuses a claimed length over the limit from the fixed header alone, before the body arrives', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'huge' });
    // Claims 268435455 bytes; sends only the fixed header and a few bytes.
    c.sendRaw([0x30, 0xff, 0xff, 0xff, 0x7f, 0, 1, 0x61]);
    assert.equal(await c.waitClosed(), true);
    assert.equal(r.events[0].kind, 'payload_too_large');
    assert.match(r.events[0].message, /268435460 bytes/);
  });

  it('refuses a PUBLISH over maxPacketSize with payload_too_large, keeps serving others', async () => {
    const sub = await mqttClient(r.url, { clientId: 'listener' });
    await sub.subscribeAsync('big/#');
    const c = await RawClient.connect(r.port, { clientId: 'huge' });
    c.send({ cmd: 'publish', topic: 'big/one', payload: Buffer.alloc(5000), qos: 0, retain: false, dup: false } as any);
    assert.equal(await c.waitClosed(), true);
    assert.equal(r.events[0].kind, 'payload_too_large');
    const got = new Promise<string>((res) => sub.on('message', (t) => res(t)));
    const ok = await mqttClient(r.url, { clientId: 'small' });
    await ok.publishAsync('big/small', Buffer.alloc(100));
    assert.equal(await got, 'big/small');
    await ok.endAsync(); await sub.endAsync();
  });

  it('handles packets split into single bytes and many packets in one chunk', async () => {
    const c = await RawClient.connectSocket(r.port);
    const connect = encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'dribble', keepalive: 60 } as any);
    for (const b of connect) { c.sendRaw([b]); await new Promise((res) => setImmediate(res)); }
    await c.next('connack');
    c.sendRaw(Buffer.concat([encode({ cmd: 'pingreq' }), encode({ cmd: 'pingreq' }), encode({ cmd: 'pingreq' })]));
    await c.next('pingresp'); await c.next('pingresp'); await c.next('pingresp');
  });

  it('survives random garbage from many peers and still serves a good client', async () => {
    let seed = 42;
    const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
    for (let i = 0; i < 60; i++) {
      const s = net.connect(r.port, '127.0.0.1');
      s.on('error', () => undefined);
      const prefix = i % 2 === 0 ? [...encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `g${i}`, keepalive: 60 } as any)] : [];
      const junk = Array.from({ length: 1 + (rand() % 200) }, () => rand() & 0xff);
      s.end(Buffer.from([...prefix, ...junk]));
    }
    await until(() => r.broker.clients().length === 0, 'garbage peers to be gone');
    const good = await mqttClient(r.url, { clientId: 'good' });
    await good.subscribeAsync('t');
    await good.publishAsync('t', 'still here', { qos: 1 });
    await good.endAsync();
  });
});

describe('broker: hub events over MQTT', () => {
  it('publishes an event as JSON on $hub/events/<severity>/<object-type>/<object-id>', async () => {
    const r = await startBroker();
    try {
      const watcher = await mqttClient(r.url, { clientId: 'watcher' });
      await watcher.subscribeAsync('$hub/events/#');
      const got = new Promise<[string, any]>((res) => watcher.on('message', (t, p) => res([t, JSON.parse(p.toString())])));
      const c = await RawClient.connect(r.port, { clientId: 'dev/7+x' });
      c.sendRaw(frame(0x32, [...str('a/b'), 0, 0]));
      const [topic, ev] = await got;
      assert.equal(topic, '$hub/events/warning/client/dev_7_x');
      assert.equal(ev.kind, 'malformed_packet');
      assert.equal(ev.severity, 'warning');
      assert.equal(ev.objectType, 'client');
      assert.equal(ev.objectId, 'dev/7+x');
      assert.match(ev.message, /packet id 0/);
      assert.deepEqual(ev.packet, { cmd: 'publish' });
      assert.ok(!Number.isNaN(Date.parse(ev.time)));
      await watcher.endAsync();
    } finally { await r.broker.close(); }
  });

  it('[MQTT-4.7.2-1] a "#" subscriber does not receive hub events ($-topic)', async () => {
    const r = await startBroker();
    try {
      const all = await mqttClient(r.url, { clientId: 'all' });
      await all.subscribeAsync('#');
      const seen: string[] = [];
      all.on('message', (t) => seen.push(t));
      r.broker.hubEvent({ kind: 'route_failure', severity: 'error', objectType: 'route', objectId: 'r1', message: 'x' });
      await r.broker.publish({ topic: 'plain', payload: Buffer.from('p') });
      await until(() => seen.length > 0, 'the plain message');
      assert.deepEqual(seen, ['plain']);
      await all.endAsync();
    } finally { await r.broker.close(); }
  });

  it('uses a configured prefix, and publishes nothing when events are off', async () => {
    const on = await startBroker({ events: { prefix: 'hub/ev' } });
    const off = await startBroker({ events: { enabled: false } });
    try {
      const a = await mqttClient(on.url, { clientId: 'a' });
      await a.subscribeAsync('hub/ev/#');
      const got = new Promise<string>((res) => a.on('message', (t) => res(t)));
      on.broker.hubEvent({ kind: 'route_failure', severity: 'error', objectType: 'route', objectId: 'r1', message: 'x' });
      assert.equal(await got, 'hub/ev/error/route/r1');
      const b = await mqttClient(off.url, { clientId: 'b' });
      await b.subscribeAsync('$hub/events/#');
      const seen: string[] = [];
      b.on('message', (t) => seen.push(t));
      off.broker.hubEvent({ kind: 'route_failure', severity: 'error', objectType: 'route', objectId: 'r1', message: 'x' });
      await off.broker.publish({ topic: '$hub/events/marker', payload: Buffer.from('m') });
      await until(() => seen.length > 0, 'the marker');
      assert.deepEqual(seen, ['$hub/events/marker']);
      assert.equal(off.events.length, 1, 'still emitted locally as hubEvent');
      await a.endAsync(); await b.endAsync();
    } finally { await on.broker.close(); await off.broker.close(); }
  });
});
