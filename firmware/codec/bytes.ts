// Binary strings: one char per byte, the form Espruino sockets send and receive.
export const chr = String.fromCharCode;

/** Two-byte big-endian integer. */
export const u16 = (n: number) => chr(n >> 8 & 255, n & 255);

/** Two-byte big-endian integer at offset i of s. */
export const u16at = (s: string, i: number) => s.charCodeAt(i) << 8 | s.charCodeAt(i + 1);
