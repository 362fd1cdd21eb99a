// SUBSCRIBE / UNSUBSCRIBE, wildcards, $-topics, overlapping subscriptions, retained messages.
import { strict as assert } from 'assert';
import type { Packet } from 'mqtt-packet';
import { RawClient, startBroker, mqttClient, until, sleep, type Running } from './support';

describe('broker subscriptions', () => {
  let r: Running;
  beforeEach(async () => { r = await startBroker(); });
  afterEach(async () => { await r.broker.close(); });

  async function receiver(filters: [string, 0 | 1 | 2][], clientId = 'rx') {
    const c = await RawClient.connect(r.port, { clientId });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters.map(([topic, qos]) => ({ topic, qos })) } as Packet);
    const ack: any = await c.next('suback');
    return { c, granted: ack.granted as number[] };
  }

  it('[MQTT-3.8.4-1] [MQTT-3.8.4-5] SUBACK has the packet id and one granted QoS per filter, in order', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'rx' });
    c.send({ cmd: 'subscribe', messageId: 77, subscriptions: [{ topic: 'a', qos: 2 }, { topic: 'b/+', qos: 0 }, { topic: 'c/#', qos: 1 }] } as Packet);
    const ack: any = await c.next('suback');
    assert.equal(ack.messageId, 77);
    assert.deepEqual(ack.granted, [2, 0, 1]);
  });

  it('routes + and # wildcards; # also matches the parent level [MQTT-4.7.1-2]', async () => {
    const { c } = await receiver([['sport/+/player1', 0], ['news/#', 0]]);
    for (const t of ['sport/tennis/player1', 'sport/tennis/player2', 'sport/player1', 'news', 'news/a/b', 'newsx']) {
      await r.broker.publish({ topic: t, payload: Buffer.from(t) });
    }
    await r.broker.publish({ topic: 'end', payload: Buffer.alloc(0) });
    await sleep(100);
    assert.deepEqual(c.packets.filter((p) => p.cmd === 'publish').map((p: any) => p.topic), ['sport/tennis/player1', 'news', 'news/a/b']);
  });

  it('[MQTT-4.7.2-1] leading wildcards do not match $-topics; explicit $ filters do', async () => {
    const { c } = await receiver([['#', 0], ['+/x', 0], ['$SYS/#', 0]]);
    await r.broker.publish({ topic: '$SYS/x', payload: Buffer.from('1') });
    await r.broker.publish({ topic: 'a/x', payload: Buffer.from('2') });
    await until(() => c.packets.length >= 2, 'two messages');
    await sleep(50);
    assert.deepEqual(c.packets.map((p: any) => p.topic), ['$SYS/x', 'a/x']);
  });

  it('[MQTT-3.3.5-1] overlapping subscriptions deliver one copy at the highest QoS', async () => {
    const { c } = await receiver([['o/#', 0], ['o/+', 2], ['o/x', 1]]);
    await r.broker.publish({ topic: 'o/x', payload: Buffer.from('m'), qos: 2 });
    const p: any = await c.next('publish');
    assert.equal(p.qos, 2);
    await sleep(100);
    assert.equal(c.packets.filter((x) => x.cmd === 'publish').length, 0, 'only one copy');
  });

  it('[MQTT-3.8.4-3] subscribing again to the same filter replaces it (one copy, new QoS)', async () => {
    const { c } = await receiver([['same', 0]]);
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'same', qos: 1 }] } as Packet);
    await c.next('suback');
    assert.deepEqual(r.broker.sessions()[0].subscriptions, [{ filter: 'same', qos: 1 }]);
    await r.broker.publish({ topic: 'same', payload: Buffer.from('m'), qos: 1 });
    assert.equal(((await c.next('publish')) as any).qos, 1);
    await sleep(50);
    assert.equal(c.packets.filter((x) => x.cmd === 'publish').length, 0);
  });

  it('[MQTT-3.10.4-4] [MQTT-3.10.4-5] UNSUBSCRIBE stops delivery and is acknowledged, also for unknown filters', async () => {
    const { c } = await receiver([['u/1', 0], ['u/2', 0]]);
    c.send({ cmd: 'unsubscribe', messageId: 9, unsubscriptions: ['u/1', 'never/subscribed'] } as Packet);
    assert.equal(((await c.next('unsuback')) as any).messageId, 9);
    await r.broker.publish({ topic: 'u/1', payload: Buffer.from('a') });
    await r.broker.publish({ topic: 'u/2', payload: Buffer.from('b') });
    assert.equal(((await c.next('publish')) as any).topic, 'u/2');
    await sleep(50);
    assert.equal(c.packets.length, 0);
  });

  it('refuses a filter the policy forbids with 0x80 and an unauthorized_topic event, grants the rest', async () => {
    r.broker.addHooks({ authorizeSubscribe: (_c, f) => !f.startsWith('private/') });
    const { granted } = await receiver([['public/a', 1], ['private/#', 1], ['public/b', 2]]);
    assert.deepEqual(granted, [1, 0x80, 2]);
    assert.equal(r.events.length, 1);
    assert.equal(r.events[0].kind, 'unauthorized_topic');
    assert.equal(r.events[0].packet?.topic, 'private/#');
    await r.broker.publish({ topic: 'private/x', payload: Buffer.from('no') });
    assert.deepEqual(r.broker.sessions()[0].subscriptions.map((s) => s.filter), ['public/a', 'public/b']);
  });
});

describe('broker retained messages', () => {
  let r: Running;
  beforeEach(async () => { r = await startBroker(); });
  afterEach(async () => { await r.broker.close(); });

  it('[MQTT-3.3.1-6] [MQTT-3.3.1-8] a new subscriber gets the retained message with RETAIN set', async () => {
    const pub = await mqttClient(r.url, { clientId: 'p' });
    await pub.publishAsync('ret/a', 'hello', { qos: 1, retain: true });
    const c = await RawClient.connect(r.port, { clientId: 's' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ret/+', qos: 1 }] } as Packet);
    await c.next('suback');
    const p: any = await c.next('publish');
    assert.equal(p.retain, true);
    assert.equal(p.qos, 1);
    assert.equal(p.payload.toString(), 'hello');
    await pub.endAsync();
  });

  it('[MQTT-3.3.1-9] a message forwarded to an existing subscriber has RETAIN cleared', async () => {
    const c = await RawClient.connect(r.port, { clientId: 's' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'live', qos: 0 }] } as Packet);
    await c.next('suback');
    await r.broker.publish({ topic: 'live', payload: Buffer.from('x'), retain: true });
    assert.equal(((await c.next('publish')) as any).retain, false);
  });

  it('[MQTT-3.3.1-5] keeps only the last retained message per topic', async () => {
    await r.broker.publish({ topic: 'r', payload: Buffer.from('1'), retain: true });
    await r.broker.publish({ topic: 'r', payload: Buffer.from('2'), retain: true });
    const c = await RawClient.connect(r.port, { clientId: 's' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'r', qos: 0 }] } as Packet);
    assert.equal(((await c.next('publish')) as any).payload.toString(), '2');
    await sleep(50);
    assert.equal(c.packets.filter((p) => p.cmd === 'publish').length, 0);
  });

  it('[MQTT-3.3.1-10] [MQTT-3.3.1-11] an empty retained payload clears the topic', async () => {
    const pub = await mqttClient(r.url, { clientId: 'p' });
    await pub.publishAsync('clear/me', 'x', { qos: 1, retain: true });
    await pub.publishAsync('clear/me', '', { qos: 1, retain: true });
    await pub.publishAsync('clear/other', 'y', { qos: 0, retain: true });
    const c = await RawClient.connect(r.port, { clientId: 's' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'clear/#', qos: 0 }] } as Packet);
    await c.next('suback');
    assert.equal(((await c.next('publish')) as any).topic, 'clear/other');
    await sleep(50);
    assert.equal(c.packets.length, 0);
    await pub.endAsync();
  });

  it('[MQTT-3.8.4-3] a repeated subscription re-sends the retained messages', async () => {
    await r.broker.publish({ topic: 'again', payload: Buffer.from('r'), retain: true });
    const c = await RawClient.connect(r.port, { clientId: 's' });
    for (let i = 1; i <= 2; i++) {
      c.send({ cmd: 'subscribe', messageId: i, subscriptions: [{ topic: 'again', qos: 0 }] } as Packet);
      await c.next('suback');
      assert.equal(((await c.next('publish')) as any).retain, true);
    }
  });
});
