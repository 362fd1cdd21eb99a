// Fuzzing the firmware's streaming parser (the minified dist/test/codec.js) in
// process: one case = one mutated server-to-client packet, fed whole and fed in
// random chunks. Used by the CI test (a fixed-seed sample) and by the soak.
import { isDeepStrictEqual } from 'util';
import * as mqttPacket from 'mqtt-packet';
import { chunks, fuzzCase, rng, caseSeed, type Mutation } from './mutate';

/** The client's default maxPacket on the ESP32 profile (boards/esp32.json). */
export const CODEC_MAX = 4096;

type Ev = ['packet', any] | ['error', string, boolean];

function feed(codec: any, parts: Buffer[]): { events: Ev[]; thrown?: string } {
  const events: Ev[] = [];
  const push = codec.parser(CODEC_MAX, (h: number, b: string, pl: string) => events.push(['packet', codec.toPacket(h, b, pl)]), (m: string, fatal: boolean) => events.push(['error', m, fatal]));
  try {
    for (const p of parts) push(p.toString('latin1'));
  } catch (e: any) {
    return { events, thrown: String(e?.stack ?? e) };
  }
  return { events };
}

/** The packets mqtt-packet reads from the same bytes before any error, in the shape toPacket() reports. */
function reference(bytes: Buffer): any[] {
  const out: any[] = [];
  let bad = false;
  const p = mqttPacket.parser({ protocolVersion: 4 });
  p.on('packet', (x: any) => { if (!bad) out.push(x); });
  p.on('error', () => { bad = true; });
  p.parse(bytes);
  return out.map((x) => {
    const o: any = { cmd: x.cmd };
    if (x.cmd === 'connack') Object.assign(o, { sessionPresent: !!x.sessionPresent, returnCode: x.returnCode });
    else if (x.cmd === 'publish') {
      Object.assign(o, { topic: x.topic, qos: x.qos, dup: !!x.dup, retain: !!x.retain, payload: Buffer.from(x.payload).toString('latin1') });
      if (x.qos) o.messageId = x.messageId;
    } else if (x.messageId !== undefined) o.messageId = x.messageId;
    if (x.cmd === 'suback') o.granted = x.granted;
    return o;
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function validUtf8Topics(bytes: Buffer): boolean {
  if (bytes[0] >> 4 !== 3) return true;
  let i = 1;
  while (bytes[i] & 0x80) i++;
  const n = bytes.readUInt16BE(i + 1);
  try { utf8.decode(bytes.subarray(i + 3, i + 3 + n)); return true; } catch { return false; }
}

export interface CaseFailure { seed: number; index: number; mutation: Mutation; hex: string; problem: string }

/** Mutations where the codec is known to be lenient (see the skipped tests): not counted as failures when `known` is false. */
export const KNOWN_LENIENT: Mutation[] = ['badutf8', 'nul'];

/** Runs case i of a seed; null when every property holds. */
export function codecCase(codec: any, seed: number, i: number, opts: { strictUtf8?: boolean } = {}): CaseFailure | null {
  const c = fuzzCase(seed, i, 'toClient', CODEC_MAX);
  const fail = (problem: string): CaseFailure => ({ seed, index: i, mutation: c.mutation, hex: c.bytes.subarray(0, 64).toString('hex'), problem });
  const whole = feed(codec, [c.bytes]);
  if (whole.thrown) return fail(`the parser threw: ${whole.thrown}`);
  const split = feed(codec, chunks(rng(caseSeed(seed, i) ^ 0x5bd1e995), c.bytes));
  if (split.thrown) return fail(`the parser threw on split input: ${split.thrown}`);
  if (JSON.stringify(whole.events) !== JSON.stringify(split.events)) {
    return fail(`split input changed the outcome: ${JSON.stringify(whole.events)} vs ${JSON.stringify(split.events)}`);
  }
  const packets = whole.events.filter((e) => e[0] === 'packet').map((e) => e[1]);
  const fatal = whole.events.findIndex((e) => e[0] === 'error' && e[2]);
  if (fatal >= 0 && fatal < whole.events.length - 1) return fail('events after a fatal error');
  for (const e of whole.events) if (e[0] === 'error' && (typeof e[1] !== 'string' || e[1] === '')) return fail('an error without a message');
  if (c.mustRefuse && packets.length > 0 && (opts.strictUtf8 || !KNOWN_LENIENT.includes(c.mutation))) {
    return fail(`a ${c.mutation} packet was delivered: ${JSON.stringify(packets[0]).slice(0, 200)}`);
  }
  if (packets.length > 0 && validUtf8Topics(c.bytes)) {
    // Whatever the codec accepts, the reference parser must read the same way
    // (where the topic is valid UTF-8: mqtt-packet replaces bad sequences with U+FFFD).
    const ref = reference(c.bytes);
    if (!isDeepStrictEqual(ref.slice(0, packets.length), packets)) {
      return fail(`delivered ${JSON.stringify(packets).slice(0, 200)}, mqtt-packet reads ${JSON.stringify(ref).slice(0, 200)}`);
    }
  }
  return null;
}
