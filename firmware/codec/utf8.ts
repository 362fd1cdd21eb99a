// UTF-8 for unicode builds (Linux Espruino, the Node simulator), where a JS char
// may be > 255. ESP builds hold strings as raw UTF-8 bytes already, so callers
// fold these away there (BOARD_UNICODE false).
import { chr } from './bytes';

/** JS string -> binary string of its UTF-8 bytes. */
export function toUtf8(s: string): string {
  let o = '';
  let i = 0;
  let c: number;
  for (; i < s.length; i++) {
    c = s.charCodeAt(i);
    if (c < 128) o += s.charAt(i);
    else if (c < 2048) o += chr(192 | c >> 6, 128 | c & 63);
    else if (c >= 0xd800 && c < 0xdc00) {
      c = 0x10000 + ((c & 1023) << 10 | s.charCodeAt(++i) & 1023);
      o += chr(240 | c >> 18, 128 | c >> 12 & 63, 128 | c >> 6 & 63, 128 | c & 63);
    } else o += chr(224 | c >> 12, 128 | c >> 6 & 63, 128 | c & 63);
  }
  return o;
}

/** Binary string of UTF-8 bytes -> JS string. */
export function fromUtf8(s: string): string {
  let o = '';
  let i = 0;
  let c: number;
  let n: number;
  while (i < s.length) {
    c = s.charCodeAt(i++);
    if (c > 127) {
      n = c > 239 ? 3 : c > 223 ? 2 : 1;
      c &= 63 >> n;
      while (n--) c = c << 6 | s.charCodeAt(i++) & 63;
      if (c > 0xffff) {
        c -= 0x10000;
        o += chr(0xd800 + (c >> 10), 0xdc00 + (c & 1023));
        continue;
      }
    }
    o += chr(c);
  }
  return o;
}

/**
 * 1 or the count of missing bytes (truthy) if a binary string is not well-formed UTF-8
 * or holds U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2], else 0. Each sequence is decoded; it is
 * refused when a byte is not the lead or continuation byte expected there, when it ends
 * early, when it is overlong (below the least value for its length; U+0000 counts as
 * one), a surrogate (D800..DFFF) or above U+10FFFF. Unicode builds (ESP builds use a
 * smaller check, see decode.ts).
 */
export const badUtf8 = (s: string) => {
  let i = 0;
  // Continuation bytes still expected; the value so far; the least value for its length.
  let n = 0;
  let v = 0;
  let m = 0;
  let c: number;
  while (i < s.length) {
    c = s.charCodeAt(i++);
    // A continuation byte (10xxxxxx) exactly where one is expected.
    if ((c >> 6 == 2) == !n) return 1;
    if (n) {
      v = v << 6 | c & 63;
      n--;
    } else {
      // A lead byte: C0..DF, E0..EF, F0..FF announce 1, 2, 3 continuation bytes.
      n = +(c > 191) + +(c > 223) + +(c > 239);
      m = [1, 0x80, 0x800, 0x10000][n];
      v = c & 127 >> n;
    }
    if (!n && (v < m || v >> 11 == 27 || v > 0x10ffff)) return 1;
  }
  return n;
};
