// The bridge link's client codec (host-broker/bridges/client-codec.ts) against
// mqtt-packet: CONNECT and SUBSCRIBE byte for byte, and what a server sends
// decoded to the same packets; malformed server packets are refused with a reason.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { decodeFromServer, DISCONNECT, encodeConnect, encodeSubscribe, PINGREQ } from '../../host-broker/bridges/client-codec';
import { FrameReader } from '../../host-broker/frame-reader';

const frameOf = (bytes: Buffer) => {
  const { frames, error } = new FrameReader(1 << 24).push(bytes);
  assert.equal(error, undefined);
  assert.equal(frames.length, 1);
  return frames[0];
};
const parsed = (bytes: Buffer): any => {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let out: Packet | undefined;
  parser.on('packet', (p: Packet) => { out = p; });
  parser.parse(bytes);
  return out;
};
/** The fields mqtt-packet's parser sets that matter to the bridge. */
const fields = (p: any) => {
  const { cmd, messageId, qos, dup, retain, topic, sessionPresent, returnCode, granted } = p;
  const o: any = { cmd, messageId, qos, dup, retain, topic, sessionPresent, returnCode, granted };
  if (p.payload) o.payload = Buffer.from(p.payload).toString('hex');
  for (const k of Object.keys(o)) if (o[k] === undefined || o[k] === null) delete o[k];
  return o;
};

describe('bridges: client codec (no mqtt-packet at run time)', () => {
  it('CONNECT and SUBSCRIBE are byte for byte what mqtt-packet generates', () => {
    fc.assert(fc.property(
      fc.record({ clientId: fc.string({ minLength: 1, maxLength: 40 }), clean: fc.boolean(), keepalive: fc.integer({ min: 0, max: 65535 }),
        username: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), password: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: undefined }) }),
      (o) => {
        const password = o.username !== undefined && o.password ? Buffer.from(o.password) : undefined;
        const opts = { clientId: o.clientId, clean: o.clean, keepalive: o.keepalive, ...(o.username !== undefined ? { username: o.username } : {}), ...(password ? { password } : {}) };
        const ref = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, ...opts } as Packet);
        assert.equal(encodeConnect(opts).toString('hex'), ref.toString('hex'));
      }), { numRuns: 300 });
    fc.assert(fc.property(fc.integer({ min: 1, max: 65535 }),
      fc.array(fc.record({ topic: fc.string({ minLength: 1, maxLength: 300 }), qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2> }), { minLength: 1, maxLength: 5 }),
      (id, subs) => {
        const ref = mqttPacket.generate({ cmd: 'subscribe', messageId: id, subscriptions: subs } as Packet);
        assert.equal(encodeSubscribe(id, subs).toString('hex'), ref.toString('hex'));
      }), { numRuns: 300 });
    assert.deepEqual(PINGREQ, mqttPacket.generate({ cmd: 'pingreq' }));
    assert.deepEqual(DISCONNECT, mqttPacket.generate({ cmd: 'disconnect' }));
  });

  it('decodes what a server sends as mqtt-packet does', () => {
    const samples: Packet[] = [
      { cmd: 'connack', returnCode: 0, sessionPresent: true } as Packet,
      { cmd: 'connack', returnCode: 5, sessionPresent: false } as Packet,
      { cmd: 'suback', messageId: 7, granted: [0, 1, 2, 128] } as Packet,
      { cmd: 'unsuback', messageId: 9 } as Packet,
      { cmd: 'pingresp' },
      { cmd: 'puback', messageId: 1 }, { cmd: 'pubrec', messageId: 65535 }, { cmd: 'pubrel', messageId: 3 }, { cmd: 'pubcomp', messageId: 4 },
      { cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 0, retain: true, dup: false } as Packet,
      { cmd: 'publish', topic: 'télé/°C', payload: Buffer.alloc(300, 7), qos: 2, retain: false, dup: true, messageId: 12 } as Packet,
    ];
    for (const p of samples) {
      const bytes = mqttPacket.generate(p);
      const got = decodeFromServer(frameOf(bytes));
      assert.ok(!('error' in got), `${p.cmd}: ${(got as any).error}`);
      assert.deepEqual(fields(got), fields(parsed(bytes)), p.cmd);
    }
  });

  it('refuses malformed server packets with the reason', () => {
    const refused = (bytes: number[], why: RegExp) => {
      const got = decodeFromServer(frameOf(Buffer.from(bytes)));
      assert.ok('error' in got, `accepted ${Buffer.from(bytes).toString('hex')}`);
      assert.match((got as any).error, why);
    };
    refused([0x20, 0x03, 0, 0, 0], /CONNACK must have flags 0 and 2 bytes/);
    refused([0x20, 0x02, 0x02, 0], /reserved acknowledge flags/);
    refused([0x90, 0x03, 0, 1, 3], /return code other than 0, 1, 2 or 0x80/);
    refused([0x90, 0x03, 0, 0, 1], /packet id 0/);
    refused([0xd0, 0x01, 0], /PINGRESP must have flags 0 and no body/);
    refused([0x10, 0x00], /a server must not send CONNECT/);
    refused([0x00, 0x00], /packet type 0 is reserved/);
    refused([0x36, 0x05, 0, 1, 0x61, 0, 1], /QoS 3/);
    refused([0x30, 0x05, 0, 3, 0x61, 0x2f, 0x2b], /wildcard/);
    refused([0x40, 0x02, 0, 0], /packet id 0/);
  });
});
