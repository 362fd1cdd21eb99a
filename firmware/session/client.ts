// The client state machine: connect, keepalive, reconnect with backoff, the
// ordered send queue (window + outbox, see queue.ts), subscriptions and dispatch.
//
// RAM on the board is the design constraint. Every function costs 5 vars plus 1
// per parameter for as long as it exists, even when its code stays in flash (the
// function, its code and scope references, its name), and a function expression
// evaluated inside another function is built again (and on the RAM path its code
// copied) each time it is evaluated. So: every function here is top level and
// created once, at load, and there are as few as the work allows (an encoder or
// a check used once is written where it is used); the state is module-level
// variables (terser shortens them; 1 var each); nothing creates a closure at run
// time: the socket has one shared listener that tells its socket by `this`
// (Espruino and Node call listeners with this = the emitter), which is also the
// keepalive timer's, and the reconnect timer calls connect(). Events are
// Espruino's own (every object has on() and emit(); emit() runs the listeners
// from the idle loop). One client per loaded module, as a board has one link.
import { chr, u16, u16at } from '../codec/bytes';
import { CONNACK_TEXT, CONNECT, DISCONNECT, DUP, PINGREQ, PUBCOMP, PUBLISH, PUBREL, SUBSCRIBE, T_CONNACK, T_PUBLISH, T_PUBREC, T_PUBREL, T_SUBACK, UNSUBSCRIBE } from '../codec/constants';
import { packet, str } from '../codec/encode';
import { feed, head, MALFORMED, payload } from '../codec/decode';
import { fromUtf8 } from '../codec/utf8';
import { check, topicMatches } from '../topic';
import { Callback, CALLBACK, Entry, FILTER, HANDLER, ID, PACKET, QOS, Sub, SUBS } from './queue';

// State. Flags start undefined (falsy): no initialiser bytes.
/** create()'s options. */
let options: any;
/** Keepalive in seconds. */
let keepalive: number;
/** The link's socket; falsy when there is none. */
let socket: any;
/** CONNACK accepted on this link. */
let connected: any;
/** end() was called: stay down. */
let ended: any;
/** One timer: the keepalive interval while a socket exists, the reconnect timeout while none does. */
let timer: any;
/** Reconnect attempts since the last CONNACK: the backoff's exponent. */
let attempts = 0;
/** Keepalive: heard something since the last tick; ticks without hearing anything. */
let heard: any;
let silentTicks: any;
/** queue[0..written) is on the wire on this link. */
let written = 0;
let lastId = 0;
/** Inbound QoS 2 packet ids delivered and not yet released by PUBREL. */
let unreleased: number[] = [];
/** Acknowledged subscriptions. */
let subscriptions: Sub[] = [];
let queue: Entry[] = [];

// Error(msg) without `new` makes an Error on Espruino too.
const error: (msg: string) => Error = Error;

/**
 * Calls back, or raises 'error' when there is no callback to tell. Application code
 * (callbacks, handlers, listeners) runs from the idle loop, never inside the parser:
 * one that throws or ends the client cannot disturb the packets after it, and its
 * exception still shows as Uncaught.
 */
const tell = (cb: Callback, err?: any, result?: any) => cb ? setTimeout(cb, 0, err, result) : err && client.emit('error', err);

/** The next packet id: 1..65535, never 0, never one still queued [MQTT-2.3.1-1] [MQTT-2.3.1-2]. */
const nextId = () => {
  do lastId = lastId % 65535 + 1;
  while (queue.some((e) => e[ID] == lastId));
  return lastId;
};

const send = (p: string) => {
  try {
    socket.write(p);
  } catch (e) {
    // "This socket is closed" before its close event reached us.
    drop(e);
  }
};

/**
 * The link is gone (or must go): tidy up, tell, maybe schedule a reconnect.
 * Without a link it only stops the timer (a reconnect waiting).
 */
const drop = (err?: any) => {
  const s = socket;
  const wasConnected = connected;
  // Espruino throws on clearTimeout(undefined), and reuses ids: never clear a stale one.
  if (timer) clearInterval(timer);
  timer = 0;
  if (!s) return;
  socket = connected = written = 0;
  // Stops the parser, also in the middle of a chunk: nothing more from this link.
  feed();
  s.end();
  tell(0, err);
  if (wasConnected) client.emit('offline');
  client.emit('close');
  if (FEATURE_RECONNECT && !ended && options.reconnect !== false) {
    timer = setTimeout(client.connect, Math.min(options.maxBackoff || 60000, (options.minBackoff || 1000) * Math.pow(2, attempts++)) * (0.5 + Math.random() / 2), 1);
  }
};

/**
 * Queues `entry` (when given), then writes what the window allows, in queue order.
 * The outbox (entries not yet written) is bounded by count and by bytes of encoded
 * packets: a message that does not fit is refused with an error (named for `op`),
 * never dropped silently. A written PUBLISH (first byte below 0x40) keeps its DUP
 * form for a resend [MQTT-3.3.1-1] [MQTT-4.4.0-1]; QoS 0 leaves the queue once written.
 */
const flush = (entry?: Entry, op?: string) => {
  const maxCount = options.outboxCount || BOARD_OUTBOX_COUNT;
  const maxBytes = options.outboxBytes || BOARD_OUTBOX_BYTES;
  let p: string;
  if (entry) {
    if (queue.length - written >= maxCount || queue.slice(written).reduce((n, e) => n + e[PACKET].length, entry[PACKET].length) > maxBytes) {
      return tell(entry[CALLBACK], error(op + 'outbox full (' + maxCount + ' messages, ' + maxBytes + ' bytes)'));
    }
    queue.push(entry);
  }
  while (connected && written < queue.length && written < (options.maxInflight || BOARD_MAX_INFLIGHT)) {
    p = (entry = queue[written])[PACKET];
    if (entry[ID]) {
      entry[PACKET] = p < '@' ? chr(p.charCodeAt(0) | DUP) + p.substr(1) : p;
      written++;
    } else queue.splice(written, 1);
    send(p);
    if (!entry[ID]) tell(entry[CALLBACK]);
  }
};

/**
 * Each packet from the parser: onPacket(first byte), the packet in head and payload
 * (head: the body, but for PUBLISH its topic length, topic and packet id), or
 * onPacket(REFUSED or MALFORMED, message).
 */
const onPacket = (first: number, problem?: string) => {
  const type = first >> 4;
  // The packet id, but for CONNACK its two bytes and for PUBLISH the topic length.
  const id = u16at(head, 0);
  const qos = first >> 1 & 3;
  // CONNACK's return code.
  const code = id & 255;
  let i = 0;
  let answer: number;
  let packetId: number;
  let topic: string;
  let info: any;
  let entry: Entry;
  let err: any;
  let granted: any;
  heard = 1;
  // REFUSED (0): counted and told, the link stays; MALFORMED (1): the link goes.
  if (first <= MALFORMED) return first ? drop(error(problem!)) : (client.refused++, tell(0, error(problem!)));
  if (type == T_CONNACK) {
    // The reason's words cost RAM on the board: the ESP8266 profile reports the code alone (see README.md).
    if (code) return drop(error('connack: ' + code + (FEATURE_CONNACK_TEXT ? ' ' + CONNACK_TEXT.split(',')[code] : '')));
    connected = 1;
    attempts = 0;
    if (!(id >> 8)) {
      // No session on the broker [MQTT-3.1.2-6]: the old session's state is gone on both
      // sides. Inbound QoS 2 ids are forgotten; acknowledged subscriptions are restored.
      // A PUBLISH not yet acknowledged goes out again (with DUP: the broker may have it
      // already), so at least once still holds. A QoS 2 message already at PUBREL was
      // received by the broker, which discarded its state: whether it was delivered is
      // unknown, so its callback gets an error instead of a PUBREL the new session has no use for.
      unreleased = [];
      queue = queue.filter((e) => e[PACKET].charCodeAt(0) != PUBREL || void tell(e[CALLBACK], error('publish: session lost')));
      // (The entry may share the array: a SUBACK filters subscriptions into a new one before it pushes.)
      if (subscriptions.length) queue.unshift([nextId(), packet(SUBSCRIBE, u16(lastId) + subscriptions.map((s) => str(s[FILTER]) + chr(s[QOS])).join('')), 0, subscriptions]);
    }
    flush();
    return client.emit('connect', id > 255);
  }
  if (type == T_PUBLISH) {
    topic = head.substr(2, id);
    packetId = qos && u16at(head, id + 2);
    // PUBACK (0x40) for QoS 1, PUBREC (0x50) for QoS 2.
    if (qos) send(packet(PUBLISH + 16 * qos, u16(packetId)));
    // Exactly once [MQTT-4.3.3-2]: the id is remembered until PUBREL; a redelivery before
    // that is acknowledged again, not delivered. At most 64 ids (brokers keep far fewer in
    // flight): a peer that never sends PUBREL cannot exhaust memory; the oldest is forgotten.
    if (FEATURE_QOS2 && qos > 1) {
      if (~unreleased.indexOf(packetId)) return;
      if (unreleased.push(packetId) > 64) unreleased.shift();
    }
    if (BOARD_UNICODE) topic = fromUtf8(topic);
    info = { qos: qos, retain: (first & 1) > 0, dup: (first & DUP) > 0 };
    client.emit('message', topic, payload, info);
    return subscriptions.forEach((s) => s[HANDLER] && topicMatches(s[FILTER], topic) && setTimeout(s[HANDLER], 0, topic, payload, info));
  }
  if (FEATURE_QOS2 && type == T_PUBREL) {
    unreleased = unreleased.filter((x) => x != id);
    return send(packet(PUBCOMP, u16(id)));
  }
  // An acknowledgement: find the written entry it answers. A packet is answered by the
  // next type (PUBREL -> PUBCOMP, SUBSCRIBE -> SUBACK, UNSUBSCRIBE -> UNSUBACK), but a
  // PUBLISH (first byte below 0x40) by PUBACK at QoS 1 and PUBREC at QoS 2.
  for (; i < written; i++) {
    answer = (entry = queue[i])[PACKET].charCodeAt(0);
    if (entry[ID] == id && (answer < 64 ? 3 + (answer >> 1 & 3) : (answer >> 4) + 1) == type) break;
  }
  if (i == written) return;
  if (FEATURE_QOS2 && type == T_PUBREC) return send(entry![PACKET] = packet(PUBREL, u16(id)));
  queue.splice(i, 1);
  written--;
  // SUBACK or UNSUBACK: each filter's old subscription goes. SUBACK: a filter granted
  // (code below 0x80) comes back with its QoS and handler; 0x80: that filter failed, the
  // others stand. UNSUBACK has no codes: its filters stay gone.
  if (entry![SUBS]) {
    granted = entry![SUBS]!.map((s, j) => {
      const grant = head.charCodeAt(j + 2);
      subscriptions = subscriptions.filter((t) => t[FILTER] != s[FILTER]);
      if (grant < 128) subscriptions.push(s);
      else if (type == T_SUBACK) err = err || error('subscribe: ' + s[FILTER] + ' refused');
      return grant;
    });
  }
  flush();
  tell(entry![CALLBACK], err, type == T_SUBACK ? granted : undefined);
};

/**
 * The link's one listener, shared by every link. The socket calls it for connect
 * (net.connect's callback, with the socket), data (a string), close (a boolean) and
 * error (an object with a message), with `this` the socket: a stale one is ignored.
 * The keepalive interval calls it with nothing, every keepalive/2: a tick.
 */
function onLink(this: any, d?: any) {
  let will: any;
  let flags: number;
  let body: string;
  if (d == null) {
    // A tick. Silent for a whole tick after a probe: the link is dead.
    if (heard) silentTicks = 0;
    else if (silentTicks++) return drop(error('keepalive timeout'));
    // A PINGREQ every tick keeps the link inside keepalive whatever else is sent
    // [MQTT-3.1.2-23] and gets an answer the next tick must hear.
    if (connected) send(chr(PINGREQ, 0));
    return (heard = 0);
  }
  if (this != socket) return;
  if (d + '' === d) return feed(d, options.maxPacket || BOARD_MAX_PACKET, onPacket);
  if (d != socket) return drop(d && d.message && d);
  // Connected: a fresh parser, CONNECT (protocol level 4, 3.1.1), then the keepalive tick.
  feed(0);
  will = FEATURE_WILL && options.will;
  flags = options.clean === false ? 0 : 2;
  body = str(options.clientId || '');
  if (will) {
    flags |= 4 | will.qos << 3 | +!!will.retain << 5;
    // The payload is binary: no UTF-8 step (which str() only does on unicode builds).
    body += str(will.topic) + (BOARD_UNICODE ? u16((will = will.payload || '').length) + will : str(will.payload || ''));
  }
  if (options.username != null) {
    flags |= 128;
    body += str(options.username);
  }
  if (options.password != null) {
    flags |= 64;
    body += str(options.password);
  }
  send(packet(CONNECT, str('MQTT') + chr(4, flags) + u16(keepalive) + body));
  if (keepalive) timer = setInterval(onLink, keepalive * 500);
}

/** subscribe(filters, opts, cb, handler), and UNSUBSCRIBE when `unsubscribe` is given. */
const subscribeOrNot = (filters: any, opts: any, cb: Callback, handler: any, unsubscribe?: number) => {
  const subs: Sub[] = [];
  const op = (unsubscribe ? 'un' : '') + 'subscribe: ';
  let key: any;
  let sub: Sub;
  let err: any;
  if (filters + '' === filters) filters = [filters];
  // An array of filters shares opts.qos; an object maps each filter to its QoS.
  for (key in filters) {
    subs.push(sub = filters instanceof Array ? [filters[key], (opts && opts.qos) || 0, handler] : [key, filters[key], handler]);
    err = err || check(sub[FILTER], 'filter', sub[QOS]);
  }
  if (err) return tell(cb, error(op + err));
  // SUBSCRIBE: each filter and its QoS; UNSUBSCRIBE: the filters.
  flush([nextId(), packet(unsubscribe || SUBSCRIBE, u16(lastId) + subs.map((s) => str(s[FILTER]) + (unsubscribe ? '' : chr(s[QOS]))).join('')), cb, subs], op);
};

/** The public object: created once, at load; its methods are shared, not per-client closures. */
const client = {
  /** Inbound packets refused for being over maxPacket or over free memory. */
  refused: 0,
  /** Opens a link, unless one is open; the reconnect timer calls it with `again` set. */
  connect(again?: any) {
    ended = 0;
    if (socket) return;
    if (again) {
      timer = 0;
      client.emit('reconnect');
    } else drop();
    silentTicks = 0;
    try {
      socket = options.net.connect(options, onLink);
      socket.on('data', onLink);
      socket.on('close', onLink);
      socket.on('error', onLink);
    } catch (e) {
      // Linux Espruino throws at once on a refused connection; drop() gets a stand-in
      // socket with a harmless end() and tells, then schedules the next attempt.
      socket = { end: error };
      drop(e);
    }
  },
  publish(topic: string, payload: any, opts: any, cb: Callback) {
    const qos = (opts = opts || {}).qos || 0;
    const err = check(topic, 'topic', qos);
    if (err) return tell(cb, error('publish: ' + err));
    // PUBLISH without DUP (flush() sets it once written): topic, packet id for QoS > 0, payload
    // ([payload] joins as '' for null and undefined, else as the payload's text).
    flush([qos && nextId(), packet(PUBLISH | qos << 1 | +!!opts.retain, str(topic) + (qos ? u16(lastId) : '') + [payload]), cb], 'publish: ');
  },
  subscribe: subscribeOrNot,
  unsubscribe(filters: any, cb: Callback) {
    subscribeOrNot(filters, 0, cb, 0, UNSUBSCRIBE);
  },
  end(cb: any) {
    ended = 1;
    // DISCONNECT makes the broker discard the Will [MQTT-3.14.4-3].
    if (connected) send(chr(DISCONNECT, 0));
    drop();
    tell(cb);
  },
} as any;

/**
 * The client. Options are checked here: a bad Will or a password without a user
 * name throws an Error naming the problem (nothing has been sent yet). One client
 * per loaded module: create() it once (require() gives the same module each time).
 */
export const create = (opts: any) => {
  let problem = FEATURE_WILL && opts.will;
  problem = opts.password != null && opts.username == null ? 'password without username'
    : problem && (problem = check(problem.topic, 'topic', problem.qos || 0)) && 'will: ' + problem;
  if (problem) throw error(problem);
  keepalive = (options = opts).keepalive == null ? 60 : options.keepalive;
  return client;
};
