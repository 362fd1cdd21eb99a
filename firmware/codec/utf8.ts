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
