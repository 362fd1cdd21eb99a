// Conversions between the board's strings and bytes on the wire or in flash.
// ESP builds have no unicode: every string char is a byte. The Linux build keeps
// unicode strings as UTF-8, so a char above 255 can only come from a unicode string.

/** Bytes a board string stands for when it is sent or stored. */
export function boardStringToBytes(s: string, unicode: boolean): Buffer {
  if (unicode && /[\u0100-\uffff]/.test(s)) return Buffer.from(s, 'utf8');
  return Buffer.from(s, 'latin1');
}

/** The binary string (one char per byte) the board receives for these bytes. */
export function bytesToBoardString(b: Buffer): string {
  return b.toString('latin1');
}

/**
 * Source text as a non-unicode board sees it: a UTF-8 literal such as "é" becomes
 * its two bytes, so `"é".length` is 2 there, as measured on ESP-sized builds.
 */
export function sourceForBoard(src: string, unicode: boolean): string {
  if (unicode || !/[\u0080-\uffff]/.test(src)) return src;
  return Buffer.from(src, 'utf8').toString('latin1');
}
