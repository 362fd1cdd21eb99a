// The session's in-flight table: packet ids are reused once acknowledged
// [MQTT-2.3.1-3], so ids stay within the window, while the order messages are
// redelivered in is still their seq order. (The table is an array, not a Map: a
// churning Map made V8 promote every rehashed table; see session.ts.)
import { strict as assert } from 'assert';
import { Session } from '../../host-broker/session';
import { MemoryStore } from '../../host-broker/store/memory';

const msg = (n: number) => ({ topic: `t/${n}`, payload: Buffer.from(String(n)), qos: 1 as const });
const bounds = { messages: 100, bytes: 1 << 20 };

describe('session in-flight table', () => {
  it('[MQTT-2.3.1-3] reuses an acknowledged packet id, keeping ids within the window', () => {
    const s = new Session('c1', false, new MemoryStore());
    for (let i = 0; i < 3; i++) s.enqueue(msg(i), bounds);
    assert.deepEqual(s.takeForSending(3).map((m) => m.packetId), [1, 2, 3]);
    assert.equal(s.acknowledge(2), true);
    assert.equal(s.acknowledge(2), false, 'a second PUBACK for the same id matches nothing');
    s.enqueue(msg(3), bounds);
    assert.deepEqual(s.takeForSending(3).map((m) => m.packetId), [2]);
    assert.equal(s.inflightCount, 3);
    for (let round = 0; round < 1000; round++) {
      for (const id of [1, 2, 3]) assert.equal(s.acknowledge(id), true);
      for (let i = 0; i < 3; i++) s.enqueue(msg(i), bounds);
      assert.deepEqual(s.takeForSending(3).map((m) => m.packetId).sort(), [1, 2, 3]);
    }
  });

  it('lists in-flight messages in seq order even when their ids were reused out of order', () => {
    const s = new Session('c1', false, new MemoryStore());
    for (let i = 0; i < 3; i++) s.enqueue(msg(i), bounds);
    s.takeForSending(3);
    s.acknowledge(1);
    for (let i = 3; i < 6; i++) s.enqueue(msg(i), bounds);
    s.takeForSending(3); // one slot free: id 1 again, for t/3
    assert.deepEqual(s.outbound.map((m) => [m.topic, m.packetId, m.state]),
      [['t/1', 2, 'sent'], ['t/2', 3, 'sent'], ['t/3', 1, 'sent'], ['t/4', undefined, 'queued'], ['t/5', undefined, 'queued']]);
  });

  it('restores stored in-flight messages at their ids and allocates around them', () => {
    const store = new MemoryStore();
    store.createSession('c1');
    const s = new Session('c1', true, store);
    s.restore({ subscriptions: [], inboundQos2: [], queued: { count: 1, bytes: 70, payloadBytes: 1, maxSeq: 3 }, outbound: [
      { seq: 1, topic: 'a', payload: Buffer.from('a'), qos: 1, retain: false, state: 'sent', packetId: 7 },
      { seq: 2, topic: 'b', payload: Buffer.from('b'), qos: 2, retain: false, state: 'released', packetId: 3 },
      { seq: 3, topic: 'c', payload: Buffer.from('c'), qos: 1, retain: false, state: 'queued', packetId: undefined },
    ] });
    assert.equal(s.inflightCount, 2);
    assert.equal(s.completed(3), true);
    const sent = s.takeForSending(10);
    assert.equal(sent.length, 1);
    assert.ok(sent[0].packetId !== 7 && sent[0].packetId! >= 1 && sent[0].packetId! <= 65535, `id ${sent[0].packetId} must not clash with 7`);
    assert.equal(s.acknowledge(7), true);
    assert.equal(s.acknowledge(70000), false);
    assert.equal(s.acknowledge(0), false);
  });
});
