// The codec alone, for the test bundle (dist/test/codec.js): the functions the
// client ships, plus toPacket(), a test-only view of a received packet shaped like
// mqtt-packet's parse output so tests can compare field by field. The parser asks
// process.memory() (Espruino's) about big packets: tests load this bundle with one.
import { T_CONNACK, T_PUBLISH, T_SUBACK } from './constants';
import { u16at } from './bytes';
import { feed, head, MALFORMED, payload, REFUSED } from './decode';
import { fromUtf8 } from './utf8';

export { chr, u16, u16at } from './bytes';
export { subscribe, packet, str } from './encode';
export { toUtf8, fromUtf8, badUtf8 } from './utf8';
export { PINGREQ, DISCONNECT, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, UNSUBSCRIBE } from './constants';

const CMDS = ',connect,connack,publish,puback,pubrec,pubrel,pubcomp,subscribe,suback,unsubscribe,unsuback,pingreq,pingresp,disconnect'.split(',');

export function toPacket(h: number, b: string, payload: string): any {
  const t = h >> 4;
  const p: any = { cmd: CMDS[t] };
  const n = u16at(b, 0);
  if (t == T_CONNACK) {
    p.sessionPresent = (b.charCodeAt(0) & 1) == 1;
    p.returnCode = b.charCodeAt(1);
  } else if (t == T_PUBLISH) {
    p.topic = fromUtf8(b.substr(2, n));
    p.qos = h >> 1 & 3;
    p.dup = (h & 8) > 0;
    p.retain = (h & 1) > 0;
    if (p.qos) p.messageId = u16at(b, n + 2);
    p.payload = payload;
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
export function parser(max: number, onPacket: (h: number, head: string, payload: string) => void, onError: (m: string, fatal: boolean) => void) {
  feed(0);
  return function (chunk: string) {
    feed(chunk, max, function (h, problem) {
      if (h == REFUSED || h == MALFORMED) onError(problem!, h == MALFORMED);
      else onPacket(h, head, payload);
    });
  };
}
