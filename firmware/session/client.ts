// The client state machine: connect, keepalive, reconnect with backoff, the
// ordered send queue (window + outbox), subscriptions and dispatch.
// All state lives in closure variables of create() so the minifier can shorten
// every name; only the public methods are object properties. Helpers are
// arrow functions assigned before any can run (Espruino does not hoist).
import { chr, u16at } from '../codec/bytes';
import { CONNACK_TEXT, DISCONNECT, PINGREQ, PUBACK, PUBCOMP, PUBREC, PUBREL, SUBSCRIBE, T_CONNACK, T_PUBLISH, T_PUBREC, T_PUBREL, T_SUBACK, UNSUBSCRIBE } from '../codec/constants';
import { ack, connect, dup, publish, subscribe } from '../codec/encode';
import { parser, publishFields } from '../codec/decode';
import { fromUtf8 } from '../codec/utf8';
import { checkFilter, checkTopic, topicMatches } from '../topic';
import { ackType, nextId, release, remember } from './inflight';
import { full } from './outbox';

type Cb = ((err: any, x?: any) => void) | undefined | 0;

export const create = (o: any) => {
  // Link: the socket (falsy when down), CONNACK accepted, end() called, reconnect
  // attempts. Flags start undefined (falsy): no initialiser bytes. One timer: the
  // keepalive interval while a socket exists, the reconnect timeout while none does.
  let sock: any;
  let up: any;
  let ended: any;
  let timer: any;
  let tries = 0;
  // Keepalive: wrote / heard something since the last tick; silent ticks (reset in open()).
  let tx: any;
  let rx: any;
  let miss: any;
  // q[0..sent) of the send queue is written on this link.
  let sent = 0;
  let lastId = 0;
  // Inbound QoS 2 ids awaiting PUBREL; acknowledged subscriptions [filter, qos, handler].
  let rel: number[] = [];
  let subs: any[][] = [];
  // (consts after lets: the minifier merges each kind into one declaration)
  // Send queue of [id, packet, callback, extra].
  const q: any[][] = [];
  const ev: any = {};
  const k = o.keepalive == null ? 60 : o.keepalive;
  const maxQos = FEATURE_QOS2 ? 2 : 1;

  const error = (msg: string) => new Error(msg);

  const emit = (n: string, a?: any, b?: any, c?: any) => {
    (ev[n] || []).forEach((f: any) => f(a, b, c));
  };

  // Calls back, or raises 'error' when there is no callback to tell.
  const tell = (cb: Cb, err?: any, x?: any) => cb ? cb(err, x) : err && emit('error', err);

  const fail = (cb: Cb, msg: string) => tell(cb, error(msg));

  const qosError = (qos: any) => qos !== (qos & 3) || qos > maxQos ? 'qos must be 0..' + maxQos : '';

  // Espruino throws on clearTimeout(undefined), and reuses ids: never clear a stale one.
  const clr = () => {
    if (timer) clearInterval(timer);
    timer = 0;
  };

  const write = (p: string) => {
    tx = 1;
    try {
      sock.write(p);
    } catch (e) {
      // "This socket is closed" before its close event reached us.
      drop(e);
    }
  };

  // The link is gone (or must go): tidy up, tell, maybe schedule a reconnect.
  const drop = (err?: any) => {
    const s = sock;
    const was = up;
    if (!s) return;
    sock = up = sent = 0;
    clr();
    try {
      s.end();
    } catch (e) {}
    if (err) emit('error', err);
    if (was) emit('offline');
    emit('close');
    if (FEATURE_RECONNECT && !ended && o.reconnect !== false) {
      timer = setTimeout(() => {
        timer = 0;
        emit('reconnect');
        open();
      }, Math.min(o.maxBackoff || 60000, (o.minBackoff || 1000) * Math.pow(2, tries++)) * (0.5 + Math.random() / 2));
    }
  };

  // Write what the window allows, in queue order. A written PUBLISH keeps its
  // DUP form for a resend [MQTT-4.4.0-1]; QoS 0 leaves the queue once written.
  const flush = () => {
    let e: any[];
    let p: string;
    while (up && sent < q.length && sent < (o.maxInflight || BOARD_MAX_INFLIGHT)) {
      p = (e = q[sent])[1];
      if (e[0]) {
        e[1] = dup(p);
        sent++;
      } else q.splice(sent, 1);
      write(p);
      if (!e[0]) tell(e[2]);
    }
  };

  const enqueue = (e: any[], op: string) => {
    const err = full(q, sent, e[1].length, o.outboxCount || BOARD_OUTBOX_COUNT, o.outboxBytes || BOARD_OUTBOX_BYTES);
    if (err) return fail(e[2], op + err);
    q.push(e);
    flush();
  };

  const unsub = (filter: string) => {
    subs = subs.filter((s) => s[0] != filter);
  };

  const onPacket = (h: number, b: string) => {
    const t = h >> 4;
    const id = u16at(b, 0);
    let e: any;
    let i = 0;
    let f: any;
    let err: any;
    let r: number;
    rx = 1;
    if (t == T_CONNACK) {
      r = b.charCodeAt(1);
      if (r) return drop(error('connack: ' + r + ' ' + CONNACK_TEXT.split(',')[r]));
      up = 1;
      tries = 0;
      if (!(r = b.charCodeAt(0))) {
        // No session on the broker: its QoS 2 state is gone; restore subscriptions.
        rel = [];
        if (subs.length) q.unshift([lastId = nextId(q, lastId), subscribe(SUBSCRIBE, lastId, subs), 0, subs.slice()]);
      }
      flush();
      return emit('connect', r > 0);
    }
    if (t == T_PUBLISH) {
      f = publishFields(h, b);
      r = h >> 1 & 3;
      if (r) write(ack(r > 1 ? PUBREC : PUBACK, f[1]));
      // Exactly once: a redelivered id before PUBREL is acknowledged again, not delivered.
      if (FEATURE_QOS2 && r > 1 && !remember(rel, f[1])) return;
      e = BOARD_UNICODE ? fromUtf8(f[0]) : f[0];
      b = f[2];
      f = { qos: r, retain: (h & 1) > 0, dup: (h & 8) > 0 };
      emit('message', e, b, f);
      return subs.forEach((s) => s[2] && topicMatches(s[0], e) && s[2](e, b, f));
    }
    if (FEATURE_QOS2 && t == T_PUBREL) {
      rel = release(rel, id);
      return write(ack(PUBCOMP, id));
    }
    // An acknowledgement: find its entry among those written.
    while (i < sent && (q[i][0] != id || ackType(q[i][1]) != t)) i++;
    if (i == sent) return;
    e = q[i];
    if (FEATURE_QOS2 && t == T_PUBREC) return write(e[1] = ack(PUBREL, id));
    q.splice(i, 1);
    sent--;
    if (t == T_SUBACK) {
      f = e[3].map((s: any, j: number) => {
        r = b.charCodeAt(j + 2);
        unsub(s[0]);
        // SUBACK 0x80: that filter failed; the others stand.
        if (r < 128) subs.push(s);
        else err = err || error('subscribe: ' + s[0] + ' refused by broker');
        return r;
      });
    }
    tell(e[2], err, f);
    flush();
  };

  const onParseError = (msg: string, fatal: boolean) => {
    if (fatal) return drop(error(msg));
    c.refused++;
    emit('error', error(msg));
  };

  const open = () => {
    let s: any;
    const push = parser(o.maxPacket || BOARD_MAX_PACKET, (h, b) => s == sock && onPacket(h, b), onParseError);
    miss = 0;
    try {
      sock = s = o.net.connect(o, () => {
        if (s != sock) return;
        write(connect(o, k));
        if (k) timer = setInterval(() => {
          // Silent for a whole tick after a probe: the link is dead.
          if (rx) miss = 0;
          else if (miss++) return drop(error('keepalive timeout'));
          if (up && (!tx || miss)) write(chr(PINGREQ, 0));
          tx = rx = 0;
        }, k * 500);
      });
      s.on('data', (d: string) => s == sock && push(d));
      s.on('close', () => s == sock && drop());
      s.on('error', (e: any) => s == sock && drop(e));
    } catch (e) {
      // Linux Espruino throws at once on a refused connection.
      sock = {};
      drop(e);
    }
  };

  const subOrUnsub = (h: number, filters: any, opts: any, cb: Cb, handler: any) => {
    const l: any[][] = [];
    const op = (h == SUBSCRIBE ? '' : 'un') + 'subscribe: ';
    let x: any;
    let err: any;
    if (typeof filters == 'string') filters = [filters];
    for (x in filters) {
      l.push(x = filters instanceof Array ? [filters[x], (opts && opts.qos) || 0, handler] : [x, filters[x], handler]);
      err = err || checkFilter(x[0]) || qosError(x[1]);
    }
    if (err) return fail(cb, op + err);
    if (h == UNSUBSCRIBE) l.forEach((s) => unsub(s[0]));
    enqueue([lastId = nextId(q, lastId), subscribe(h, lastId, l), cb, l], op);
  };

  const c = {
    /** Inbound packets refused for being over maxPacket. */
    refused: 0,
    on(n: string, f: any) {
      (ev[n] = ev[n] || []).push(f);
    },
    connect() {
      ended = 0;
      if (!sock) {
        clr();
        open();
      }
    },
    publish(topic: string, payload: any, opts: any, cb: Cb) {
      const qos = (opts = opts || {}).qos || 0;
      const err = checkTopic(topic) || qosError(qos);
      if (err) return fail(cb, 'publish: ' + err);
      enqueue([qos && (lastId = nextId(q, lastId)), publish(topic, payload == null ? '' : '' + payload, qos, opts.retain, lastId), cb], 'publish: ');
    },
    subscribe(filters: any, opts: any, cb: Cb, handler: any) {
      subOrUnsub(SUBSCRIBE, filters, opts, cb, handler);
    },
    unsubscribe(filters: any, cb: Cb) {
      subOrUnsub(UNSUBSCRIBE, filters, 0, cb, 0);
    },
    end(cb: any) {
      ended = 1;
      clr();
      // DISCONNECT makes the broker discard the Will [MQTT-3.14.4-3].
      if (up) write(chr(DISCONNECT, 0));
      drop();
      if (cb) cb();
    },
  };
  return c;
};
