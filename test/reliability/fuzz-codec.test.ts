// The firmware's streaming parser (minified dist/test/codec.js) under fuzz:
// mutated server packets (seeded) and arbitrary bytes in arbitrary chunks
// (fast-check). Never a throw, the same outcome however the stream is split,
// nothing after a fatal error, nothing refused is delivered, and whatever is
// delivered reads the same as mqtt-packet reads it.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { loadCodec } from '../firmware/helpers/bundles';
import { CODEC_MAX, codecCase } from './support/codec-fuzz';
import { frame } from './support/mutate';

const SEED = 0xc0dec;
const CASES = 20000;

describe('reliability: firmware parser under fuzz (minified codec)', () => {
  const codec = loadCodec();

  it(`${CASES} mutated server packets (seed ${SEED}): every property holds`, () => {
    const failures: string[] = [];
    for (let i = 0; i < CASES && failures.length < 5; i++) {
      const f = codecCase(codec, SEED, i);
      if (f) failures.push(`case ${i} (${f.mutation}, ${f.hex}): ${f.problem}`);
    }
    assert.deepEqual(failures, []);
  });

  it('arbitrary bytes in arbitrary chunks: no throw, bounded, nothing after a fatal error (fast-check)', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }), (parts) => {
      const ev: string[] = [];
      const push = codec.parser(CODEC_MAX, () => ev.push('p'), (_m: string, fatal: boolean) => ev.push(fatal ? 'F' : 'e'));
      for (const p of parts) push(Buffer.from(p).toString('latin1'));
      const f = ev.indexOf('F');
      return f < 0 || f === ev.length - 1;
    }), { seed: SEED, numRuns: 3000 });
  });

  it('a claimed 256 MB packet is skipped as it streams past, without buffering or delivering any of it', () => {
    const ev: any[] = [];
    const push = codec.parser(CODEC_MAX, (h: number) => ev.push(h), (m: string, fatal: boolean) => ev.push([m, fatal]));
    push('\x30\xff\xff\xff\x7f'); // PUBLISH, remaining length 268,435,455
    const chunk = 'x'.repeat(65536);
    for (let sent = 0; sent < 8 * 1024 * 1024; sent += chunk.length) push(chunk); // 8 MB of it
    assert.equal(ev.length, 1, JSON.stringify(ev));
    assert.equal(ev[0][1], false, 'not fatal: skipped');
    assert.match(ev[0][0], /268435460/);
    assert.match(ev[0][0], /4096/);
    push('\xd0\x00'); // PINGRESP right after the skipped bytes... which are still streaming: not delivered yet
    assert.equal(ev.length, 1);
  });

  // [MQTT-1.5.3-1] [MQTT-1.5.3-2]: a receiver of ill-formed UTF-8 or U+0000 in a
  // string MUST close the connection. The codec bundle is the unicode build's (full
  // check); the ESP builds' smaller check is tested on the client (test/firmware).
  it('[MQTT-1.5.3-1] [MQTT-1.5.3-2] a PUBLISH whose topic is ill-formed UTF-8 or contains U+0000 is refused (fatal), not delivered', () => {
    for (const topic of [[0x61, 0xff], [0x61, 0xc3, 0x28], [0xed, 0xa0, 0x80], [0x61, 0x00, 0x62]]) {
      const ev: any[] = [];
      const push = codec.parser(CODEC_MAX, (h: number, b: string, pl: string) => ev.push(['packet', codec.toPacket(h, b, pl)]), (m: string, fatal: boolean) => ev.push(['error', m, fatal]));
      push(frame(0x30, [0, topic.length, ...topic, 0x78]).toString('latin1'));
      assert.equal(ev.length, 1);
      assert.equal(ev[0][0], 'error', `refused: ${JSON.stringify(ev)}`);
      assert.equal(ev[0][2], true, 'fatal: the link must be closed');
    }
    for (let i = 0; i < CASES; i++) assert.equal(codecCase(codec, SEED, i, { strictUtf8: true }), null);
  });
});
