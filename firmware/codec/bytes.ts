// Binary strings: one char per byte, the form Espruino sockets send and receive.
export const chr = String.fromCharCode;

/** Two-byte big-endian integer. */
export const u16 = (n: number) => chr(n >> 8 & 255, n & 255);

/** Byte i of s (a shorter spelling of s.charCodeAt(i): it is used often). */
export const at = (s: string, i: number) => s.charCodeAt(i);

/** Two-byte big-endian integer at offset i of s. */
export const u16at = (s: string, i: number) => at(s, i) << 8 | at(s, i + 1);
