// The hub is strict on purpose (it is there to catch firmware bugs): strings
// holding the code points [MQTT-1.5.3] lets a receiver refuse, and an
// acknowledgement of the wrong type, close the connection with a hub event that
// names the rule. What is refused is never half-processed, and a message whose
// acknowledgement was wrong is not lost.
import { strict as assert } from 'assert';
import type { Packet } from 'mqtt-packet';
import { refusedCodePoint } from '../../host-broker/packet-checks';
import { RawClient, startBroker, until, type Running } from './support';

const frame = (header: number, body: number[]): number[] => {
  const len: number[] = [];
  let n = body.length;
  do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 0x80; len.push(b); } while (n > 0);
  return [header, ...len, ...body];
};
const str = (s: string): number[] => { const b = [...Buffer.from(s, 'utf8')]; return [b.length >> 8, b.length & 0xff, ...b]; };
/** CONNECT 3.1.1, clean session, keepalive 60, with the given client id and optional user name / Will topic. */
const connect = (clientId: string, o: { username?: string; willTopic?: string } = {}): number[] => {
  const flags = 0x02 | (o.willTopic !== undefined ? 0x04 : 0) | (o.username !== undefined ? 0x80 : 0);
  return frame(0x10, [...str('MQTT'), 4, flags, 0, 60, ...str(clientId),
    ...(o.willTopic !== undefined ? [...str(o.willTopic), 0, 1, 0x78] : []), ...(o.username !== undefined ? str(o.username) : [])]);
};

describe('broker: strict by default', () => {
  let r: Running;
  beforeEach(async () => { r = await startBroker(); });
  afterEach(async () => { await r.broker.close(); });

  describe('[MQTT-1.5.3] control characters and non-characters in strings close the connection', () => {
    const refused: [string, string][] = [
      ['U+0001', '\u0001'], ['U+001F', '\u001f'], ['U+007F', '\u007f'], ['U+0080', '\u0080'], ['U+009F', '\u009f'],
      ['U+FDD0', '\ufdd0'], ['U+FFFE', '\ufffe'], ['U+FFFF', '\uffff'], ['U+1FFFF', '\u{1ffff}'],
    ];
    const where: [string, (bad: string) => { connectFirst: boolean; bytes: number[] }][] = [
      ['the client id', (bad) => ({ connectFirst: false, bytes: connect(`id${bad}`) })],
      ['the user name', (bad) => ({ connectFirst: false, bytes: connect('u', { username: `user${bad}` }) })],
      ['the Will topic', (bad) => ({ connectFirst: false, bytes: connect('w', { willTopic: `will/${bad}` }) })],
      ['a PUBLISH topic', (bad) => ({ connectFirst: true, bytes: frame(0x30, [...str(`a/${bad}`), 0x78]) })],
      ['a QoS 1 PUBLISH topic', (bad) => ({ connectFirst: true, bytes: frame(0x32, [...str(`a/${bad}`), 0, 1, 0x78]) })],
      ['a SUBSCRIBE filter', (bad) => ({ connectFirst: true, bytes: frame(0x82, [0, 1, ...str(`a/${bad}/#`), 0]) })],
      ['an UNSUBSCRIBE filter', (bad) => ({ connectFirst: true, bytes: frame(0xa2, [0, 1, ...str(`a/${bad}`)]) })],
    ];
    for (const [place, build] of where) {
      for (const [name, ch] of refused) {
        it(`${name} in ${place}: closed, malformed_packet naming the code point and the rule`, async () => {
          const { connectFirst, bytes } = build(ch);
          const c = connectFirst ? await RawClient.connect(r.port, { clientId: 'strict' }) : await RawClient.connectSocket(r.port);
          const watch = await RawClient.connect(r.port, { clientId: 'watch' });
          watch.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1 }] } as Packet);
          await watch.next('suback');
          c.sendRaw(bytes);
          assert.equal(await c.waitClosed(), true, 'closed');
          assert.deepEqual(c.packets.filter((p) => p.cmd !== 'connack' || (p as any).returnCode === 0 && !connectFirst), [], 'no answer to the refused packet');
          const ev = r.events.find((e) => e.kind === 'malformed_packet');
          assert.ok(ev, `a malformed_packet event (got ${JSON.stringify(r.events)})`);
          assert.ok(ev.message.includes(`${name}, a ${name <= 'U+009F' ? 'control character' : 'non-character'} [MQTT-1.5.3]`), ev.message);
          assert.deepEqual(watch.packets.filter((p) => p.cmd === 'publish'), [], 'nothing was routed');
          watch.destroy();
        });
      }
    }

    it('characters around the refused ranges are fine: U+0020, U+007E, U+00A0, U+FDCF, U+FFFD, U+2A6D4 in every string', async () => {
      const ok = 'x \u007e\u00a0\ufdcf\ufffd\u{2a6d4}';
      const c = await RawClient.connectSocket(r.port);
      c.sendRaw(connect(`id${ok}`, { username: `u${ok}`, willTopic: `w/${ok}` }));
      assert.equal(((await c.next('connack')) as any).returnCode, 0);
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `t/${ok}/#`, qos: 0 }] } as Packet);
      await c.next('suback');
      c.sendRaw(frame(0x30, [...str(`t/${ok}/x`), 0x79]));
      assert.equal(((await c.next('publish')) as any).topic, `t/${ok}/x`);
      c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [`t/${ok}/#`] } as Packet);
      await c.next('unsuback');
      assert.deepEqual(r.events, []);
      c.destroy();
    });

    it('refusedCodePoint names the first refused code point, or null', () => {
      assert.equal(refusedCodePoint('plain/topic'), null);
      assert.equal(refusedCodePoint('a\tb\u0001'), 'U+0009, a control character');
      assert.equal(refusedCodePoint('\u{10fffe}'), 'U+10FFFE, a non-character');
      assert.equal(refusedCodePoint('\u00a0\u{2a6d4}'), null);
    });
  });

  describe('[MQTT-4.8.0-1] an acknowledgement of the wrong type closes the connection', () => {
    /** A persistent subscriber that has just received one message at `qos` from the hub. */
    async function delivered(qos: 1 | 2): Promise<{ c: RawClient; p: any }> {
      const c = await RawClient.connect(r.port, { clientId: 'acker', clean: false });
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'p', qos }] } as Packet);
      await c.next('suback');
      await r.broker.publish({ topic: 'p', payload: 'message', qos });
      return { c, p: await c.next('publish') };
    }

    /** After the violation: the message was not lost; the session hands it over again (DUP) on reconnect. */
    async function redelivered(qos: 1 | 2, released = false): Promise<void> {
      const back = await RawClient.connect(r.port, { clientId: 'acker', clean: false });
      const again = (await back.next(released ? 'pubrel' : 'publish')) as any;
      if (!released) { assert.equal(again.dup, true); assert.equal(again.qos, qos); }
      back.destroy();
    }

    const cases: [string, 1 | 2, string[], RegExp][] = [
      ['PUBREC for a QoS 1 message', 1, ['pubrec'], /PUBREC for packet id 1, a QoS 1 message.*\[MQTT-4\.3\.2-2\]/],
      ['PUBCOMP for a QoS 1 message', 1, ['pubcomp'], /PUBCOMP for packet id 1, a QoS 1 message.*\[MQTT-4\.3\.2-2\]/],
      ['PUBACK for a QoS 2 message', 2, ['puback'], /PUBACK for packet id 1, a QoS 2 message waiting for PUBREC.*\[MQTT-4\.3\.3-2\]/],
      ['PUBCOMP before PUBREC', 2, ['pubcomp'], /PUBCOMP for packet id 1, a QoS 2 message waiting for PUBREC.*\[MQTT-4\.3\.3-2\]/],
      ['PUBACK where PUBCOMP belongs', 2, ['pubrec', 'puback'], /PUBACK for packet id 1, a QoS 2 message waiting for PUBCOMP.*\[MQTT-4\.3\.3-2\]/],
    ];
    for (const [title, qos, acks, rule] of cases) {
      it(`${title}: closed, protocol_violation naming the rule, the message kept for redelivery`, async () => {
        const { c, p } = await delivered(qos);
        for (const [i, cmd] of acks.entries()) {
          c.send({ cmd, messageId: p.messageId } as Packet);
          if (i < acks.length - 1) await c.next('pubrel'); // the right PUBREC first, then the wrong one
        }
        assert.equal(await c.waitClosed(), true);
        const ev = r.events.find((e) => e.kind === 'protocol_violation');
        assert.ok(ev, JSON.stringify(r.events));
        assert.match(ev.message, rule);
        assert.equal(ev.objectId, 'acker');
        await redelivered(qos, acks.length > 1); // after a right PUBREC the hub resends its PUBREL
      });
    }

    it('the right acknowledgements, and a repeated PUBREC, keep the connection', async () => {
      const { c, p } = await delivered(2);
      c.send({ cmd: 'pubrec', messageId: p.messageId } as Packet);
      await c.next('pubrel');
      c.send({ cmd: 'pubrec', messageId: p.messageId } as Packet); // our PUBREL crossed it: answered again
      await c.next('pubrel');
      c.send({ cmd: 'pubcomp', messageId: p.messageId } as Packet);
      await r.broker.publish({ topic: 'p', payload: 'two', qos: 1 });
      const q = (await c.next('publish')) as any;
      assert.equal(q.qos, 1);
      c.send({ cmd: 'puback', messageId: q.messageId } as Packet);
      await until(() => r.broker.sessions().find((s) => s.clientId === 'acker')?.inflight === 0, 'nothing in flight');
      assert.equal(c.closed, false);
      assert.deepEqual(r.events, []);
      c.destroy();
    });
  });
});
