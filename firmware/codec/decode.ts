// Streaming parser: binary-string chunks in (any split, several packets per
// chunk), whole validated packets out: onPacket(first byte), with the packet in
// `head` (a PUBLISH's topic length, topic and packet id, or the whole body of any
// other packet) and `payload` (the rest of a PUBLISH).
//
// Memory: nothing is copied twice. Each chunk is cut once into the packet it
// belongs to, and a payload grows in place (Espruino appends to a string that
// only one variable holds, where `a = a.substr(...)` would copy all of it on every
// chunk). Before a packet is kept, its size is checked against maxPacket and
// against the interpreter's free memory: one that does not fit streams past unkept.
import { u16at } from './bytes';
import { T_PINGRESP, T_PUBLISH, T_PUBREL, T_SUBACK, TWO_BYTE_TYPES } from './constants';
import { badUtf8 } from './utf8';

/** Where packets go: (first byte) with the packet in `head` and `payload`; problems come as (REFUSED or MALFORMED, message). */
export type PacketHandler = (first: number, problem?: string) => void;

/** A packet over maxPacket or over free memory: skipped, the link stays usable. */
export const REFUSED = 0;
/** Malformed input: everything after it is ignored until feed(0) starts a new link; the link must be closed. */
export const MALFORMED = 1;

// The parser's state lives at module level, not in a closure: on Espruino each
// function costs RAM for as long as it exists, and the board has one link at a
// time, so one parser: feed(0) starts it for each new link, feed() stops it.
/** First byte of the packet being read; -1 while waiting for one; -2 when stopped (no link, or malformed input). */
let first = -2;
// Each set when a packet starts (no initialiser bytes):
/** While the remaining length is read: the weight of its next byte (1, 128, ...); 0 once it is read. */
let weight: number;
/** Remaining length: the bytes after the fixed header. */
let length: number;
/** Bytes still to come: of the fixed header while it is read (counted up), then of the body. */
let left: number;
/** How long the head will be (for PUBLISH known once the topic length is in). */
let headLength: number;
/** This packet was refused: its bytes stream past unkept. */
let skipping: any;
/**
 * The packet handed to onPacket, as it arrives: the head, and a PUBLISH's payload.
 * Exported (read-only) so that the client can read them without one more parameter.
 */
export let head = '';
export let payload: string;

/**
 * Feeds one chunk of a link. feed(0) starts the parser for a new link (whatever was
 * buffered is forgotten); feed() stops it: the rest of a chunk under way and all input
 * after it are ignored until the next start. Each whole packet goes to
 * onPacket(first byte), the packet in `head` and `payload`.
 * A packet of more than `max` bytes (whole packet), or one whose bytes would not
 * leave the board's memory margin (BOARD_MEMORY_MARGIN vars) free, is skipped as it
 * streams past and reported as onPacket(REFUSED, message); a malformed one as
 * onPacket(MALFORMED, message), after which the parser is stopped: the link must be closed.
 */
export const feed = (chunk?: string | 0, max?: any, onPacket?: PacketHandler) => {
  let i = 0;
  let byte: number;
  let take: number;
  let memory: any;
  let type: number;
  let flags: number;
  let n: number;
  let id: number;
  // 0: start (a new link); nothing: stop. ('' is a chunk with nothing in it.)
  if (chunk === 0) first = -1;
  else if (chunk == null) first = -2;
  else while (first > -2 && i < chunk.length) {
    byte = chunk.charCodeAt(i);
    if (first < 0) {
      // A new packet: its first byte, then 1..4 bytes of remaining length.
      first = byte;
      weight = left = 1;
      length = 0;
      i++;
      continue;
    }
    if (weight) {
      i++;
      left++;
      length += (byte & 127) * weight;
      if (byte > 127) {
        if ((weight *= 128) > 2097152) {
          first = -2;
          return onPacket!(MALFORMED, 'malformed length');
        }
        continue;
      }
      // The length is known: decide whether to keep this packet before any of it is kept.
      weight = 0;
      head = payload = '';
      headLength = first >> 4 == T_PUBLISH ? 2 : length;
      // A kept packet is a string of about length / (var size - 4) vars (blocks of 8 chars on
      // an ESP8266: the profile's varBytes is 12). process.memory(false) counts without a
      // garbage collection; it is only asked for packets too big to be harmless.
      memory = length > 99 && process.memory(false);
      skipping = length + left > max ? 1 : memory && length / (BOARD_VAR_BYTES - 4) + BOARD_MEMORY_MARGIN > memory.free ? 2 : 0;
      if (skipping) onPacket!(REFUSED, 'packet over ' + (skipping < 2 ? 'maxPacket ' + max : 'free memory') + ': ' + (length + left) + ' bytes');
      left = length;
    } else {
      // Body bytes: the head first, then the payload, each appended where it belongs.
      take = Math.min(left, chunk.length - i);
      if (!skipping) {
        if (head.length < headLength) head += chunk.substr(i, take = Math.min(take, headLength - head.length));
        else payload += chunk.substr(i, take);
        // A PUBLISH head ends after the topic (its length is the first two bytes) and the packet id (QoS > 0).
        if (headLength == 2 && head.length == 2 && first >> 4 == T_PUBLISH) headLength += u16at(head, 0) + (first & 6 ? 2 : 0);
      }
      i += take;
      left -= take;
    }
    if (!left) {
      byte = first;
      first = -1;
      if (!skipping) {
        // A whole packet: is it one a client may receive, well formed? Type, reserved
        // flags, lengths, packet ids, and a PUBLISH topic of well-formed UTF-8.
        type = byte >> 4;
        flags = byte & 15;
        n = head.length;
        id = u16at(head, 0); // the topic length for PUBLISH
        // QoS 3 is malformed [MQTT-3.3.1-4]; a QoS>0 packet id is never 0 [MQTT-2.3.1-1].
        // The topic must be well-formed UTF-8 without U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2]. Unicode
        // builds check it all (badUtf8). ESP builds, where every byte of the bundle counts, use one
        // regex on the bytes between two ASCII bytes, which finds: U+0000; bytes that never occur
        // (C0, C1: overlong 2-byte forms; F5..FF); a surrogate (ED A0..BF); a lead byte not followed
        // by a continuation byte (a sequence cut short); a continuation byte after an ASCII one (a
        // stray one, as Latin-1 text has). It misses: a 3- or 4-byte sequence cut short after its
        // second byte, extra continuation bytes after a whole sequence, overlong 3- and 4-byte forms
        // (E0 80..9F, F0 80..8F), U+110000..U+13FFFF (F4 90..BF). It never refuses valid UTF-8.
        if (!(type == T_PUBLISH
          ? n == headLength && (flags & 6) < 6 && (!(flags & 6) || u16at(head, n - 2) > 0)
            && !(BOARD_UNICODE ? badUtf8(head.substr(2, id)) : /[\0\xc0\xc1\xf5-\xff]|\xed[\xa0-\xbf]|[\xc0-\xff][^\x80-\xbf]|[\0-\x7f][\x80-\xbf]/.test(0 + head.substr(2, id) + 0))
          : type == T_PINGRESP ? !(flags | n)
          // SUBACK return codes are 0, 1, 2 or 0x80 [MQTT-3.9.3-2] (bytes: control chars are the point here).
          // eslint-disable-next-line no-control-regex
          : type == T_SUBACK ? !flags && n > 2 && id > 0 && !/[^\0-\x02\x80]/.test(head.substr(2))
          // CONNACK: only the session-present bit may be set [MQTT-3.2.2-1]; acks carry a non-zero id.
          : TWO_BYTE_TYPES >> type & 1 && n == 2 && flags == (type == T_PUBREL ? 2 : 0) && (type > 2 ? id > 0 : id < 512))) {
          first = -2;
          return onPacket!(MALFORMED, 'malformed packet, type ' + type);
        }
        // Consumed before it is handed out, so the stream stays consistent.
        onPacket!(byte);
      }
    }
  }
};
