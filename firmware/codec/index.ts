// The codec alone, for the test bundle (dist/test/codec.js): the functions the
// client ships, plus toPacket(), a test-only view of a received packet shaped like
// mqtt-packet's parse output so tests can compare field by field.
import { T_CONNACK, T_PUBLISH, T_SUBACK } from './constants';
import { u16at } from './bytes';
import { feed, publishFields, reset } from './decode';
import { fromUtf8 } from './utf8';

export { chr, u16, u16at } from './bytes';
export { connect, publish, dup, ack, subscribe, packet, str } from './encode';
export { publishFields, wellFormed } from './decode';
export { toUtf8, fromUtf8, badUtf8 } from './utf8';
export { PINGREQ, DISCONNECT, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, UNSUBSCRIBE } from './constants';

const CMDS = ',connect,connack,publish,puback,pubrec,pubrel,pubcomp,subscribe,suback,unsubscribe,unsuback,pingreq,pingresp,disconnect'.split(',');

export function toPacket(h: number, b: string): any {
  const t = h >> 4;
  const p: any = { cmd: CMDS[t] };
  let f: [string, number, string];
  if (t == T_CONNACK) {
    p.sessionPresent = (b.charCodeAt(0) & 1) == 1;
    p.returnCode = b.charCodeAt(1);
  } else if (t == T_PUBLISH) {
    f = publishFields(h, b);
    p.topic = fromUtf8(f[0]);
    p.qos = h >> 1 & 3;
    p.dup = (h & 8) > 0;
    p.retain = (h & 1) > 0;
    if (p.qos) p.messageId = f[1];
    p.payload = f[2];
  } else if (b.length) {
    p.messageId = u16at(b, 0);
    if (t == T_SUBACK) p.granted = b.substr(2).split('').map(function (c) { return c.charCodeAt(0); });
  }
  return p;
}

/**
 * A parser for one connection, as the tests use it: push(chunk) feeds it. The
 * board has one parser (module state), so only the latest one made here is live.
 */
export function parser(max: number, onPacket: (h: number, b: string) => void, onError: (m: string, fatal: boolean) => void) {
  reset();
  return function (chunk: string) { feed(chunk, max, function (h, b) { if (h < 2) onError(b, h > 0); else onPacket(h, b); }); };
}
