// Persistent sessions: queued messages for offline clients, redelivery with DUP
// on reconnect, the bounded offline queue.
import { strict as assert } from 'assert';
import type { Packet } from 'mqtt-packet';
import mqtt from 'mqtt';
import { RawClient, startBroker, mqttClient, sleep, until, type Running } from './support';

describe('broker persistent sessions', () => {
  let r: Running;
  beforeEach(async () => { r = await startBroker({ limits: { maxQueuedPerClient: 10, maxInflightPerClient: 5 } }); });
  afterEach(async () => { await r.broker.close(); });

  async function persistentSubscriber(clientId: string, filter: string, qos: 1 | 2) {
    const c = await RawClient.connect(r.port, { clientId, clean: false });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] } as Packet);
    await c.next('suback');
    return c;
  }

  it('[MQTT-3.1.2-5] queues QoS 1/2 messages for an offline persistent session, not QoS 0', async () => {
    const c = await persistentSubscriber('offline', 'q/#', 2);
    c.destroy();
    await until(() => r.broker.clients().length === 0, 'the disconnect');
    await r.broker.publish({ topic: 'q/0', payload: Buffer.from('zero'), qos: 0 });
    await r.broker.publish({ topic: 'q/1', payload: Buffer.from('one'), qos: 1 });
    await r.broker.publish({ topic: 'q/2', payload: Buffer.from('two'), qos: 2 });
    assert.equal(r.broker.sessions()[0].queued, 2);
    const back = await RawClient.connect(r.port, { clientId: 'offline', clean: false });
    const a: any = await back.next('publish');
    const b: any = await back.next('publish');
    assert.deepEqual([a.topic, a.qos, b.topic, b.qos], ['q/1', 1, 'q/2', 2]);
    assert.equal(a.dup, false);
  });

  it('[MQTT-4.4.0-1] re-sends unacknowledged PUBLISH (DUP, same id) and PUBREL on reconnect, in order', async () => {
    const c = await persistentSubscriber('flaky', 'f', 2);
    await r.broker.publish({ topic: 'f', payload: Buffer.from('a'), qos: 2 });
    await r.broker.publish({ topic: 'f', payload: Buffer.from('b'), qos: 2 });
    const pa: any = await c.next('publish');
    const pb: any = await c.next('publish');
    c.send({ cmd: 'pubrec', messageId: pa.messageId } as Packet); // a: released; b: unacknowledged
    await c.next('pubrel');
    c.destroy();
    await until(() => r.broker.clients().length === 0, 'the disconnect');
    const back = await RawClient.connect(r.port, { clientId: 'flaky', clean: false });
    const rel: any = await back.next('pubrel');
    assert.equal(rel.messageId, pa.messageId);
    const again: any = await back.next('publish');
    assert.equal(again.messageId, pb.messageId);
    assert.equal(again.dup, true);
    assert.equal(again.payload.toString(), 'b');
    const order = back.packets.length;
    assert.equal(order, 0);
    back.send({ cmd: 'pubcomp', messageId: pa.messageId } as Packet);
    back.send({ cmd: 'pubrec', messageId: pb.messageId } as Packet);
    await back.next('pubrel');
    back.send({ cmd: 'pubcomp', messageId: pb.messageId } as Packet);
    await until(() => r.broker.sessions()[0].inflight === 0, 'all flows done');
  });

  it('bounds the offline queue and raises offline_queue_overflow once', async () => {
    const c = await persistentSubscriber('slow', 's', 1);
    c.destroy();
    await until(() => r.broker.clients().length === 0, 'the disconnect');
    for (let i = 0; i < 25; i++) await r.broker.publish({ topic: 's', payload: Buffer.from(String(i)), qos: 1 });
    assert.equal(r.broker.sessions()[0].queued, 10);
    const ov = r.events.filter((e) => e.kind === 'offline_queue_overflow');
    assert.equal(ov.length, 1);
    assert.equal(ov[0].objectId, 'slow');
    const back = await RawClient.connect(r.port, { clientId: 'slow', clean: false });
    const got: string[] = [];
    for (let i = 0; i < 10; i++) {
      const p: any = await back.next('publish');
      got.push(p.payload.toString());
      back.send({ cmd: 'puback', messageId: p.messageId } as Packet);
    }
    assert.deepEqual(got, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 'the oldest kept, the newest dropped');
  });

  it('MQTT.js persistent client gets what was published while it was away', async () => {
    const a = await mqttClient(r.url, { clientId: 'js', clean: false });
    await a.subscribeAsync('js/#', { qos: 1 });
    await a.endAsync();
    const pub = await mqttClient(r.url, { clientId: 'pub' });
    for (let i = 0; i < 5; i++) await pub.publishAsync('js/x', String(i), { qos: 1 });
    const seen: string[] = [];
    // Listen before the connection opens: the queue arrives right after CONNACK.
    const b = mqtt.connect(r.url, { clientId: 'js', clean: false, reconnectPeriod: 0 });
    b.on('message', (_t, p) => seen.push(p.toString()));
    await until(() => seen.length === 5, 'five messages');
    assert.deepEqual(seen, ['0', '1', '2', '3', '4']);
    await b.endAsync(); await pub.endAsync();
  });

  it('sessions() reports subscriptions, in-flight and queued counts', async () => {
    const c = await persistentSubscriber('report', 'r', 1);
    for (let i = 0; i < 7; i++) await r.broker.publish({ topic: 'r', payload: Buffer.from('x'), qos: 1 });
    await sleep(50);
    // Each queued message costs topic 1 + payload 1 + 64 + 2 x 'report' 6 = 78 bytes.
    assert.deepEqual(r.broker.sessions(), [{ clientId: 'report', connected: true, persistent: true, subscriptions: [{ filter: 'r', qos: 1 }], inflight: 5, queued: 2, queuedBytes: 156 }]);
    c.destroy();
  });
});
