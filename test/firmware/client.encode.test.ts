// Every packet the client writes, byte for byte against mqtt-packet, through the
// minified client bundle on a simulated board. The encoders for CONNECT, PUBLISH,
// its DUP resend and the acks live inside the client (on the board a function
// costs RAM), so this is where they are checked. The socket is an in-board
// stand-in that records writes and lets the test deliver bytes: the encoding is
// the subject here; real sockets are in client.peer and client.mosquitto.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { Board, createBoard } from '../../boards/sim';
import { bundleSource } from './helpers/bundles';
import { bin, binary, gen, id, mqttString, qos, topic } from './helpers/arbitraries';

const RUNS = 150;


/** The linux profile: a unicode build, so topics and ids are encoded to UTF-8 by the client. */
describe('firmware client: the packets it writes, byte for byte against mqtt-packet (minified bundle, simulated board)', function () {
  this.timeout(60000);
  let board: Board;
  const src = bundleSource('linux');

  before(() => {
    board = createBoard({ board: 'linux' });
    board.eval(`
      var wire = [], sock, onConnect;
      // A socket stand-in: records writes; the test fires its events.
      var fakeNet = { connect: function (o, cb) {
        onConnect = cb;
        sock = { write: function (d) { wire.push(d); }, on: function (ev, f) { this['on_' + ev] = f; }, end: function () {} };
        return sock;
      } };
      function fresh(opts) {
        Modules.removeCached("mqtt-client");
        Modules.addCached("mqtt-client", SRC);
        wire = [];
        opts.net = fakeNet;
        c = require("mqtt-client").create(opts);
        c.on("error", function () {});
        return c;
      }
      function opened() { onConnect.call(sock, sock); }
      function deliver(s) { sock.on_data.call(sock, s); }
      function taken() { var w = wire; wire = []; return w; }
      var c;
    `);
    (board.context as any).SRC = src;
  });
  after(() => board.destroy());

  // Copied into this realm, so that deepEqual compares contents only.
  const written = (): string[] => Array.from(board.eval('taken()') as string[]);
  /** A client connected with CONNACK (session present 0), its CONNECT taken; wide bounds so nothing queues. */
  const connected = (extra = '') => {
    board.eval(`fresh({ clientId: "enc", keepalive: 0, maxInflight: 65535, outboxCount: 1e6, outboxBytes: 1e9 ${extra} }); c.connect(); opened(); deliver("\\x20\\x02\\x00\\x00");`);
    written();
  };

  it('CONNECT: client id, clean, keepalive, user/password, Will [MQTT-3.1.2-3] [MQTT-3.1.3-1]', () => {
    fc.assert(fc.property(
      fc.record({
        clientId: mqttString(0, 23), clean: fc.boolean(), keepalive: fc.integer({ min: 0, max: 65535 }),
        user: fc.option(fc.record({ username: mqttString(), password: fc.option(mqttString(), { nil: undefined }) }), { nil: undefined }),
        will: fc.option(fc.record({ topic: topic(), payload: binary(100), qos, retain: fc.boolean() }), { nil: undefined }),
      }).filter((r) => r.clean || r.clientId !== ''), // a persistent session needs an id [MQTT-3.1.3-7]
      (r) => {
        const opts: any = { clientId: r.clientId, clean: r.clean, keepalive: r.keepalive };
        const mp: any = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: r.clientId, clean: r.clean, keepalive: r.keepalive };
        if (r.user) {
          opts.username = mp.username = r.user.username;
          if (r.user.password !== undefined) opts.password = mp.password = r.user.password;
        }
        if (r.will) {
          opts.will = r.will;
          mp.will = { topic: r.will.topic, payload: bin(r.will.payload), qos: r.will.qos, retain: r.will.retain };
        }
        (board.context as any).OPTS = opts;
        board.eval('fresh(OPTS); c.connect(); opened(); c.end();');
        const w = written();
        assert.equal(w[0], gen(mp));
      }), { numRuns: RUNS });
  });

  it('CONNECT defaults: clean session, keepalive 60, empty client id [MQTT-3.1.3-6]', () => {
    board.eval('fresh({}); c.connect(); opened(); c.end();');
    assert.equal(written()[0], gen({ cmd: 'connect', clientId: '', clean: true, keepalive: 60, protocolId: 'MQTT', protocolVersion: 4 }));
  });

  it('PUBLISH QoS 0/1/2, retain, unicode topic, binary payload; packet ids 1, 2, ... in order [MQTT-2.3.1-1]', () => {
    connected();
    let next = 1;
    fc.assert(fc.property(topic(), binary(400), qos, fc.boolean(), (t, p, q, r) => {
      const mp: any = { cmd: 'publish', topic: t, payload: bin(p), qos: q, retain: r, dup: false };
      if (q) mp.messageId = next++;
      (board.context as any).ARGS = [t, p, q, r];
      board.eval('c.publish(ARGS[0], ARGS[1], { qos: ARGS[2], retain: ARGS[3] })');
      assert.deepEqual(written(), [gen(mp)]);
    }), { numRuns: RUNS });
  });

  it('[MQTT-2.3.1-1] [MQTT-2.3.1-2] packet ids run 1..65535 and wrap to 1, never 0, skipping an id still in flight', () => {
    connected();
    // Id 1 stays unacknowledged; 2..65535 are acknowledged as they go; then two more.
    board.eval(`c.publish("t", "x", { qos: 1 });
      for (var i = 2; i <= 65535; i++) { c.publish("t", "x", { qos: 1 }); deliver("\\x40\\x02" + String.fromCharCode(i >> 8, i & 255)); }
      c.publish("t", "x", { qos: 1 }); c.publish("t", "x", { qos: 1 });`);
    // PUBLISH "t": first byte, length, topic length (2), "t", then the id.
    const ids = written().map((p) => p.charCodeAt(5) << 8 | p.charCodeAt(6));
    assert.equal(ids.length, 65537);
    assert.deepEqual(ids.slice(0, 3), [1, 2, 3]);
    assert.ok(ids.slice(0, 65535).every((id, k) => id === k + 1), 'ids 1..65535 in order');
    assert.deepEqual(ids.slice(65535), [2, 3], 'after 65535: 1 is still in flight, so 2, then 3');
  });

  it('PUBLISH payloads: a number is sent as its text, null and undefined as nothing', () => {
    connected();
    board.eval('c.publish("t", 21.5); c.publish("t", null); c.publish("t")');
    const p = (payload: string) => gen({ cmd: 'publish', topic: 't', payload: bin(payload), qos: 0, retain: false, dup: false });
    assert.deepEqual(written(), [p('21.5'), p(''), p('')]);
  });

  it('PUBLISH with 1-, 2-, 3- and 4-byte remaining lengths', () => {
    connected();
    for (const n of [0, 127, 128, 16383, 16384, 2097151, 2097152]) {
      const p = 'x'.repeat(Math.max(0, n - 3));
      (board.context as any).P = p;
      board.eval('c.publish("t", P)');
      assert.deepEqual(written(), [gen({ cmd: 'publish', topic: 't', payload: bin(p), qos: 0, retain: false, dup: false })], `length ${n}`);
    }
  });

  it('[MQTT-3.3.1-1] a QoS 1/2 PUBLISH resent on a kept session carries DUP, the same id and bytes; a PUBREL is resent without DUP [MQTT-4.4.0-1]', () => {
    connected(', minBackoff: 1, maxBackoff: 1');
    board.eval('c.publish("a/b", "one", { qos: 1 }); c.publish("a/c", "two", { qos: 2, retain: true }); c.publish("a/d", "three", { qos: 2 })');
    const first = written();
    // PUBREC for the third: the client answers with PUBREL.
    board.eval('deliver("\\x50\\x02\\x00\\x03")');
    assert.deepEqual(written(), [gen({ cmd: 'pubrel', messageId: 3 })]);
    // The link closes; the reconnect timer opens a new one; CONNACK with session present.
    board.eval('sock.on_close.call(sock, false)');
    board.eval('c.connect(1); opened(); deliver("\\x20\\x02\\x01\\x00")');
    const again = written();
    assert.equal(again[0].charCodeAt(0) >> 4, 1, 'CONNECT first');
    assert.deepEqual(again.slice(1), [
      gen({ cmd: 'publish', topic: 'a/b', payload: bin('one'), qos: 1, messageId: 1, retain: false, dup: true }),
      gen({ cmd: 'publish', topic: 'a/c', payload: bin('two'), qos: 2, messageId: 2, retain: true, dup: true }),
      gen({ cmd: 'pubrel', messageId: 3 }),
    ]);
    assert.deepEqual(first.map((p) => p.charCodeAt(0) & 8), [0, 0, 0], 'first sent without DUP');
  });

  it('PUBACK, PUBREC, PUBCOMP for inbound QoS 1, QoS 2 and PUBREL; PUBREL (flags 0010) after PUBREC [MQTT-3.6.1-1]', () => {
    connected();
    let out = 0;
    fc.assert(fc.property(id, (i) => {
      const pub = (q: number) => gen({ cmd: 'publish', topic: 't', payload: bin('x'), qos: q, messageId: i, retain: false, dup: false });
      (board.context as any).IN = [pub(1), pub(2), gen({ cmd: 'pubrel', messageId: i })];
      board.eval('deliver(IN[0]); deliver(IN[1]); deliver(IN[2])');
      assert.deepEqual(written(), [gen({ cmd: 'puback', messageId: i }), gen({ cmd: 'pubrec', messageId: i }), gen({ cmd: 'pubcomp', messageId: i })]);
      board.eval('c.publish("q2", "y", { qos: 2 })');
      out++;
      written();
      (board.context as any).IN = gen({ cmd: 'pubrec', messageId: out });
      board.eval('deliver(IN)');
      assert.deepEqual(written(), [gen({ cmd: 'pubrel', messageId: out })]);
    }), { numRuns: 60 });
  });

  it('SUBSCRIBE with per-filter QoS and UNSUBSCRIBE [MQTT-3.8.1-1] [MQTT-3.10.1-1]', () => {
    connected();
    board.eval('c.subscribe({ "a/+": 0, "b/#": 1, "c": 2 }); c.unsubscribe(["a/+", "c"])');
    assert.deepEqual(written(), [
      gen({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/+', qos: 0 }, { topic: 'b/#', qos: 1 }, { topic: 'c', qos: 2 }] }),
      gen({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['a/+', 'c'] }),
    ]);
  });

  it('[MQTT-3.1.2-23] PINGREQ on each keepalive tick (keepalive/2), DISCONNECT on end()', async () => {
    board.eval('fresh({ keepalive: 1 }); c.connect(); opened(); deliver("\\x20\\x02\\x00\\x00");');
    written();
    // A tick every keepalive/2 (0.5 s), each with a PINGREQ.
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(written(), [gen({ cmd: 'pingreq' })]);
    board.eval('c.end()');
    assert.deepEqual(written(), [gen({ cmd: 'disconnect' })]);
  });
});
