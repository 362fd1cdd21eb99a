// Session helpers (TS sources; the client tests run them minified): packet ids.
// Ack matching, outbox bounds and inbound QoS 2 ids are written inside the client
// (a function costs RAM on the board) and covered by the client tests.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { Entry, nextId } from '../../firmware/session/queue';

const entry = (id: number): Entry => [id, 'p', 0];

describe('firmware session helpers', () => {
  it('[MQTT-2.3.1-1] packet ids run 1..65535 and wrap to 1, never 0', () => {
    assert.equal(nextId([], 0), 1);
    assert.equal(nextId([], 1), 2);
    assert.equal(nextId([], 65534), 65535);
    assert.equal(nextId([], 65535), 1);
  });

  it('[MQTT-2.3.1-2] a packet id still queued is skipped, across the wrap too', () => {
    const q = [65535, 1, 2, 0].map(entry);
    assert.equal(nextId(q, 65534), 3);
    assert.equal(nextId(q, 0), 3);
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { maxLength: 40 }), fc.integer({ min: 0, max: 65535 }), (ids, last) => {
      const id = nextId(ids.map(entry), last);
      assert.ok(id >= 1 && id <= 65535);
      assert.ok(!ids.includes(id));
    }));
  });
});
