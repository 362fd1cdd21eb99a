// QoS 0/1/2 in both directions, exactly-once for QoS 2, ordering, the in-flight
// window, and refused publishes (dropped but acknowledged).
import { strict as assert } from 'assert';
import type { Packet } from 'mqtt-packet';
import { RawClient, startBroker, mqttClient, until, sleep, type Running } from './support';

describe('broker QoS flows', () => {
  let r: Running;
  beforeEach(async () => { r = await startBroker({ limits: { maxInflightPerClient: 4 } }); });
  afterEach(async () => { await r.broker.close(); });

  for (const qos of [0, 1, 2] as const) {
    it(`delivers a QoS ${qos} message end to end between MQTT.js clients`, async () => {
      const sub = await mqttClient(r.url, { clientId: 's' });
      await sub.subscribeAsync('q/#', { qos: 2 });
      const got = new Promise<[string, string, number]>((res) => sub.on('message', (t, p, pk) => res([t, p.toString(), pk.qos])));
      const pub = await mqttClient(r.url, { clientId: 'p' });
      await pub.publishAsync('q/x', `m${qos}`, { qos });
      assert.deepEqual(await got, ['q/x', `m${qos}`, qos]);
      await sub.endAsync(); await pub.endAsync();
    });
  }

  it('[MQTT-3.3.4-1] [MQTT-4.3.2-2] answers QoS 1 with PUBACK and [MQTT-4.3.3-2] QoS 2 with PUBREC then PUBCOMP', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'flows' });
    c.send({ cmd: 'publish', topic: 't', payload: Buffer.from('1'), qos: 1, messageId: 7, retain: false, dup: false } as Packet);
    assert.equal(((await c.next('puback')) as any).messageId, 7);
    c.send({ cmd: 'publish', topic: 't', payload: Buffer.from('2'), qos: 2, messageId: 8, retain: false, dup: false } as Packet);
    assert.equal(((await c.next('pubrec')) as any).messageId, 8);
    c.send({ cmd: 'pubrel', messageId: 8 } as Packet);
    assert.equal(((await c.next('pubcomp')) as any).messageId, 8);
  });

  it('[MQTT-4.3.3-2] QoS 2 inbound is delivered once although the sender repeats the PUBLISH before PUBREL', async () => {
    const sub = await mqttClient(r.url, { clientId: 'once-sub' });
    await sub.subscribeAsync('once', { qos: 2 });
    const seen: string[] = [];
    sub.on('message', (_t, p) => seen.push(p.toString()));
    const c = await RawClient.connect(r.port, { clientId: 'once-pub' });
    const pub = { cmd: 'publish', topic: 'once', payload: Buffer.from('x'), qos: 2, messageId: 11, retain: false } as any;
    c.send({ ...pub, dup: false });
    await c.next('pubrec');
    c.send({ ...pub, dup: true });
    await c.next('pubrec');
    c.send({ cmd: 'pubrel', messageId: 11 } as Packet);
    await c.next('pubcomp');
    // The same id after PUBCOMP is a new message.
    c.send({ ...pub, payload: Buffer.from('y'), dup: false });
    await c.next('pubrec');
    c.send({ cmd: 'pubrel', messageId: 11 } as Packet);
    await c.next('pubcomp');
    await until(() => seen.length >= 2, 'two messages');
    await sleep(100);
    assert.deepEqual(seen, ['x', 'y']);
    await sub.endAsync();
  });

  it('[MQTT-4.3.3-1] outbound QoS 2: PUBLISH, PUBREC -> PUBREL, PUBCOMP ends the flow', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'q2-out' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'o', qos: 2 }] } as Packet);
    await c.next('suback');
    await r.broker.publish({ topic: 'o', payload: Buffer.from('z'), qos: 2 });
    const p: any = await c.next('publish');
    assert.equal(p.qos, 2);
    assert.equal(p.dup, false);
    assert.ok(p.messageId > 0);
    c.send({ cmd: 'pubrec', messageId: p.messageId } as Packet);
    assert.equal(((await c.next('pubrel')) as any).messageId, p.messageId);
    assert.equal(r.broker.sessions()[0].inflight, 1);
    c.send({ cmd: 'pubcomp', messageId: p.messageId } as Packet);
    await until(() => r.broker.sessions()[0].inflight === 0, 'the flow to end');
  });

  it('[MQTT-3.8.4-6] delivers at the lower of the published and the granted QoS', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'down' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'd/0', qos: 0 }, { topic: 'd/1', qos: 1 }] } as Packet);
    assert.deepEqual(((await c.next('suback')) as any).granted, [0, 1]);
    await r.broker.publish({ topic: 'd/0', payload: Buffer.from('a'), qos: 2 });
    assert.equal(((await c.next('publish')) as any).qos, 0);
    await r.broker.publish({ topic: 'd/1', payload: Buffer.from('b'), qos: 2 });
    const p: any = await c.next('publish');
    assert.equal(p.qos, 1);
    c.send({ cmd: 'puback', messageId: p.messageId } as Packet);
    await r.broker.publish({ topic: 'd/1', payload: Buffer.from('c'), qos: 0 });
    assert.equal(((await c.next('publish')) as any).qos, 0);
  });

  it('[MQTT-4.6.0-5] keeps the order of messages on a topic, across a small in-flight window', async () => {
    const sub = await mqttClient(r.url, { clientId: 'order-sub' });
    await sub.subscribeAsync('ord', { qos: 1 });
    const seen: number[] = [];
    sub.on('message', (_t, p) => seen.push(Number(p.toString())));
    const pub = await mqttClient(r.url, { clientId: 'order-pub' });
    const n = 200;
    await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync('ord', String(i), { qos: 1 })));
    await until(() => seen.length === n, `${n} messages`);
    assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i));
    await sub.endAsync(); await pub.endAsync();
  });

  it('holds back messages beyond the in-flight window until acknowledgements arrive', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'window' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'w', qos: 1 }] } as Packet);
    await c.next('suback');
    for (let i = 0; i < 6; i++) await r.broker.publish({ topic: 'w', payload: Buffer.from(String(i)), qos: 1 });
    const first: any[] = [];
    for (let i = 0; i < 4; i++) first.push(await c.next('publish'));
    await sleep(100);
    assert.equal(c.packets.filter((p) => p.cmd === 'publish').length, 0, 'window of 4 is full');
    assert.deepEqual(r.broker.sessions()[0], { ...r.broker.sessions()[0], inflight: 4, queued: 2 });
    c.send({ cmd: 'puback', messageId: first[0].messageId } as Packet);
    assert.equal(((await c.next('publish')) as any).payload.toString(), '4');
  });

  it('drops a refused PUBLISH but still acknowledges it, with an unauthorized_topic event', async () => {
    r.broker.addHooks({ authorizePublish: (_c, topic) => !topic.startsWith('forbidden/') });
    const sub = await mqttClient(r.url, { clientId: 'watch' });
    await sub.subscribeAsync('#', { qos: 1 });
    const seen: string[] = [];
    sub.on('message', (t) => seen.push(t));
    const c = await RawClient.connect(r.port, { clientId: 'naughty' });
    c.send({ cmd: 'publish', topic: 'forbidden/x', payload: Buffer.from('1'), qos: 1, messageId: 3, retain: false, dup: false } as Packet);
    assert.equal(((await c.next('puback')) as any).messageId, 3);
    c.send({ cmd: 'publish', topic: 'forbidden/y', payload: Buffer.from('2'), qos: 2, messageId: 4, retain: false, dup: false } as Packet);
    await c.next('pubrec');
    c.send({ cmd: 'pubrel', messageId: 4 } as Packet);
    await c.next('pubcomp');
    c.send({ cmd: 'publish', topic: 'allowed', payload: Buffer.from('3'), qos: 1, messageId: 5, retain: false, dup: false } as Packet);
    await c.next('puback');
    await until(() => seen.length > 0, 'the allowed message');
    assert.deepEqual(seen, ['allowed']);
    assert.equal(r.events.filter((e) => e.kind === 'unauthorized_topic').length, 2);
    assert.equal(r.events[0].packet?.topic, 'forbidden/x');
    assert.equal(c.closed, false);
    await sub.endAsync();
  });

  it('emits "message" and calls messagePublished for accepted messages only', async () => {
    const published: string[] = [];
    r.broker.addHooks({ authorizePublish: (_c, t) => t !== 'no', messagePublished: (client, m) => published.push(`${client?.clientId ?? 'hub'}:${m.topic}`) });
    const emitted: any[] = [];
    r.broker.on('message', (topic, payload, qos, retain, from) => emitted.push([topic, payload.toString(), qos, retain, from]));
    const pub = await mqttClient(r.url, { clientId: 'pp' });
    await pub.publishAsync('no', 'x', { qos: 1 });
    await pub.publishAsync('yes', 'y', { qos: 1, retain: true });
    await r.broker.publish({ topic: 'internal', payload: 'z' });
    // Hub events are messages of the hub too (routes may forward them).
    assert.deepEqual(published, ['hub:$hub/events/warning/client/pp', 'pp:yes', 'hub:internal']);
    assert.deepEqual(emitted.filter((e) => !e[0].startsWith('$hub/')), [['yes', 'y', 1, true, 'pp'], ['internal', 'z', 0, false, null]]);
    await pub.endAsync();
  });

  it('broker.publish refuses an invalid topic with a clear error', async () => {
    await assert.rejects(r.broker.publish({ topic: 'a/+', payload: Buffer.alloc(0) }), /broker\.publish: topic contains wildcard/);
    await assert.rejects(r.broker.publish({ topic: 'a', payload: Buffer.alloc(0), qos: 3 as any }), /qos must be 0, 1 or 2/);
  });
});
