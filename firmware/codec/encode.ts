// Packet -> binary string. Strings in packets are UTF-8 on the wire (encoded
// here on unicode builds); payloads are binary strings sent as given.
import { at, chr, u16 } from './bytes';
import { CONNECT, PUBLISH } from './constants';
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

/** PUBACK / PUBREC / PUBREL / PUBCOMP: first byte + packet id. */
export const ack = (h: number, id: number) => packet(h, u16(id));

/** A packet with no body (PINGREQ, DISCONNECT). */
export const empty = (h: number) => chr(h, 0);

/** Options read by connect(); the client passes its own options object. */
export interface ConnectOptions {
  clientId?: string;
  username?: string;
  password?: string;
  clean?: boolean;
  will?: { topic: string; payload?: string; qos?: number; retain?: boolean } | null;
}

/** CONNECT for protocol level 4 (3.1.1); keepalive in seconds. */
export const connect = (o: ConnectOptions, keepalive: number) => {
  const w = FEATURE_WILL && o.will;
  let f = o.clean === false ? 0 : 2;
  let b = str(o.clientId || '');
  let p: string;
  if (w) {
    f |= 4 | (w.qos as number) << 3 | +!!w.retain << 5;
    // The payload is binary: no UTF-8 step (which str() only does on unicode builds).
    b += str(w.topic) + (BOARD_UNICODE ? u16((p = w.payload || '').length) + p : str(w.payload || ''));
  }
  if (o.username != null) {
    f |= 128;
    b += str(o.username);
  }
  if (o.password != null) {
    f |= 64;
    b += str(o.password);
  }
  return packet(CONNECT, str('MQTT') + chr(4, f) + u16(keepalive) + b);
};

/** PUBLISH without DUP (see dup()); `id` is ignored for QoS 0. */
export const publish = (topic: string, payload: string, qos: number, retain: any, id: number) =>
  packet(PUBLISH | qos << 1 | +!!retain, str(topic) + (qos ? u16(id) : '') + payload);

/** The same packet with DUP set if it is a PUBLISH (first byte below 0x40), for a resend [MQTT-3.3.1-1]. */
export const dup = (p: string) => p < '@' ? chr(at(p, 0) | 8) + p.substr(1) : p;

/**
 * SUBSCRIBE (h = 0x82, from [filter, qos] pairs) or UNSUBSCRIBE (h = 0xa2, the
 * qos elements are ignored); extra elements in each pair are ignored.
 */
export const subscribe = (h: number, id: number, subs: any[][]) =>
  packet(h, u16(id) + subs.map((s) => str(s[0]) + (h < 0xa0 ? chr(s[1]) : '')).join(''));
