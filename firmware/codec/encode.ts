// Packet -> binary string. Strings in packets are UTF-8 on the wire (encoded
// here on unicode builds); payloads are binary strings sent as given. The
// encoders used in one place only (CONNECT, PUBLISH, the DUP flag) are written
// in the client where they are used: on the board every function costs RAM.
import { chr, u16 } from './bytes';
import { toUtf8 } from './utf8';

/** Length-prefixed UTF-8 string [MQTT-1.5.3]. */
export const str = (s: string) => {
  s = BOARD_UNICODE ? toUtf8(s) : s;
  return u16(s.length) + s;
};

/** Fixed header (first byte, remaining length in 1..4 bytes) + body. */
export const packet = (h: number, body: string) => {
  let n = body.length;
  let l = '';
  do l += chr(n > 127 ? n & 127 | 128 : n);
  while ((n >>= 7));
  return chr(h) + l + body;
};

/**
 * SUBSCRIBE (h = 0x82, from [filter, qos] pairs) or UNSUBSCRIBE (h = 0xa2, the
 * qos elements are ignored); extra elements in each pair are ignored.
 */
export const subscribe = (h: number, id: number, subs: any[][]) =>
  packet(h, u16(id) + subs.map((s) => str(s[0]) + (h < 0xa0 ? chr(s[1]) : '')).join(''));
