// Last Will: published on every loss other than DISCONNECT, including keepalive
// expiry at 1.5 x keepalive and takeover; discarded on DISCONNECT.
import { strict as assert } from 'assert';
import type { Packet } from 'mqtt-packet';
import { RawClient, startBroker, mqttClient, sleep, until, type Running } from './support';

describe('broker Last Will and keepalive', () => {
  let r: Running;
  let wills: { topic: string; payload: string; retain: boolean }[];
  beforeEach(async () => {
    r = await startBroker();
    wills = [];
    const w = await mqttClient(r.url, { clientId: 'will-watcher' });
    await w.subscribeAsync('will/#', { qos: 1 });
    w.on('message', (topic, p, pk) => wills.push({ topic, payload: p.toString(), retain: pk.retain }));
  });
  afterEach(async () => { await r.broker.close(); });

  const withWill = (clientId: string, keepalive = 60) => RawClient.connect(r.port, {
    clientId, keepalive, will: { topic: `will/${clientId}`, payload: Buffer.from('gone'), qos: 1, retain: false },
  } as any);

  it('[MQTT-3.1.2-8] publishes the Will when the connection is lost', async () => {
    const c = await withWill('lost');
    c.destroy();
    await until(() => wills.length === 1, 'the will');
    assert.deepEqual(wills[0], { topic: 'will/lost', payload: 'gone', retain: false });
  });

  it('[MQTT-3.1.2-10] [MQTT-3.14.4-3] does not publish the Will after DISCONNECT', async () => {
    const c = await withWill('polite');
    c.send({ cmd: 'disconnect' } as Packet);
    assert.equal(await c.waitClosed(), true);
    await r.broker.publish({ topic: 'will/marker', payload: Buffer.from('m'), qos: 1 });
    await until(() => wills.length === 1, 'the marker');
    assert.equal(wills[0].topic, 'will/marker');
  });

  it('[MQTT-3.1.2-24] closes a silent client after 1.5 x keepalive and publishes its Will', async () => {
    const c = await withWill('silent', 1);
    const t0 = Date.now();
    assert.equal(await c.waitClosed(4000), true);
    assert.ok(Date.now() - t0 >= 1400, 'not before 1.5 x keepalive');
    await until(() => wills.some((w) => w.topic === 'will/silent'), 'the will');
  });

  it('keeps a client that sends PINGREQ within the keepalive', async () => {
    const c = await withWill('pinger', 1);
    for (let i = 0; i < 4; i++) {
      await sleep(600);
      c.send({ cmd: 'pingreq' } as Packet);
      await c.next('pingresp');
    }
    assert.equal(c.closed, false);
  });

  it('publishes the Will of a client that is taken over', async () => {
    const a = await withWill('twin');
    const b = await RawClient.connect(r.port, { clientId: 'twin' });
    assert.equal(await a.waitClosed(), true);
    await until(() => wills.length === 1, 'the will');
    assert.equal(wills[0].topic, 'will/twin');
    b.destroy();
  });

  it('publishes the Will after a malformed packet', async () => {
    const c = await withWill('broken');
    c.sendRaw([0x32, 3, 0, 1, 0x61]); // QoS 1 PUBLISH cut short
    assert.equal(await c.waitClosed(), true);
    await until(() => wills.length === 1, 'the will');
  });

  it('[MQTT-3.1.2-17] a Will with Will Retain is retained', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'ret', will: { topic: 'will/ret', payload: Buffer.from('bye'), qos: 0, retain: true } } as any);
    c.destroy();
    await until(() => wills.length === 1, 'the will');
    const late = await RawClient.connect(r.port, { clientId: 'late' });
    late.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'will/ret', qos: 0 }] } as Packet);
    const p: any = await late.next('publish');
    assert.equal(p.retain, true);
    assert.equal(p.payload.toString(), 'bye');
  });

  it('broker.disconnect abrupt fires the Will; a clean disconnect does not', async () => {
    await withWill('kick-hard');
    const soft = await withWill('kick-soft');
    assert.equal(r.broker.disconnect('kick-soft', { abrupt: false }), true);
    assert.equal(await soft.waitClosed(), true);
    assert.equal(r.broker.disconnect('kick-hard', { abrupt: true }), true);
    await until(() => wills.length === 1, 'the will');
    await sleep(50);
    assert.deepEqual(wills.map((w) => w.topic), ['will/kick-hard']);
    assert.equal(r.broker.disconnect('nobody', { abrupt: true }), false);
  });

  it('clamps the keepalive into keepaliveMin..keepaliveMax and says so in an event', async () => {
    const b = await startBroker({ limits: { keepaliveMax: 1 } });
    try {
      const c = await RawClient.connect(b.port, { clientId: 'lazy', keepalive: 600 });
      assert.equal(b.events[0].kind, 'limit_exceeded');
      assert.match(b.events[0].message, /keepalive 600 s .* enforces 1 s/);
      assert.equal(await c.waitClosed(4000), true);
    } finally { await b.broker.close(); }
  });
});
