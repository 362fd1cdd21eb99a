// The broker's own encoder (packet-writer.ts), hot-path decoder
// (packet-reader.ts) and decoder for checked frames (packet-decoder.ts) against
// mqtt-packet: the same bytes out, the same packets in, and every frame the
// strict checks refuse left to the full route.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import * as mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { OutBuffer } from '../../host-broker/packet-writer';
import { decodeHot } from '../../host-broker/packet-reader';
import { decodeChecked } from '../../host-broker/packet-decoder';
import { checkFrame } from '../../host-broker/packet-checks';
import { FrameReader } from '../../host-broker/frame-reader';

function parseAll(bytes: Buffer): Packet[] {
  const out: Packet[] = [];
  const p = mqtt.parser({ protocolVersion: 4 });
  p.on('packet', (x: Packet) => out.push(x));
  p.on('error', (e: Error) => { throw e; });
  p.parse(bytes);
  return out;
}

function frameOf(bytes: Buffer) {
  const r = new FrameReader(1 << 20);
  const { frames, error } = r.push(bytes);
  assert.equal(error, undefined);
  assert.equal(frames.length, 1);
  return frames[0];
}

const topicArb = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });
const publishArb = fc.record({
  topic: topicArb,
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
  dup: fc.boolean(),
  retain: fc.boolean(),
  messageId: fc.integer({ min: 1, max: 65535 }),
}).map((r) => ({ cmd: 'publish' as const, ...r, dup: r.qos > 0 && r.dup, messageId: r.qos > 0 ? r.messageId : undefined }));
const ackArb = fc.record({
  cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp'),
  messageId: fc.integer({ min: 1, max: 65535 }),
});

describe('broker packet encoder (OutBuffer)', () => {
  it('writes PUBLISH, the four acknowledgements and PINGRESP byte for byte as mqtt-packet does', () => {
    fc.assert(fc.property(fc.array(fc.oneof(publishArb, ackArb as fc.Arbitrary<any>, fc.constant({ cmd: 'pingresp' })), { minLength: 1, maxLength: 40 }), (packets) => {
      const out = new OutBuffer();
      for (const p of packets) out.add(p as Packet);
      const expected = Buffer.concat(packets.map((p) => mqtt.generate(p as Packet)));
      assert.deepEqual(out.take(), expected);
      assert.equal(out.length, 0);
    }));
  });

  it('writes CONNACK, SUBACK and UNSUBACK byte for byte as mqtt-packet does', () => {
    const connack = fc.record({ cmd: fc.constant('connack'), returnCode: fc.integer({ min: 0, max: 5 }), sessionPresent: fc.boolean() });
    const suback = fc.record({ cmd: fc.constant('suback'), messageId: fc.integer({ min: 1, max: 65535 }),
      granted: fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 200 }) });
    const unsuback = fc.record({ cmd: fc.constant('unsuback'), messageId: fc.integer({ min: 1, max: 65535 }) });
    fc.assert(fc.property(fc.array(fc.oneof(connack, suback, unsuback) as fc.Arbitrary<any>, { minLength: 1, maxLength: 20 }), (packets) => {
      const out = new OutBuffer();
      for (const p of packets) out.add(p as Packet);
      assert.deepEqual(out.take(), Buffer.concat(packets.map((p) => mqtt.generate(p as Packet))));
    }));
  });

  it('writes every packet type in order with the others, and grows past its first buffer', () => {
    const out = new OutBuffer();
    const big = Buffer.alloc(70000, 7); // a 3-byte remaining length
    const packets: Packet[] = [
      { cmd: 'connack', returnCode: 0, sessionPresent: true },
      { cmd: 'publish', topic: 'a/b', payload: big, qos: 1, messageId: 9, dup: false, retain: true },
      { cmd: 'suback', messageId: 3, granted: [0, 1, 0x80] },
      { cmd: 'puback', messageId: 65535 },
      { cmd: 'unsuback', messageId: 4 } as Packet,
    ];
    for (const p of packets) out.add(p);
    assert.deepEqual(out.take(), Buffer.concat(packets.map((p) => mqtt.generate(p))));
  });

  it('a taken buffer is not written again', () => {
    const out = new OutBuffer();
    out.add({ cmd: 'puback', messageId: 1 });
    const first = out.take();
    out.add({ cmd: 'puback', messageId: 2 });
    assert.deepEqual([...first], [0x40, 2, 0, 1]);
  });
});

describe('broker hot-path decoder (decodeHot)', () => {
  it('decodes PUBLISH with ASCII topics and the acknowledgements as mqtt-packet does', () => {
    const asciiTopic = fc.string({ minLength: 1, maxLength: 40 }).filter((t) => [...t].every((ch) => ch.charCodeAt(0) > 0 && ch.charCodeAt(0) < 0x80 && ch !== '+' && ch !== '#'));
    const arb = fc.oneof(
      publishArb.chain((p) => asciiTopic.map((topic) => ({ ...p, topic }))),
      ackArb as fc.Arbitrary<any>,
      fc.constant({ cmd: 'pingreq' }),
    );
    fc.assert(fc.property(arb, (p) => {
      const bytes = mqtt.generate(p as Packet);
      const got = decodeHot(frameOf(bytes));
      const [want] = parseAll(bytes);
      assert.ok(got, `${p.cmd} should take the hot path`);
      const norm = (x: any) => ({ ...x, payload: x.payload == null ? x.payload : Buffer.from(x.payload) });
      assert.deepEqual(norm(got), norm(want));
      assert.equal(checkFrame(frameOf(bytes)), null);
    }));
  });

  it('leaves every frame the strict checks refuse to the full route', () => {
    // Random mutations of valid frames: whatever decodeHot accepts, checkFrame accepts too.
    fc.assert(fc.property(fc.oneof(publishArb, ackArb as fc.Arbitrary<any>), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), (p, flips) => {
      const bytes = Buffer.from(mqtt.generate(p as Packet));
      const r = new FrameReader(1 << 20);
      for (const [i, v] of flips) {
        const at = 2 + (i % Math.max(1, bytes.length - 2)); // keep the length bytes: the frame stays one frame
        if (at < bytes.length) bytes[at] = v;
      }
      if (flips.length && flips[0][0] % 5 === 0) bytes[0] = (bytes[0] & 0xf0) | (flips[0][1] & 0x0f); // flags too
      const { frames } = r.push(bytes);
      if (frames.length !== 1) return;
      if (decodeHot(frames[0])) assert.equal(checkFrame(frames[0]), null, `decodeHot accepted ${bytes.toString('hex')}`);
    }), { numRuns: 3000 });
  });

  it('sends wildcards, U+0000, non-ASCII topics, packet id 0 and reserved flags to the full checks', () => {
    const cases: number[][] = [
      [0x30, 0x03, 0x00, 0x01, 0x2b], // topic '+'
      [0x30, 0x03, 0x00, 0x01, 0x23], // topic '#'
      [0x30, 0x03, 0x00, 0x01, 0x00], // U+0000
      [0x30, 0x04, 0x00, 0x02, 0xc3, 0xa9], // 'é'
      [0x30, 0x02, 0x00, 0x00], // empty topic
      [0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00], // QoS 1, packet id 0
      [0x38, 0x03, 0x00, 0x01, 0x61], // QoS 0 with DUP
      [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], // QoS 3
      [0x40, 0x02, 0x00, 0x00], // PUBACK id 0
      [0x60, 0x02, 0x00, 0x01], // PUBREL with flags 0
      [0x41, 0x02, 0x00, 0x01], // PUBACK with flags 1
      [0x40, 0x03, 0x00, 0x01, 0x00], // PUBACK too long
      [0xc1, 0x00], // PINGREQ with flags
    ];
    for (const c of cases) {
      const f = frameOf(Buffer.from(c));
      assert.equal(decodeHot(f), null, Buffer.from(c).toString('hex'));
    }
  });
});

describe('broker decoder for checked frames (decodeChecked)', () => {
  const str = fc.string({ maxLength: 30, unit: 'grapheme' }).filter((t) => !t.includes('\u0000'));
  const topic = str.filter((t) => t.length > 0 && !t.includes('+') && !t.includes('#'));
  const filter = fc.constantFrom('a/#', '+/b', '#', 'x/+/y', 'plain', 'é/ü/#');
  const connect = fc.record({
    clientId: str, clean: fc.boolean(), keepalive: fc.integer({ min: 0, max: 65535 }),
    will: fc.option(fc.record({ topic, payload: fc.uint8Array({ maxLength: 50 }).map((a) => Buffer.from(a)), qos: fc.constantFrom(0, 1, 2), retain: fc.boolean() }), { nil: undefined }),
    username: fc.option(str, { nil: undefined }),
    password: fc.option(fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)), { nil: undefined }),
  }).map((c) => ({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, ...c,
    clean: c.clientId === '' || c.clean, // mqtt-packet will not write an empty client id with clean session 0
    password: c.username === undefined ? undefined : c.password }));
  const subscribe = fc.record({ cmd: fc.constant('subscribe'), messageId: fc.integer({ min: 1, max: 65535 }),
    subscriptions: fc.array(fc.record({ topic: filter, qos: fc.constantFrom(0, 1, 2) }), { minLength: 1, maxLength: 5 }) });
  const unsubscribe = fc.record({ cmd: fc.constant('unsubscribe'), messageId: fc.integer({ min: 1, max: 65535 }), unsubscriptions: fc.array(filter, { minLength: 1, maxLength: 5 }) });
  const anyPublish = publishArb.chain((p) => topic.map((t) => ({ ...p, topic: t })));
  const norm = (x: any) => JSON.parse(JSON.stringify(x));

  it('decodes CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBLISH (any topic), the acknowledgements, PINGREQ and DISCONNECT as mqtt-packet does', () => {
    const arb = fc.oneof(connect, subscribe, unsubscribe, anyPublish, ackArb, fc.constant({ cmd: 'pingreq' }), fc.constant({ cmd: 'disconnect' })) as fc.Arbitrary<any>;
    fc.assert(fc.property(arb, (p) => {
      const bytes = mqtt.generate(p as Packet);
      const f = frameOf(bytes);
      assert.equal(checkFrame(f), null, `${p.cmd} ${bytes.toString('hex')} passes the checks`);
      const [want] = parseAll(bytes);
      assert.deepEqual(norm(decodeChecked(f)), norm(want));
    }), { numRuns: 2000 });
  });

  it('decodes whatever frame the checks pass, mutated ones too, as mqtt-packet does', () => {
    const arb = fc.oneof(connect, subscribe, unsubscribe, anyPublish) as fc.Arbitrary<any>;
    let passed = 0;
    fc.assert(fc.property(arb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), (p, flips) => {
      const bytes = Buffer.from(mqtt.generate(p as Packet));
      for (const [i, v] of flips) {
        const at = 2 + (i % Math.max(1, bytes.length - 2));
        if (at < bytes.length) bytes[at] = v;
      }
      const { frames } = new FrameReader(1 << 20).push(bytes);
      if (frames.length !== 1 || checkFrame(frames[0]) !== null) return;
      passed++;
      const [want] = parseAll(bytes);
      assert.deepEqual(norm(decodeChecked(frames[0])), norm(want), bytes.toString('hex'));
    }), { numRuns: 5000 });
    assert.ok(passed > 100, `only ${passed} mutated frames passed the checks`);
  });
});
