// The firmware codec, minified (dist/test/codec.js), checked byte for byte
// against mqtt-packet: encode for every packet the client sends, decode (through
// the streaming parser) for every packet it receives.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { loadCodec } from './helpers/bundles';
import { bin, binary, gen, id, mqttString, qos, topic } from './helpers/arbitraries';

const codec = loadCodec();
const RUNS = 300;


/** Feeds chunks to a fresh parser; returns the packets (as toPacket views) and errors. */
function parseAll(chunks: string[], max = 1 << 30) {
  const packets: any[] = [];
  const errors: [string, boolean][] = [];
  const push = codec.parser(max, (h: number, b: string, p: string) => packets.push(codec.toPacket(h, b, p)), (m: string, f: boolean) => errors.push([m, f]));
  for (const c of chunks) push(c);
  return { packets, errors };
}

/** mqtt-packet's object -> the fields toPacket() reports. */
function expected(p: any): any {
  const o: any = { cmd: p.cmd };
  if (p.cmd === 'connack') Object.assign(o, { sessionPresent: !!p.sessionPresent, returnCode: p.returnCode });
  else if (p.cmd === 'publish') {
    Object.assign(o, { topic: p.topic, qos: p.qos, dup: !!p.dup, retain: !!p.retain, payload: Buffer.from(p.payload).toString('latin1') });
    if (p.qos) o.messageId = p.messageId;
  } else if (p.messageId !== undefined) o.messageId = p.messageId;
  if (p.cmd === 'suback') o.granted = p.granted;
  return o;
}

// Packets a client receives, as mqtt-packet objects.
const received = fc.oneof(
  fc.record({ cmd: fc.constant('connack'), sessionPresent: fc.boolean(), returnCode: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ cmd: fc.constant('publish'), topic: topic(), payload: binary(), qos: fc.constant(0), dup: fc.constant(false), retain: fc.boolean() }),
  fc.record({ cmd: fc.constant('publish'), topic: topic(), payload: binary(), qos: fc.integer({ min: 1, max: 2 }), dup: fc.boolean(), retain: fc.boolean(), messageId: id }),
  fc.record({ cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback'), messageId: id }),
  fc.record({ cmd: fc.constant('suback'), messageId: id, granted: fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 8 }) }),
  fc.record({ cmd: fc.constant('pingresp') }),
);

describe('firmware codec (minified dist/test/codec.js) vs mqtt-packet', () => {
  describe('encode: every packet the client sends', () => {
    // CONNECT, PUBLISH (and its DUP resend) and the acks are written inside the client:
    // client.encode.test.ts checks them byte for byte through the minified client.
    it('packet(): remaining length in 1, 2, 3 and 4 bytes', () => {
      for (const n of [0, 127, 128, 16383, 16384, 2097151, 2097152]) {
        const p = 'x'.repeat(Math.max(0, n - 3));
        assert.equal(codec.packet(0x30, codec.str('t') + p), gen({ cmd: 'publish', topic: 't', payload: bin(p), qos: 0, retain: false, dup: false }), `length ${n}`);
      }
    });

    it('SUBSCRIBE with several filters and per-filter QoS [MQTT-3.8.1-1]', () => {
      fc.assert(fc.property(id, fc.array(fc.tuple(mqttString(1), qos), { minLength: 1, maxLength: 6 }), (i, subs) => {
        assert.equal(codec.subscribe(codec.SUBSCRIBE, i, subs),
          gen({ cmd: 'subscribe', messageId: i, subscriptions: subs.map(([t, q]) => ({ topic: t, qos: q })) }));
      }), { numRuns: RUNS });
    });

    it('UNSUBSCRIBE with several filters [MQTT-3.10.1-1]', () => {
      fc.assert(fc.property(id, fc.array(mqttString(1), { minLength: 1, maxLength: 6 }), (i, filters) => {
        assert.equal(codec.subscribe(codec.UNSUBSCRIBE, i, filters.map((f) => [f])), gen({ cmd: 'unsubscribe', messageId: i, unsubscriptions: filters }));
      }), { numRuns: RUNS });
    });

    it('PINGREQ and DISCONNECT', () => {
      assert.equal(codec.chr(codec.PINGREQ, 0), gen({ cmd: 'pingreq' }));
      assert.equal(codec.chr(codec.DISCONNECT, 0), gen({ cmd: 'disconnect' }));
    });
  });

  describe('decode: every packet the client receives, through the streaming parser', () => {
    it('each packet type decodes to the fields mqtt-packet encoded', () => {
      fc.assert(fc.property(received, (p) => {
        const r = parseAll([gen(p)]);
        assert.deepEqual(r.errors, []);
        assert.deepEqual(r.packets, [expected(p)]);
      }), { numRuns: RUNS * 2 });
    });

    it('a stream of several packets split at every offset (two chunks) gives the same packets', () => {
      fc.assert(fc.property(fc.array(received, { minLength: 2, maxLength: 5 }), (ps) => {
        const stream = ps.map(gen).join('');
        const want = ps.map(expected);
        for (let i = 0; i <= stream.length; i++) {
          const r = parseAll([stream.slice(0, i), stream.slice(i)]);
          assert.deepEqual(r.errors, []);
          assert.deepEqual(r.packets, want, `split at ${i}`);
        }
      }), { numRuns: 40 });
    });

    it('the same stream one byte at a time, and in random chunk sizes, several packets per chunk', () => {
      fc.assert(fc.property(fc.array(received, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1 }), (ps, sizes) => {
        const stream = ps.map(gen).join('');
        const want = ps.map(expected);
        assert.deepEqual(parseAll(stream.split('')).packets, want);
        const chunks: string[] = [];
        for (let i = 0, k = 0; i < stream.length; k++) {
          const n = sizes[k % sizes.length];
          chunks.push(stream.slice(i, i + n));
          i += n;
        }
        assert.deepEqual(parseAll(chunks).packets, want);
      }), { numRuns: 100 });
    });

    it('remaining length in 4 bytes (a 2 MB PUBLISH), split inside the length field', () => {
      const payload = 'p'.repeat(2097152);
      const s = gen({ cmd: 'publish', topic: 'big', payload: bin(payload), qos: 0, retain: false, dup: false });
      assert.equal(s.charCodeAt(4) & 128, 0);
      assert.equal(s.charCodeAt(3) & 128, 128); // four length bytes
      for (const cut of [1, 2, 3, 4, 5]) {
        const r = parseAll([s.slice(0, cut), s.slice(cut)]);
        assert.equal(r.packets.length, 1);
        assert.equal(r.packets[0].payload.length, payload.length);
      }
    });
  });

  describe('refused and malformed input', () => {
    const puback = (i: number) => gen({ cmd: 'puback', messageId: i });

    it('a packet over the maximum is skipped as it streams past, reported (not fatal), and the next packet still parses', () => {
      const big = gen({ cmd: 'publish', topic: 't', payload: bin('x'.repeat(1000)), qos: 1, messageId: 7, retain: false, dup: false });
      const stream = puback(1) + big + puback(2);
      for (let i = 0; i <= stream.length; i += 37) {
        const r = parseAll([stream.slice(0, i), stream.slice(i)], 512);
        assert.deepEqual(r.packets, [{ cmd: 'puback', messageId: 1 }, { cmd: 'puback', messageId: 2 }]);
        assert.deepEqual(r.errors, [[`packet over maxPacket 512: ${big.length} bytes`, false]]);
      }
      // Exactly at the maximum is fine.
      assert.equal(parseAll([big], big.length).packets.length, 1);
    });

    const fatal: [string, string][] = [
      ['a fifth remaining-length byte', '\x30\xff\xff\xff\xff\x01'],
      ['PUBLISH with QoS 3 [MQTT-3.3.1-4]', '\x36\x05\x00\x01t\x00\x01'],
      ['PUBLISH QoS 1 with packet id 0 [MQTT-2.3.1-1]', '\x32\x05\x00\x01t\x00\x00'],
      ['PUBLISH whose topic length runs past the packet', '\x30\x03\x00\x05t'],
      ['PUBLISH whose topic is ill-formed UTF-8 (a surrogate) [MQTT-1.5.3-1]', '\x30\x06\x00\x03\xed\xa0\x80x'],
      ['PUBLISH whose topic is ill-formed UTF-8 (overlong) [MQTT-1.5.3-1]', '\x30\x06\x00\x03\xe0\x80\xafx'],
      ['PUBLISH whose topic holds U+0000 [MQTT-1.5.3-2]', '\x30\x06\x00\x03a\x00bx'],
      ['PUBACK with packet id 0 [MQTT-2.3.1-1]', '\x40\x02\x00\x00'],
      ['PUBREL without its 0010 flags [MQTT-3.6.1-1]', '\x60\x02\x00\x01'],
      ['PUBACK with reserved flags set [MQTT-2.2.2-2]', '\x41\x02\x00\x01'],
      ['PUBACK of the wrong length', '\x40\x03\x00\x01\x00'],
      ['CONNACK with reserved bits in byte 1 [MQTT-3.2.2-1]', '\x20\x02\x02\x00'],
      ['SUBACK with return code 3 [MQTT-3.9.3-2]', '\x90\x03\x00\x01\x03'],
      ['SUBACK without return codes', '\x90\x02\x00\x01'],
      ['PINGRESP with a body', '\xd0\x01\x00'],
      ['CONNECT (a server-only packet)', gen({ cmd: 'connect', clientId: 'x', protocolId: 'MQTT', protocolVersion: 4 })],
      ['SUBSCRIBE (a server-only packet)', gen({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] })],
      ['PINGREQ (a server-only packet)', gen({ cmd: 'pingreq' })],
      ['DISCONNECT (a server-only packet)', gen({ cmd: 'disconnect' })],
      ['reserved type 0', '\x00\x00'],
      ['reserved type 15', '\xf0\x00'],
    ];
    for (const [name, bytes] of fatal) {
      it(`malformed: ${name} -> fatal error, nothing delivered, later input ignored`, () => {
        const r = parseAll([puback(1) + bytes, puback(2)]);
        assert.deepEqual(r.packets, [{ cmd: 'puback', messageId: 1 }]);
        assert.equal(r.errors.length, 1);
        assert.equal(r.errors[0][1], true);
        assert.match(r.errors[0][0], /^malformed /);
      });
    }
  });

  describe('UTF-8', () => {
    // The unicode builds' check of received topics (ESP builds run a smaller one, tested on the client).
    const strict = new TextDecoder('utf-8', { fatal: true });
    const refusedByDecoder = (s: string) => {
      if (s.includes('\u0000')) return true;
      try {
        strict.decode(bin(s));
        return false;
      } catch {
        return true;
      }
    };

    it('[MQTT-1.5.3-1] [MQTT-1.5.3-2] badUtf8 refuses exactly what a strict decoder refuses, plus U+0000: every 1- and 2-byte string, 3- and 4-byte strings around every boundary', () => {
      const edges = [0x00, 0x01, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xff];
      const wrong: string[] = [];
      const check = (s: string) => {
        if (!!codec.badUtf8(s) !== refusedByDecoder(s) && wrong.length < 5) wrong.push(bin(s).toString('hex'));
      };
      for (let a = 0; a < 256; a++) {
        check(String.fromCharCode(a));
        for (let b = 0; b < 256; b++) check(String.fromCharCode(a, b));
      }
      for (const a of edges) for (const b of edges) for (const c of edges) {
        check(String.fromCharCode(a, b, c));
        // A fourth byte matters after a 3- or 4-byte lead.
        if (a >= 0xe0) for (const d of edges) check(String.fromCharCode(a, b, c, d));
      }
      assert.deepEqual(wrong, []);
    });

    it('[MQTT-1.5.3-1] badUtf8 accepts any UTF-8 text without U+0000 and agrees with a strict decoder on arbitrary bytes (fast-check)', () => {
      fc.assert(fc.property(mqttString(0, 60), (s) => !codec.badUtf8(codec.toUtf8(s))), { numRuns: RUNS });
      fc.assert(fc.property(binary(40), (s) => !!codec.badUtf8(s) === refusedByDecoder(s)), { numRuns: 3000 });
    });

    it('toUtf8 matches Buffer for any string without lone surrogates; fromUtf8 inverts it', () => {
      fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 50 }), (s) => {
        const u = codec.toUtf8(s);
        assert.equal(u, Buffer.from(s, 'utf8').toString('latin1'));
        assert.equal(codec.fromUtf8(u), s);
      }), { numRuns: RUNS });
    });
  });
});
