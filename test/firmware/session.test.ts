// Session helpers (TS sources; the client tests run them minified): packet ids,
// ack matching, outbox bounds. Inbound QoS 2 ids are covered by the client tests.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { ackType, nextId } from '../../firmware/session/inflight';
import { full } from '../../firmware/session/outbox';

describe('firmware session helpers', () => {
  it('[MQTT-2.3.1-1] packet ids run 1..65535 and wrap to 1, never 0', () => {
    assert.equal(nextId([], 0), 1);
    assert.equal(nextId([], 1), 2);
    assert.equal(nextId([], 65534), 65535);
    assert.equal(nextId([], 65535), 1);
  });

  it('[MQTT-2.3.1-2] a packet id still queued is skipped, across the wrap too', () => {
    const q = [[65535, 'x'], [1, 'x'], [2, 'x'], [0, 'qos0']];
    assert.equal(nextId(q, 65534), 3);
    assert.equal(nextId(q, 0), 3);
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { maxLength: 40 }), fc.integer({ min: 0, max: 65535 }), (ids, last) => {
      const id = nextId(ids.map((i) => [i, 'p']), last);
      assert.ok(id >= 1 && id <= 65535);
      assert.ok(!ids.includes(id));
    }));
  });

  it('acks match their packets: PUBLISH QoS 1 -> PUBACK, QoS 2 (DUP or not) -> PUBREC, PUBREL -> PUBCOMP, SUBSCRIBE -> SUBACK, UNSUBSCRIBE -> UNSUBACK', () => {
    assert.equal(ackType('\x32'), 4);
    assert.equal(ackType('\x3b'), 4); // DUP + retain
    assert.equal(ackType('\x34'), 5);
    assert.equal(ackType('\x3c'), 5);
    assert.equal(ackType('\x62'), 7);
    assert.equal(ackType('\x82'), 9);
    assert.equal(ackType('\xa2'), 11);
  });

  it('the outbox counts only unwritten entries, by count and by bytes', () => {
    const q = [[1, 'aaaa'], [2, 'bb'], [3, 'cc']];
    assert.equal(full(q, 1, 4, 3, 100), '');
    assert.equal(full(q, 1, 4, 2, 100), 'outbox full (2 messages, 100 bytes)');
    assert.equal(full(q, 1, 4, 3, 8), '');
    assert.equal(full(q, 1, 5, 3, 8), 'outbox full (3 messages, 8 bytes)');
    assert.equal(full(q, 3, 8, 1, 8), '');
  });
});
