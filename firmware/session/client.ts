// The client state machine: connect, keepalive, reconnect with backoff, the
// ordered send queue (window + outbox), subscriptions and dispatch.
// RAM on the board: Espruino stores every function's code text, and a function
// expression evaluated inside another function stores its own copy each time it
// is evaluated. So every function here is top level (created once, at load), the
// state is module-level variables (terser shortens them), and nothing creates a
// closure at run time: socket handlers are shared functions that tell their socket
// by `this` (Espruino and Node call listeners with this = the emitter), timers are
// shared functions. One client per loaded module, as a board has one.
import { at, chr, u16, u16at } from '../codec/bytes';
import { CONNACK_TEXT, DISCONNECT, PINGREQ, PUBACK, PUBCOMP, PUBREC, PUBREL, SUBSCRIBE, T_CONNACK, T_PUBLISH, T_PUBREC, T_PUBREL, T_SUBACK, UNSUBSCRIBE } from '../codec/constants';
import { connect, dup, packet, publish, subscribe } from '../codec/encode';
import { feed, reset } from '../codec/decode';
import { fromUtf8 } from '../codec/utf8';
import { check, topicMatches } from '../topic';
import { ackType, nextId } from './inflight';
import { full } from './outbox';

type Cb = ((err: any, x?: any) => void) | undefined | 0;

// Options; the public object. Link: the socket (falsy when down), CONNACK accepted,
// end() called, reconnect attempts. Flags start undefined (falsy): no initialiser
// bytes. One timer: the keepalive interval while a socket exists, the reconnect
// timeout while none does. Keepalive: wrote / heard something since the last tick;
// silent ticks (reset in open()). q[0..sent) of the send queue is written on this link.
let o: any;
let sock: any;
let up: any;
let ended: any;
let timer: any;
let tries = 0;
let tx: any;
let rx: any;
let miss: any;
let sent = 0;
let lastId = 0;
// Keepalive in seconds. Inbound QoS 2 ids awaiting PUBREL; acknowledged subscriptions
// [filter, qos, handler]; send queue of [id, packet, callback, extra]; event listeners.
let k: number;
let rel: number[] = [];
let subs: any[][] = [];
let q: any[][] = [];
const ev: any = {};
const maxQos = FEATURE_QOS2 ? 2 : 1;

// Error(msg) without `new` makes an Error on Espruino too.
const error: (msg: string) => Error = Error;

const emit = (n: string, a?: any, b?: any, d?: any) => (ev[n] || []).forEach((f: any) => f(a, b, d));

// Calls back, or raises 'error' when there is no callback to tell.
const tell = (cb: Cb, err?: any, x?: any) => cb ? cb(err, x) : err && emit('error', err);

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
  // Also stops the parser in the middle of a chunk: nothing more from this link.
  reset();
  clr();
  s.end();
  if (err) emit('error', err);
  if (was) emit('offline');
  emit('close');
  if (FEATURE_RECONNECT && !ended && o.reconnect !== false) {
    timer = setTimeout(open, Math.min(o.maxBackoff || 60000, (o.minBackoff || 1000) * Math.pow(2, tries++)) * (0.5 + Math.random() / 2), 1);
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
  if (err) return tell(e[2], error(op + err));
  q.push(e);
  flush();
};

const unsub = (filter: string) => (subs = subs.filter((s) => s[0] != filter));

// A new session (clean session, or the broker kept none) [MQTT-3.1.2-6]: the old
// session's state is gone on both sides. A PUBLISH not yet acknowledged goes out
// again (with DUP: the broker may have it already), so at least once still holds.
// A QoS 2 message already at PUBREL was received by the broker, which discarded
// its state: whether it was delivered is unknown, so its callback gets an error
// instead of a PUBREL the new session has no use for.
const renew = () => {
  q = q.filter((e) => e[1][0] != 'b' || void tell(e[2], error('publish: session lost')));
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
  // From the parser: 0, a packet over maxPacket (refused, counted); 1, a malformed one (the link must go).
  if (h < 2) return h ? drop(error(b)) : (c.refused++, emit('error', error(b)));
  if (t == T_CONNACK) {
    // id holds the two CONNACK bytes: session present, return code.
    if ((r = id & 255)) return drop(error('connack: ' + r + ' ' + CONNACK_TEXT.split(',')[r]));
    up = 1;
    tries = 0;
    if (!(r = id >> 8)) {
      // No session on the broker: its QoS 2 state is gone; restore subscriptions.
      rel = [];
      renew();
      if (subs.length) q.unshift([lastId = nextId(q, lastId), subscribe(SUBSCRIBE, lastId, subs), 0, subs.slice()]);
    }
    flush();
    return emit('connect', r > 0);
  }
  if (t == T_PUBLISH) {
    // Topic (id is its length), packet id if QoS > 0, payload: the fields of publishFields().
    r = h >> 1 & 3;
    e = b.substr(2, id);
    f = r && u16at(b, id + 2);
    b = b.substr(id + (r ? 4 : 2));
    if (r) write(packet(r > 1 ? PUBREC : PUBACK, u16(f)));
    // Exactly once [MQTT-4.3.3-2]: the id is remembered until PUBREL; a redelivery before
    // that is acknowledged again, not delivered. At most 64 ids (brokers keep far fewer in
    // flight): a peer that never sends PUBREL cannot exhaust memory; the oldest is forgotten.
    if (FEATURE_QOS2 && r > 1) {
      if (~rel.indexOf(f)) return;
      if (rel.push(f) > 64) rel.shift();
    }
    if (BOARD_UNICODE) e = fromUtf8(e);
    f = { qos: r, retain: (h & 1) > 0, dup: (h & 8) > 0 };
    emit('message', e, b, f);
    return subs.forEach((s) => s[2] && topicMatches(s[0], e) && s[2](e, b, f));
  }
  if (FEATURE_QOS2 && t == T_PUBREL) {
    rel = rel.filter((x) => x != id);
    return write(packet(PUBCOMP, u16(id)));
  }
  // An acknowledgement: find its entry among those written.
  while (i < sent && (q[i][0] != id || ackType(q[i][1]) != t)) i++;
  if (i == sent) return;
  e = q[i];
  if (FEATURE_QOS2 && t == T_PUBREC) return write(e[1] = packet(PUBREL, u16(id)));
  q.splice(i, 1);
  sent--;
  if (t == T_SUBACK) {
    f = e[3].map((s: any, j: number) => {
      r = at(b, j + 2);
      unsub(s[0]);
      // SUBACK 0x80: that filter failed; the others stand.
      if (r < 128) subs.push(s);
      else err = err || error('subscribe: ' + s[0] + ' refused by broker');
      return r;
    });
  }
  // The window moves on before the callback runs: a throwing callback cannot stall it.
  flush();
  tell(e[2], err, f);
};


// Keepalive tick. Silent for a whole tick after a probe: the link is dead.
const tick = () => {
  if (rx) miss = 0;
  else if (miss++) return drop(error('keepalive timeout'));
  if (up && (!tx || miss)) write(chr(PINGREQ, 0));
  tx = rx = 0;
};

// The one socket listener, shared by every link, for connect (net.connect's callback,
// called with the socket), data (a string), close (a boolean) and error (an object
// with a message). `this` is the socket: a stale one is ignored.
function onSocket(this: any, d: any) {
  if (this != sock) return;
  if (d + '' === d) return feed(d, o.maxPacket || BOARD_MAX_PACKET, onPacket);
  if (d != sock) return drop(d && d.message && d);
  // Connected: CONNECT, then the keepalive tick.
  write(connect(o, k));
  if (k) timer = setInterval(tick, k * 500);
}

// Opens a link; `again` (from the reconnect timer, which has fired) also tells.
const open = (again?: any) => {
  let x: any;
  if (again) {
    timer = 0;
    emit('reconnect');
  }
  miss = 0;
  try {
    sock = o.net.connect(o, onSocket);
    for (x of ['data', 'close', 'error']) sock.on(x, onSocket);
  } catch (e) {
    // Linux Espruino throws at once on a refused connection.
    sock = { end: clr };
    drop(e);
  }
};

// subscribe(filters, opts, cb, handler), and UNSUBSCRIBE when `un` is given.
const subOrUnsub = (filters: any, opts: any, cb: Cb, handler: any, un?: number) => {
  const l: any[][] = [];
  const op = (un ? 'un' : '') + 'subscribe: ';
  let x: any;
  let err: any;
  if (filters + '' === filters) filters = [filters];
  for (x in filters) {
    l.push(x = filters instanceof Array ? [filters[x], (opts && opts.qos) || 0, handler] : [x, filters[x], handler]);
    err = err || check(x[0], 'filter', 1) || qosError(x[1]);
  }
  if (err) return tell(cb, error(op + err));
  if (un) l.forEach((s) => unsub(s[0]));
  enqueue([lastId = nextId(q, lastId), subscribe(un || SUBSCRIBE, lastId, l), cb, l], op);
};

// The public object: created once, at load; its methods are shared, not per-client closures.
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
    const err = check(topic, 'topic') || qosError(qos);
    if (err) return tell(cb, error('publish: ' + err));
    enqueue([qos && (lastId = nextId(q, lastId)), publish(topic, payload == null ? '' : '' + payload, qos, opts.retain, lastId), cb], 'publish: ');
  },
  subscribe: subOrUnsub,
  unsubscribe(filters: any, cb: Cb) {
    subOrUnsub(filters, 0, cb, 0, UNSUBSCRIBE);
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

/**
 * The client. Options are checked here: a bad Will or a password without a user
 * name throws an Error naming the problem (nothing has been sent yet). One client
 * per loaded module: create() it once (require() gives the same module each time).
 */
export const create = (opts: any) => {
  let w = FEATURE_WILL && opts.will;
  if ((w = opts.password != null && opts.username == null ? 'password without username' : w && (w = check(w.topic, 'topic') || qosError(w.qos || 0)) && 'will: ' + w)) throw error(w);
  k = (o = opts).keepalive == null ? 60 : o.keepalive;
  return c;
};
