// The routing tree against the plain matcher (firmware/topic.ts), example- and property-based.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { SubscriptionTree } from '../../host-broker/topics';
import { topicMatches } from '../../firmware/topic';
import { FrameReader } from '../../host-broker/frame-reader';

describe('SubscriptionTree', () => {
  it('matches +, # (also the parent level) and exact filters', () => {
    const t = new SubscriptionTree();
    t.add('a/+/c', 'x', 1);
    t.add('a/#', 'y', 0);
    t.add('a/b/c', 'z', 2);
    assert.deepEqual([...t.match('a/b/c')].sort(), [['x', 1], ['y', 0], ['z', 2]]);
    assert.deepEqual([...t.match('a')], [['y', 0]]);
    assert.deepEqual([...t.match('b')], []);
  });

  it('[MQTT-4.7.2-1] does not match $-topics with a leading wildcard', () => {
    const t = new SubscriptionTree();
    t.add('#', 'all', 0);
    t.add('+/x', 'plus', 0);
    t.add('$SYS/#', 'sys', 0);
    assert.deepEqual([...t.match('$SYS/x')], [['sys', 0]]);
  });

  it('[MQTT-3.3.5-1] gives one entry per client with the highest QoS of its matching filters', () => {
    const t = new SubscriptionTree();
    t.add('a/#', 'c', 0);
    t.add('a/+', 'c', 2);
    t.add('a/b', 'c', 1);
    assert.deepEqual([...t.match('a/b')], [['c', 2]]);
  });

  it('match() results it remembers change with every add() and remove()', () => {
    const t = new SubscriptionTree();
    t.add('a/+', 'x', 0);
    assert.deepEqual([...t.match('a/b')], [['x', 0]]);
    t.add('a/b', 'y', 1);
    assert.deepEqual([...t.match('a/b')].sort(), [['x', 0], ['y', 1]]);
    t.add('a/#', 'x', 2); // a higher QoS for a client already there
    assert.deepEqual([...t.match('a/b')].sort(), [['x', 2], ['y', 1]]);
    t.remove('a/b', 'y');
    t.remove('a/#', 'x');
    assert.deepEqual([...t.match('a/b')], [['x', 0]]);
    t.remove('a/+', 'x');
    assert.deepEqual([...t.match('a/b')], []);
  });

  it('remove() forgets a subscription and prunes empty branches', () => {
    const t = new SubscriptionTree();
    t.add('a/b/c', 'x', 1);
    t.add('a/b', 'y', 1);
    assert.equal(t.remove('a/b/c', 'x'), true);
    assert.equal(t.remove('a/b/c', 'x'), false);
    assert.deepEqual([...t.match('a/b/c')], []);
    assert.deepEqual([...t.match('a/b')], [['y', 1]]);
    assert.equal(t.size, 1);
    t.remove('a/b', 'y');
    assert.equal((t as any).root.children.size, 0);
  });

  it('agrees with topicMatches() on random filters and topics', () => {
    const level = fc.constantFrom('a', 'b', '', '$x', 'c');
    const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
    const filterLevel = fc.constantFrom('a', 'b', '', '+', '$x');
    const filter = fc.tuple(fc.array(filterLevel, { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([l, hash]) => (hash ? [...l, '#'] : l).join('/'));
    fc.assert(fc.property(fc.uniqueArray(filter, { maxLength: 6 }), topic, (filters, t) => {
      const tree = new SubscriptionTree();
      filters.forEach((f, i) => tree.add(f, `c${i}`, 0));
      const got = [...tree.match(t).keys()].sort();
      const want = filters.map((f, i) => (topicMatches(f, t) ? `c${i}` : null)).filter((x): x is string => !!x).sort();
      assert.deepEqual(got, want, `topic ${JSON.stringify(t)} filters ${JSON.stringify(filters)}`);
    }), { numRuns: 2000 });
  });
});

describe('FrameReader', () => {
  it('splits frames across and within chunks', () => {
    const r = new FrameReader(1000);
    const a = r.push(Buffer.from([0xc0]));
    assert.equal(a.frames.length, 0);
    const b = r.push(Buffer.from([0x00, 0x30, 0x03, 0x00, 0x01]));
    assert.equal(b.frames.length, 1);
    assert.equal(b.frames[0].header, 0xc0);
    const c = r.push(Buffer.from([0x61, 0xd0, 0x00]));
    assert.deepEqual(c.frames.map((f) => [...f.bytes]), [[0x30, 0x03, 0x00, 0x01, 0x61], [0xd0, 0x00]]);
    assert.equal(c.frames[0].bodyStart, 2);
    assert.equal(r.pendingBytes, 0);
  });

  it('refuses a claimed length over the limit as soon as the length bytes are in', () => {
    const r = new FrameReader(128);
    const res = r.push(Buffer.from([0x30, 0x80, 0x01])); // 128 + 3 > 128
    assert.equal(res.error?.kind, 'payload_too_large');
    assert.match(res.error!.message, /131 bytes/);
  });

  it('accepts exactly the limit', () => {
    const r = new FrameReader(5);
    assert.equal(r.push(Buffer.from([0x30, 0x03, 0, 1, 0x61])).frames.length, 1);
  });

  it('[MQTT-2.2.3] refuses a remaining length longer than 4 bytes', () => {
    const r = new FrameReader(1 << 30);
    assert.equal(r.push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])).error?.kind, 'malformed_packet');
  });
});
