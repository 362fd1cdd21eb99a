// Streaming parser: binary-string chunks in (any split, several packets per
// chunk), whole validated packets out as (first byte, body). The client reads the
// few fields it needs from the body with u16at() and publishFields().
import { at, u16at } from './bytes';
import { badUtf8 } from './utf8';
import { T_PINGRESP, T_PUBLISH, T_PUBREL, T_SUBACK, TWO_BYTE_TYPES } from './constants';

/** PUBLISH body -> [topic bytes, packet id (0 for QoS 0), payload]. */
export const publishFields = (h: number, b: string): [string, number, string] => {
  const n = u16at(b, 0) + 2;
  return [b.substr(2, n - 2), h & 6 ? u16at(b, n) : 0, b.substr(h & 6 ? n + 2 : n)];
};

/** Whether a packet a client may receive is well formed: type, reserved flags, length, ids. */
export const wellFormed = (h: number, b: string) => {
  const t = h >> 4;
  const f = h & 15;
  const n = b.length;
  const id = u16at(b, 0); // the topic length for PUBLISH
  // QoS 3 is malformed [MQTT-3.3.1-4]; a QoS>0 packet id is never 0 [MQTT-2.3.1-1].
  // The topic must be well-formed UTF-8 without U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2]. Unicode
  // builds check it all (badUtf8). ESP builds, where every byte of the bundle counts, use one
  // regex on the bytes between two ASCII bytes, which finds: U+0000; bytes that never occur
  // (C0, C1: overlong 2-byte forms; F5..FF); a surrogate (ED A0..BF); a lead byte not followed
  // by a continuation byte (a sequence cut short); a continuation byte after an ASCII one (a
  // stray one, as Latin-1 text has). It misses: a 3- or 4-byte sequence cut short after its
  // second byte, extra continuation bytes after a whole sequence, overlong 3- and 4-byte forms
  // (E0 80..9F, F0 80..8F), U+110000..U+13FFFF (F4 90..BF). It never refuses valid UTF-8.
  if (t == T_PUBLISH) {
    return (f & 6 ? (f & 6) < 6 && n > id + 3 && u16at(b, id + 2) > 0 : n > id + 1)
      && !(BOARD_UNICODE ? badUtf8(b.substr(2, id)) : /[\0\xc0\xc1\xf5-\xff]|\xed[\xa0-\xbf]|[\xc0-\xff][^\x80-\xbf]|[\0-\x7f][\x80-\xbf]/.test(0 + b.substr(2, id) + 0));
  }
  if (t == T_PINGRESP) return !(f | n);
  // SUBACK return codes are 0, 1, 2 or 0x80 [MQTT-3.9.3-2] (bytes: control chars are the point here).
  // eslint-disable-next-line no-control-regex
  if (t == T_SUBACK) return !f && n > 2 && id > 0 && !/[^\0-\x02\x80]/.test(b.substr(2));
  // CONNACK: only the session-present bit may be set [MQTT-3.2.2-1]; acks carry a non-zero id.
  return TWO_BYTE_TYPES >> t & 1 && n == 2 && f == (t == T_PUBREL ? 2 : 0) && (t > 2 ? id > 0 : id < 512);
};

// The parser's state lives at module level, not in a closure: on Espruino every
// function expression evaluated at run time stores its own copy of its code text,
// while a top-level function is created once, at load. The board has one link at
// a time, so one parser: reset() it for each new link.
let buf = '';
let skip = 0;

/** Forget everything buffered: a new link starts. Also stops a feed() under way. */
export const reset = () => {
  buf = '';
  skip = 0;
};

/**
 * Feeds one chunk. Each whole packet goes to onPacket(firstByte, body). Problems go
 * to the same function with a first byte no packet has (one function less to keep
 * on the board): a packet of more than `max` bytes (whole packet) is skipped as it
 * streams past and reported as onPacket(0, msg); a malformed one is reported as
 * onPacket(1, msg) and all further input is ignored until reset(): the link must be closed.
 */
export const feed = (chunk: string, max: number, onPacket: (h: number, body: string) => void) => {
  let n: number;
  let m: number;
  let i: number;
  let c: number;
  buf += chunk;
  for (;;) {
    c = skip < buf.length ? skip : buf.length;
    buf = buf.substr(c);
    skip -= c;
    if (skip || buf.length < 2) return;
    for (n = 0, m = 1, i = 1; ; m *= 128) {
      if (i > 4) {
        skip = 1 / 0;
        return onPacket(1, 'malformed length');
      }
      if (i >= buf.length) return;
      c = at(buf, i++);
      n += (c & 127) * m;
      if (c < 128) break;
    }
    if (n + i > max) {
      onPacket(0, 'packet over maxPacket ' + max + ': ' + (skip = n + i) + ' bytes');
      continue;
    }
    if (buf.length < n + i) return;
    // Consume before handing out, so a throwing handler leaves the stream consistent.
    c = at(buf, 0);
    chunk = buf.substr(i, n);
    buf = buf.substr(n + i);
    if (!wellFormed(c, chunk)) {
      skip = 1 / 0;
      return onPacket(1, 'malformed packet, type ' + (c >> 4));
    }
    try {
      onPacket(c, chunk);
    } catch (e) {
      // A throwing handler does not stop the packets after it; its exception
      // still surfaces, as an Uncaught error from a timer.
      setTimeout(() => {
        throw e;
      });
    }
  }
};
