// fast-check arbitraries and mqtt-packet helpers shared by the codec and client encode tests.
import fc from 'fast-check';
import * as mqttPacket from 'mqtt-packet';

/** mqtt-packet's bytes for a packet, as a binary string (what Espruino sockets carry). */
export const gen = (p: any): string => mqttPacket.generate(p, { protocolVersion: 4 }).toString('latin1');
export const bin = (s: string) => Buffer.from(s, 'latin1');

/** Arbitrary MQTT strings: any unicode except U+0000 and lone surrogates (not valid UTF-8). */
export const mqttString = (min = 0, max = 40) => fc.string({ unit: 'grapheme', minLength: min, maxLength: max }).filter((s) => !s.includes('\u0000'));
export const topic = () => mqttString(1).filter((s) => !/[+#]/.test(s));
export const binary = (max = 300) => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u).toString('latin1'));
export const qos = fc.integer({ min: 0, max: 2 });
export const id = fc.integer({ min: 1, max: 65535 });
