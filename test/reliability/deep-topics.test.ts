// Topics and filters with tens of thousands of levels (legal: up to 65535
// bytes) must not exhaust the broker's stack: routing one used to recurse once
// per level, and a Will on such a topic threw from the socket's close handler,
// which took the whole broker process down.
import { strict as assert } from 'assert';
import type { Packet } from 'mqtt-packet';
import { RawClient, startBroker, until, type Running } from '../broker/support';

const LEVELS = 30000;
const deepFilter = Array(LEVELS).fill('+').join('/');
const deepTopic = Array(LEVELS).fill('a').join('/');

describe('reliability: topics with 30,000 levels', function () {
  this.timeout(20000);
  let r: Running;
  beforeEach(async () => { r = await startBroker(); });
  afterEach(async () => { await r.broker.close(); });

  async function deepSubscriber(): Promise<RawClient> {
    const s = await RawClient.connect(r.port, { clientId: 'deep-sub' });
    s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: deepFilter, qos: 1 }, { topic: '#', qos: 0 }] } as Packet);
    assert.deepEqual((await s.next('suback') as any).granted, [1, 0]);
    return s;
  }

  it('a PUBLISH to a 30,000-level topic is routed to a 30,000-level filter', async () => {
    const s = await deepSubscriber();
    const p = await RawClient.connect(r.port, { clientId: 'deep-pub' });
    p.send({ cmd: 'publish', topic: deepTopic, payload: Buffer.from('deep'), qos: 1, messageId: 7, retain: false, dup: false } as Packet);
    assert.equal(((await p.next('puback')) as any).messageId, 7);
    const got = (await s.next('publish')) as any;
    assert.equal(got.topic.length, deepTopic.length);
    assert.equal(got.qos, 1, 'matched by the deep QoS 1 filter, not only by #');
    assert.equal(p.closed, false);
  });

  it('a Will on a 30,000-level topic fires without taking the broker down; others are still served', async () => {
    const s = await deepSubscriber();
    const a = await RawClient.connect(r.port, { clientId: 'attacker', will: { topic: deepTopic, payload: Buffer.from('boom'), qos: 1, retain: false } } as any);
    a.destroy(); // a lost link: the Will is published from the socket's close handler
    const will = (await s.next('publish', 5000)) as any;
    assert.equal(will.payload.toString(), 'boom');
    const other = await RawClient.connect(r.port, { clientId: 'bystander' });
    other.send({ cmd: 'pingreq' } as Packet);
    await other.next('pingresp');
    await until(() => r.broker.clients().length === 2, 'two clients left');
  });
});
