// The minified client bundle on a simulated board against a scripted peer
// (helpers/peer.ts), for what a real broker will not do on demand: withheld
// acks, links dropped mid-flow, duplicate QoS 2 deliveries, malformed and
// oversized packets, SUBACK 0x80, CONNACK refusals; and to see exact packets.
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as mqttPacket from 'mqtt-packet';
import { createBoard } from '../../boards/sim';
import { Peer, politeBroker, PeerConn } from './helpers/peer';
import { bundleSource } from './helpers/bundles';
import { clientBoard, ClientBoard, sleep } from './helpers/board';

describe('firmware client vs a scripted peer (minified bundle on the simulated board)', function () {
  let boards: ClientBoard[] = [];
  let peers: Peer[] = [];

  afterEach(async () => {
    for (const b of boards) {
      assert.deepEqual(b.board.errors, [], 'no Uncaught errors on the board');
      b.destroy();
    }
    for (const p of peers) await p.stop();
    boards = [];
    peers = [];
  });

  async function setup(script = politeBroker, extra = '', board = 'esp32', connect = true) {
    const peer = await new Peer(script).start();
    peers.push(peer);
    const b = clientBoard(board, `{ host: "127.0.0.1", port: ${peer.port}, net: require("net"), clientId: "dev", minBackoff: 50, maxBackoff: 200 ${extra ? ', ' + extra : ''} }`);
    boards.push(b);
    if (connect) {
      b.run('c.connect()');
      await b.waitEvents('connect');
    }
    return { peer, b };
  }

  /** Peer script: politeBroker, but `override` first; return true from it to stop the default reply. */
  const scripted = (override: (c: PeerConn, p: any) => boolean | void, sessionPresent = false) => (c: PeerConn, p: any) => {
    if (override(c, p)) return;
    if (p.cmd === 'connect') c.send({ cmd: 'connack', returnCode: 0, sessionPresent });
    else politeBroker(c, p);
  };

  describe('CONNECT', () => {
    it('[MQTT-3.1.2-3] [MQTT-3.1.3-1] carries id, clean flag, keepalive, user name and password', async () => {
      const { peer } = await setup(politeBroker, 'clientId: "dev-7", clean: false, keepalive: 42, username: "user", password: "p\\u0001ss"');
      const [p] = peer.of('connect');
      assert.equal(p.protocolId, 'MQTT');
      assert.equal(p.protocolVersion, 4);
      assert.equal(p.clientId, 'dev-7');
      assert.equal(p.clean, false);
      assert.equal(p.keepalive, 42);
      assert.equal(p.username, 'user');
      assert.equal(Buffer.from(p.password).toString('latin1'), 'p\u0001ss');
      assert.equal(p.will, undefined);
    });

    it('[MQTT-3.1.2-9] [MQTT-3.1.2-14] [MQTT-3.1.2-17] carries the Will: topic, payload, QoS, retain', async () => {
      const { peer } = await setup(politeBroker, 'will: { topic: "dev/status", payload: "gone\\u0000\\u00ff", qos: 2, retain: true }');
      const [p] = peer.of('connect');
      assert.equal(p.will.topic, 'dev/status');
      assert.equal(Buffer.from(p.will.payload).toString('latin1'), 'gone\u0000\u00ff');
      assert.equal(p.will.qos, 2);
      assert.equal(p.will.retain, true);
    });

    it('[MQTT-3.1.2-2] defaults: clean session, keepalive 60, empty client id allowed [MQTT-3.1.3-6]', async () => {
      const { peer } = await setup(politeBroker, 'clientId: ""');
      const [p] = peer.of('connect');
      assert.equal(p.clean, true);
      assert.equal(p.keepalive, 60);
      assert.equal(p.clientId, '');
    });

    const codes: [number, string][] = [
      [1, 'connack: 1 unacceptable protocol version'],
      [2, 'connack: 2 identifier rejected'],
      [3, 'connack: 3 server unavailable'],
      [4, 'connack: 4 bad user name or password'],
      [5, 'connack: 5 not authorized'],
    ];
    for (const [code, text] of codes) {
      it(`[MQTT-3.2.2-5] CONNACK ${code} is a distinct error, no connect event, link closed`, async () => {
        const { peer, b } = await setup((c, p) => { if (p.cmd === 'connect') c.send({ cmd: 'connack', returnCode: code, sessionPresent: false }); }, 'reconnect: false', 'esp32', false);
        b.run('c.connect()');
        await b.waitEvents('close');
        assert.deepEqual(b.events('error'), [['error', text]]);
        assert.equal(b.events('connect').length, 0);
        await peer.until('peer sees the close', () => peer.last.closed);
      });
    }

    it('a refused CONNACK stops the link at once: a PUBLISH after it in the same chunk is neither delivered nor acknowledged', async () => {
      const pub = mqttPacket.generate({ cmd: 'publish', topic: 'late', payload: Buffer.from('x'), qos: 1, messageId: 9, retain: false, dup: false });
      const { peer, b } = await setup((c, p) => {
        if (p.cmd === 'connect') c.raw(Buffer.concat([mqttPacket.generate({ cmd: 'connack', returnCode: 5, sessionPresent: false }), pub]));
      }, 'reconnect: false', 'esp32', false);
      b.run('c.connect()');
      await b.waitEvents('close');
      await sleep(100);
      assert.deepEqual(b.events('error'), [['error', 'connack: 5 not authorized']]);
      assert.deepEqual(b.events('message'), []);
      assert.deepEqual(peer.of('puback'), []);
    });

    /** What create() throws on a board for these options (JS source), or null. */
    function createError(options: string): string | null {
      const board = createBoard({ board: 'esp32' });
      try {
        board.addModule('mqtt-client', bundleSource('esp32'));
        board.eval(`var c = require("mqtt-client").create(${options})`);
        return null;
      } catch (e) {
        return (e as Error).message;
      } finally {
        board.destroy();
      }
    }

    const badOptions: [string, string][] = [
      ['will: { topic: "dev/+/status", payload: "x" }', "will: topic contains wildcard '+'"],
      ['will: { topic: "dev/#" }', "will: topic contains wildcard '#'"],
      ['will: { topic: "" }', 'will: topic is empty'],
      ['will: { payload: "x" }', 'will: topic is empty'],
      ['will: { topic: "a\\u0000b" }', 'will: topic contains U+0000'],
      ['will: { topic: "dev/status", qos: 3 }', 'will: qos must be 0..2'],
      ['will: { topic: "dev/status", qos: "1" }', 'will: qos must be 0..2'],
      ['password: "secret"', 'password without username'],
    ];
    for (const [opt, message] of badOptions) {
      it(`[MQTT-3.1.2-22] [MQTT-3.1.3-10] [MQTT-3.1.2-12] create({ ${opt} }) throws "${message}", nothing is sent`, async () => {
        const peer = await new Peer().start();
        peers.push(peer);
        const err = createError(`{ host: "127.0.0.1", port: ${peer.port}, net: require("net"), clientId: "dev", ${opt} }`);
        assert.match(String(err), new RegExp('^Error: ' + message.replace(/[+#()\\]/g, '\\$&') + '$'));
        await sleep(100);
        assert.equal(peer.conns.length, 0);
      });
    }

    it('a valid Will at QoS 0..2 and a user name without a password are accepted', () => {
      for (const q of [0, 1, 2]) assert.equal(createError(`{ net: require("net"), will: { topic: "a/b", qos: ${q} } }`), null);
      assert.equal(createError('{ net: require("net"), username: "u" }'), null);
      assert.equal(createError('{ net: require("net"), username: "u", password: "" }'), null);
    });

    it('session present is reported from CONNACK [MQTT-3.2.2-2]', async () => {
      const { b } = await setup(scripted(() => false, true), 'clean: false');
      assert.deepEqual(b.events('connect'), [['connect', true]]);
    });
  });

  describe('QoS flows', () => {
    it('[MQTT-4.3.3-2] a duplicate QoS 2 PUBLISH before PUBREL is acknowledged again but delivered once; after PUBREL the id is new', async () => {
      const { peer, b } = await setup();
      const c = peer.last;
      const pub = (dup: boolean) => c.send({ cmd: 'publish', topic: 'x/y', payload: Buffer.from('once'), qos: 2, messageId: 9, dup, retain: false });
      pub(false);
      await peer.until('first PUBREC', () => peer.of('pubrec').length === 1);
      pub(true);
      await peer.until('second PUBREC', () => peer.of('pubrec').length === 2);
      assert.deepEqual(peer.of('pubrec').map((p) => p.messageId), [9, 9]);
      c.send({ cmd: 'pubrel', messageId: 9 });
      await peer.until('PUBCOMP', () => peer.of('pubcomp').length === 1);
      assert.equal(peer.of('pubcomp')[0].messageId, 9);
      assert.equal(b.events('message').length, 1);
      assert.deepEqual(b.events('message')[0], ['message', 'x/y', 'once', { qos: 2, retain: false, dup: false }]);
      // The flow is complete: the same id now carries a new message.
      pub(false);
      await b.waitEvents('message', 2);
    });

    it('[MQTT-4.3.3-2] a link dropped after PUBREC: the resent PUBLISH (DUP) is not delivered again, PUBREL completes it', async () => {
      const { peer, b } = await setup(scripted((c, p) => {
        if (p.cmd === 'pubrec' && c.index === 1) { c.drop(); return true; }
      }, true), 'clean: false');
      peer.last.send({ cmd: 'publish', topic: 'q2', payload: Buffer.from('m'), qos: 2, messageId: 300, dup: false, retain: false });
      await b.waitEvents('connect', 2);
      const c2 = peer.last;
      c2.send({ cmd: 'publish', topic: 'q2', payload: Buffer.from('m'), qos: 2, messageId: 300, dup: true, retain: false });
      await peer.until('PUBREC on the new link', () => c2.packets.some((p) => p.cmd === 'pubrec'));
      c2.send({ cmd: 'pubrel', messageId: 300 });
      await peer.until('PUBCOMP', () => c2.packets.some((p) => p.cmd === 'pubcomp' && p.messageId === 300));
      assert.equal(b.events('message').length, 1);
    });

    it('a peer that never sends PUBREL cannot grow memory without bound: 64 unreleased ids are kept, the oldest forgotten', async () => {
      const { peer, b } = await setup();
      const pub = (id: number) => peer.last.send({ cmd: 'publish', topic: 'flood', payload: Buffer.from(String(id)), qos: 2, messageId: id, dup: false, retain: false });
      for (let id = 1; id <= 70; id++) pub(id);
      await b.waitEvents('message', 70);
      pub(70); // still remembered: not delivered again
      pub(1); // forgotten (oldest past 64): delivered again
      await peer.until('72 PUBREC', () => peer.of('pubrec').length === 72);
      await sleep(100);
      assert.deepEqual(b.events('message').slice(70).map((m) => m[2]), ['1']);
    });

    it('inbound QoS 1 gets PUBACK with its id [MQTT-4.3.2-2]', async () => {
      const { peer, b } = await setup();
      peer.last.send({ cmd: 'publish', topic: 'a', payload: Buffer.from('1'), qos: 1, messageId: 77, dup: false, retain: true });
      await peer.until('PUBACK', () => peer.of('puback').length);
      assert.equal(peer.of('puback')[0].messageId, 77);
      assert.deepEqual(b.events('message')[0], ['message', 'a', '1', { qos: 1, retain: true, dup: false }]);
    });

    it('[MQTT-4.4.0-1] [MQTT-3.3.1-1] persistent session: unacknowledged PUBLISHes resent in order with DUP and their ids, PUBREL resent; callbacks after the acks', async () => {
      // First link: no PUBACK, PUBREC for the QoS 2 but no PUBCOMP; then the link drops.
      const { peer, b } = await setup(scripted((c, p) => {
        if (c.index === 1 && (p.cmd === 'publish' || p.cmd === 'pubrel')) {
          if (p.cmd === 'publish' && p.qos === 2) c.send({ cmd: 'pubrec', messageId: p.messageId });
          return true;
        }
      }, true), 'clean: false');
      b.run('c.publish("t/1", "a", { qos: 1 }, cb("p1")); c.publish("t/2", "b", { qos: 2 }, cb("p2")); c.publish("t/3", "c", { qos: 1 }, cb("p3"));');
      await peer.until('PUBREL on link 1', () => peer.conns[0].packets.some((p) => p.cmd === 'pubrel'));
      const first = peer.conns[0].packets.filter((p) => p.cmd === 'publish');
      assert.deepEqual(first.map((p) => [p.topic, p.qos, p.dup]), [['t/1', 1, false], ['t/2', 2, false], ['t/3', 1, false]]);
      const ids = first.map((p) => p.messageId);
      assert.equal(new Set(ids).size, 3);
      assert.ok(ids.every((i) => i > 0 && i <= 65535), 'ids in 1..65535 [MQTT-2.3.1-1]');
      assert.equal(b.events('p1').length + b.events('p2').length + b.events('p3').length, 0, 'no callback before the ack');
      peer.conns[0].drop();
      await b.waitEvents('connect', 2);
      await b.waitEvents('p3');
      const again = peer.conns[1].packets.filter((p) => p.cmd !== 'connect' && p.cmd !== 'pingreq');
      assert.deepEqual(again.map((p) => [p.cmd, p.topic ?? undefined, p.dup, p.messageId]), [
        ['publish', 't/1', true, ids[0]],
        ['pubrel', undefined, false, ids[1]],
        ['publish', 't/3', true, ids[2]],
      ]);
      assert.deepEqual([b.events('p1'), b.events('p2'), b.events('p3')], [[['p1']], [['p2']], [['p3']]]);
    });

    it('[MQTT-3.1.2-6] clean session: after a reconnect the old session is gone; unacknowledged PUBLISHes go out again (DUP, may be a redelivery), a PUBREL of the lost session is not sent, its callback fails', async () => {
      // Link 1 acknowledges nothing but the QoS 2 PUBREC; the PUBREL gets no PUBCOMP.
      const { peer, b } = await setup(scripted((c, p) => {
        if (c.index === 1 && (p.cmd === 'publish' || p.cmd === 'pubrel')) {
          if (p.cmd === 'publish' && p.topic === 't/2') c.send({ cmd: 'pubrec', messageId: p.messageId });
          return true;
        }
      }));
      b.run('c.publish("t/1", "a", { qos: 1 }, cb("p1")); c.publish("t/2", "b", { qos: 2 }, cb("p2")); c.publish("t/3", "c", { qos: 2 }, cb("p3"));');
      await peer.until('PUBREL on link 1', () => peer.conns[0].packets.some((p) => p.cmd === 'pubrel'));
      const ids = peer.conns[0].packets.filter((p) => p.cmd === 'publish').map((p) => p.messageId);
      peer.conns[0].drop();
      await b.waitEvents('connect', 2);
      assert.deepEqual(b.events('connect')[1], ['connect', false]);
      await b.waitEvents('p3');
      await b.waitEvents('p1');
      const again = peer.conns[1].packets.filter((p) => p.cmd !== 'connect' && p.cmd !== 'pingreq');
      assert.deepEqual(again.map((p) => [p.cmd, p.topic ?? undefined, p.dup, p.messageId]), [
        ['publish', 't/1', true, ids[0]],
        ['publish', 't/3', true, ids[2]],
        ['pubrel', undefined, false, ids[2]],
      ]);
      assert.deepEqual(b.events('p2'), [['p2', 'publish: session lost']]);
      assert.deepEqual([b.events('p1'), b.events('p3')], [[['p1']], [['p3']]]);
    });

    it('[MQTT-4.4.0-1] persistent session the broker lost (session present 0): handled like a clean one; without a callback the lost PUBREL is an error event', async () => {
      const { peer, b } = await setup(scripted((c, p) => {
        if (c.index === 1 && p.cmd === 'pubrel') return true;
      }), 'clean: false');
      b.run('c.publish("t/2", "b", { qos: 2 })');
      await peer.until('PUBREL on link 1', () => peer.conns[0].packets.some((p) => p.cmd === 'pubrel'));
      peer.conns[0].drop();
      await b.waitEvents('connect', 2);
      await sleep(200);
      assert.deepEqual(b.events('error').filter((e) => e[1] === 'publish: session lost').length, 1);
      assert.equal(peer.conns[1].packets.filter((p) => p.cmd === 'pubrel' || p.cmd === 'publish').length, 0);
    });

    it('a QoS 1 PUBLISH never acknowledged gets no callback and is not lost: resent on the next link', async () => {
      const { peer, b } = await setup(scripted((c, p) => c.index === 1 && p.cmd === 'publish'));
      b.run('c.publish("x", "y", { qos: 1 }, cb("p"))');
      await peer.until('PUBLISH', () => peer.of('publish').length === 1);
      await sleep(300);
      assert.equal(b.events('p').length, 0);
      peer.last.drop();
      await b.waitEvents('p');
      assert.deepEqual(peer.of('publish').map((p) => p.dup), [false, true]);
    });

    it('in-flight window: at most maxInflight unacknowledged, the rest waits in order; ids distinct and never 0 [MQTT-2.3.1-2]', async () => {
      const held: any[] = [];
      const { peer, b } = await setup(scripted((_c, p) => { if (p.cmd === 'publish') { held.push(p); return true; } }), 'maxInflight: 2');
      b.run('for (var i = 0; i < 5; i++) c.publish("w/" + i, "" + i, { qos: 1 }, cb("p" + i));');
      await peer.until('two PUBLISH', () => held.length === 2);
      await sleep(200);
      assert.equal(held.length, 2, 'window of 2');
      const conn = peer.last;
      for (let k = 0; k < 5; k++) {
        await peer.until(`PUBLISH #${k + 1}`, () => held.length > k);
        conn.send({ cmd: 'puback', messageId: held[k].messageId });
      }
      await b.waitEvents('p4');
      assert.deepEqual(held.map((p) => p.topic), ['w/0', 'w/1', 'w/2', 'w/3', 'w/4']);
      assert.ok(held.every((p) => p.messageId > 0));
      assert.equal(new Set(held.slice(0, 2).map((p) => p.messageId)).size, 2);
    });
  });

  describe('handlers that throw', () => {
    it('an exception in a message handler does not hold back the rest of its chunk; it still surfaces as Uncaught', async () => {
      const { peer, b } = await setup();
      b.run(`var seen = [];
        c.subscribe("h/#", { qos: 1 }, cb("sub"), function (t) { seen.push(t); if (t == "h/1") throw new Error("handler failed"); });`);
      await b.waitEvents('sub');
      // Three PUBLISHes in one TCP write: they arrive in one socket chunk.
      const gen = (topic: string, id: number) => mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId: id, retain: false, dup: false }, { protocolVersion: 4 });
      peer.last.raw(Buffer.concat([gen('h/1', 11), gen('h/2', 12), gen('h/3', 13)]));
      await b.waitEvents('message', 3);
      await b.settled(); // handlers run from timers
      assert.deepEqual(JSON.parse(b.run('JSON.stringify(seen)')), ['h/1', 'h/2', 'h/3']);
      await peer.until('three PUBACKs', () => peer.of('puback').length === 3);
      await b.until('the Uncaught error', () => b.board.errors.length);
      assert.deepEqual(b.board.errors, ['Uncaught Error: handler failed']);
      b.board.errors.length = 0;
    });

    it('an exception in a publish callback does not stall the window: the next queued message still goes out', async () => {
      const { peer, b } = await setup(politeBroker, 'maxInflight: 1');
      b.run('c.publish("w/1", "1", { qos: 1 }, function () { throw new Error("callback failed"); }); c.publish("w/2", "2", { qos: 1 }, cb("p2"));');
      await b.waitEvents('p2');
      assert.deepEqual(peer.of('publish').map((p) => p.topic), ['w/1', 'w/2']);
      await b.until('the Uncaught error', () => b.board.errors.length);
      assert.deepEqual(b.board.errors, ['Uncaught Error: callback failed']);
      b.board.errors.length = 0;
    });
  });

  describe('bounded memory', () => {
    it('offline, the outbox takes outboxCount messages, then refuses with a named error; nothing queued is lost', async () => {
      const { peer, b } = await setup(politeBroker, 'outboxCount: 3', 'esp32', false);
      b.run('for (var i = 0; i < 5; i++) c.publish("o/" + i, "m", { qos: i % 2 }, cb("p" + i));');
      assert.deepEqual(await b.waitEvents('p3'), [['p3', 'publish: outbox full (3 messages, 8192 bytes)']]);
      assert.deepEqual(b.events('p4'), [['p4', 'publish: outbox full (3 messages, 8192 bytes)']]);
      b.run('c.connect()');
      await b.waitEvents('p2');
      assert.deepEqual(peer.of('publish').map((p) => p.topic), ['o/0', 'o/1', 'o/2']);
      assert.deepEqual([b.events('p0'), b.events('p1'), b.events('p2')], [[['p0']], [['p1']], [['p2']]]);
    });

    it('the outbox is bounded by bytes too; without a callback the refusal is an error event', async () => {
      const { b } = await setup(politeBroker, 'outboxBytes: 100', 'esp32', false);
      b.run('c.publish("a", new Array(60).join("x"), { qos: 1 }); c.publish("b", new Array(60).join("x"), { qos: 1 });');
      assert.deepEqual(await b.waitEvents('error'), [['error', 'publish: outbox full (32 messages, 100 bytes)']]);
    });

    it('a window full of unacknowledged messages fills the outbox, then publish reports outbox full', async () => {
      const { peer, b } = await setup(scripted((_c, p) => p.cmd === 'publish'), 'maxInflight: 1, outboxCount: 1');
      b.run('c.publish("a", "1", { qos: 1 }, cb("p0")); c.publish("a", "2", { qos: 1 }, cb("p1")); c.publish("a", "3", { qos: 1 }, cb("p2"));');
      await peer.until('PUBLISH', () => peer.of('publish').length === 1);
      assert.deepEqual(b.events('p2'), [['p2', 'publish: outbox full (1 messages, 8192 bytes)']]);
      assert.equal(b.events('p0').length + b.events('p1').length, 0);
    });

    it('an inbound packet over maxPacket is refused and counted, the link stays up and the next packet is delivered', async () => {
      const { peer, b } = await setup(politeBroker, '', 'esp8266');
      const conn = peer.last;
      conn.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(1000, 65), qos: 0, retain: false, dup: false });
      conn.send({ cmd: 'publish', topic: 'small', payload: Buffer.from('ok'), qos: 0, retain: false, dup: false });
      await b.waitEvents('message');
      assert.deepEqual(b.events('message').map((m) => m[1]), ['small']);
      assert.deepEqual(b.events('error'), [['error', 'packet over maxPacket 512: 1008 bytes']]);
      assert.equal(b.run('c.refused'), 1);
      assert.equal(b.events('offline').length, 0);
    });

    // An ESP8266 running the client and the telemetry app from flash has about 1,000 vars free
    // (the real interpreter reports it in the app's telemetry); the simulated esp8266 with the
    // client loaded is close to that; heldVars makes a fuller board.
    const bigBoard = async (heldVars: number) => {
      const peer = await new Peer(politeBroker).start();
      peers.push(peer);
      const b = clientBoard('esp8266', `{ host: "127.0.0.1", port: ${peer.port}, net: require("net"), clientId: "dev", maxPacket: 65536 }`, { heldVars });
      boards.push(b);
      b.board.faults.setChunkSize(97);
      b.run('c.on("message", function (t, p) { log.push(["got", t, p.length, E.CRC32 ? 0 : p.split("").reduce(function (h, ch) { return (h * 31 + ch.charCodeAt(0)) & 0xffff; }, 0)]); }); c.connect()');
      await b.waitEvents('connect');
      return { peer, b };
    };
    const hash = (p: Buffer) => [...p].reduce((h, c) => (h * 31 + c) & 0xffff, 0);
    const big = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 255));

    it('a 3,000-byte message in 97-byte pieces fits an ESP8266 with room to spare: delivered byte-exact (maxPacket 65536)', async () => {
      const { peer, b } = await bigBoard(0);
      const free = b.run('process.memory().free');
      assert.ok(free > 3000 / 8 + 150 && free < 1200, `free ${free} vars: the check must pass, on a board that is not empty`);
      peer.last.send({ cmd: 'publish', topic: 'big', payload: big(3000), qos: 1, messageId: 3, retain: false, dup: false });
      const [got] = await b.waitEvents('got');
      assert.deepEqual(got, ['got', 'big', 3000, hash(big(3000))]);
      await peer.until('PUBACK', () => peer.of('puback').length === 1);
    });

    it('a message that would not leave the memory margin free is refused like one over maxPacket: skipped, counted, an error; the link stays and the next message arrives', async () => {
      const { peer, b } = await bigBoard(0);
      // 20,000 bytes is 2,500 vars on an ESP8266: more than the whole board.
      peer.last.send({ cmd: 'publish', topic: 'huge', payload: big(20000), qos: 1, messageId: 4, retain: false, dup: false });
      peer.last.send({ cmd: 'publish', topic: 'small', payload: Buffer.from('ok'), qos: 1, messageId: 5, retain: false, dup: false });
      const [got] = await b.waitEvents('got');
      assert.deepEqual(got.slice(0, 3), ['got', 'small', 2]);
      assert.deepEqual(b.events('error'), [['error', 'packet over free memory: 20012 bytes']]);
      assert.equal(b.run('c.refused'), 1);
      assert.equal(b.events('offline').length, 0);
      // Not acknowledged: the broker keeps it (and may offer it again when there is room).
      assert.deepEqual(peer.of('puback').map((p) => p.messageId), [5]);
      // The same 3,000 bytes that fit above do not fit a fuller board.
      const fuller = await bigBoard(600);
      fuller.peer.last.send({ cmd: 'publish', topic: 'big', payload: big(3000), qos: 0, retain: false, dup: false });
      await fuller.b.waitEvents('error');
      assert.deepEqual(fuller.b.events('error'), [['error', 'packet over free memory: 3008 bytes']]);
    });
  });

  describe('malformed input from the network', () => {
    const bad: [string, string][] = [
      ['PUBLISH with QoS 3 [MQTT-3.3.1-4]', '\x36\x05\x00\x01t\x00\x01'],
      ['a remaining length over 4 bytes', '\x30\xff\xff\xff\xff\x01'],
      ['PUBREL without its reserved flags [MQTT-3.6.1-1]', '\x60\x02\x00\x01'],
      ['a SUBSCRIBE sent to the client', '\x82\x06\x00\x01\x00\x01a\x00'],
    ];
    for (const [name, bytes] of bad) {
      it(`${name}: error event, link closed, client reconnects`, async () => {
        const { peer, b } = await setup();
        peer.last.raw(bytes);
        await b.waitEvents('connect', 2);
        const errors = b.events('error').map((e) => e[1]);
        assert.ok(errors.some((e: string) => /^malformed /.test(e)), JSON.stringify(errors));
        assert.equal(b.events('offline').length, 1);
        assert.equal(b.events('message').length, 0);
      });
    }
  });

  describe('[MQTT-1.5.3-1] [MQTT-1.5.3-2] received topics: ill-formed UTF-8 or U+0000 closes the link', () => {
    /** A PUBLISH (QoS 0, or 1 with packet id 7) with these topic bytes and payload "x". */
    const publishWith = (topic: number[], qos = 0) =>
      Buffer.from([0x30 | qos << 1, topic.length + (qos ? 5 : 3), 0, topic.length, ...topic, ...(qos ? [0, 7] : []), 0x78]);
    // What every build finds (ESP builds run a smaller check: firmware/codec/decode.ts).
    const everywhere: [string, number[], number?][] = [
      ['a byte that never occurs (FF)', [0x61, 0xff]],
      ['FF, in a QoS 1 PUBLISH (not acknowledged)', [0x61, 0xff], 1],
      ['a sequence cut short (C3, then ASCII)', [0x61, 0xc3, 0x28]],
      ['a sequence cut short by the end of the topic', [0x61, 0xc3]],
      ['a surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
      ['U+0000', [0x61, 0x00, 0x62]],
      ['an overlong U+0000 (C0 80)', [0xc0, 0x80]],
      ['a stray continuation byte (Latin-1 text)', [0x61, 0xb0]],
      ['a continuation byte first', [0x80, 0x61]],
      ['a 5-byte form', [0xf8, 0x88, 0x80, 0x80, 0x80]],
    ];
    // What only the unicode build's full check finds (listed in firmware/README.md).
    const fullOnly: [string, number[]][] = [
      ['a 3-byte sequence cut short after its second byte', [0xe2, 0x82, 0x41]],
      ['a continuation byte after a whole sequence', [0xc3, 0xa9, 0xa9]],
      ['an overlong 3-byte form', [0xe0, 0x80, 0xaf]],
      ['an overlong 4-byte form', [0xf0, 0x80, 0x80, 0xaf]],
      ['a value above U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
    ];

    for (const board of ['esp32', 'esp8266', 'linux']) {
      const cases = board === 'linux' ? everywhere.concat(fullOnly) : everywhere;
      it(`[MQTT-1.5.3-1] [MQTT-1.5.3-2] ${board}: each of ${cases.length} ill-formed topics -> "malformed packet, type 3", link closed, reconnect, nothing delivered or acknowledged`, async () => {
        const { peer, b } = await setup(politeBroker, '', board);
        for (let i = 0; i < cases.length; i++) {
          const [name, topic, qos] = cases[i];
          const conn = await peer.connection(i + 1);
          conn.raw(publishWith(topic, qos));
          await b.waitEvents('connect', i + 2);
          assert.deepEqual(b.events('error').slice(i).map((e) => e[1]), ['malformed packet, type 3'], name);
          assert.ok(conn.closed || (await peer.until('the refused link closed', () => conn.closed)), name);
          assert.deepEqual(conn.packets.map((p) => p.cmd), ['connect'], `${name}: nothing sent back`);
        }
        assert.equal(b.events('offline').length, cases.length);
        assert.deepEqual(b.events('message'), []);
      });
    }

    for (const board of ['esp32', 'linux']) {
      it(`${board}: well-formed topics of 1- to 4-byte characters are delivered (as bytes on ESP, decoded on unicode builds)`, async () => {
        const { peer, b } = await setup(politeBroker, '', board);
        const topics = ['a/b', '\u00e9/\u00ff/\u07ff', '\u0800/\u20ac/\ud7ff/\ue000/\uffff', '\ud800\udc00/\ud83d\ude00/\udbff\udfff'];
        for (const t of topics) peer.last.raw(publishWith([...Buffer.from(t, 'utf8')]));
        await b.waitEvents('message', topics.length);
        const want = board === 'linux' ? topics : topics.map((t) => Buffer.from(t, 'utf8').toString('latin1'));
        assert.deepEqual(b.events('message').map((m) => m[1]), want);
        assert.deepEqual(b.events('error'), []);
      });
    }

    it('esp32: what the smaller ESP check does not find is delivered, as bytes (the limits firmware/README.md lists)', async () => {
      const { peer, b } = await setup();
      for (const [, topic] of fullOnly) peer.last.raw(publishWith(topic));
      await b.waitEvents('message', fullOnly.length);
      assert.deepEqual(b.events('message').map((m) => m[1]), fullOnly.map(([, t]) => Buffer.from(t).toString('latin1')));
      assert.deepEqual(b.events('error'), []);
    });
  });

  describe('subscriptions', () => {
    it('[MQTT-3.9.3-1] several filters with per-filter QoS; SUBACK 0x80 fails that filter only; handlers dispatch by wildcard', async () => {
      const { peer, b } = await setup(scripted((c, p) => {
        if (p.cmd === 'subscribe') {
          c.send({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map((s: any) => (s.topic === 'deny/#' ? 128 : s.qos)) });
          return true;
        }
      }));
      b.run(`var got = [];
        c.subscribe({ "s/+/t": 1, "deny/#": 0, "all/#": 2 }, null, cb("sub"), function (t, p, i) { got.push(t + "=" + p + "@" + i.qos); });`);
      const [sub] = await b.waitEvents('sub');
      assert.deepEqual(sub, ['sub', 'subscribe: deny/# refused', [1, 128, 2]]);
      const [s] = peer.of('subscribe');
      assert.deepEqual(s.subscriptions, [{ topic: 's/+/t', qos: 1 }, { topic: 'deny/#', qos: 0 }, { topic: 'all/#', qos: 2 }]);
      const conn = peer.last;
      for (const t of ['s/1/t', 's/1/2/t', 'all', 'all/x/y', 'deny/x', '$SYS/all']) conn.send({ cmd: 'publish', topic: t, payload: Buffer.from('v'), qos: 0, retain: false, dup: false });
      await b.waitEvents('message', 6);
      await b.settled(); // handlers run from timers
      assert.deepEqual(JSON.parse(b.run('JSON.stringify(got)')), ['s/1/t=v@0', 'all=v@0', 'all/x/y=v@0']);
    });

    it('an array of filters shares opts.qos; unsubscribe sends UNSUBSCRIBE, calls back on UNSUBACK and stops the handler', async () => {
      const { peer, b } = await setup();
      b.run('var n = 0; c.subscribe(["u/1", "u/2"], { qos: 1 }, cb("sub"), function () { n++; });');
      await b.waitEvents('sub');
      assert.deepEqual(peer.of('subscribe')[0].subscriptions, [{ topic: 'u/1', qos: 1 }, { topic: 'u/2', qos: 1 }]);
      b.run('c.unsubscribe(["u/1", "u/2"], cb("unsub"))');
      await b.waitEvents('unsub');
      assert.deepEqual(b.events('unsub'), [['unsub']]);
      assert.deepEqual(peer.of('unsubscribe')[0].unsubscriptions, ['u/1', 'u/2']);
      peer.last.send({ cmd: 'publish', topic: 'u/1', payload: Buffer.from('v'), qos: 0, retain: false, dup: false });
      await b.waitEvents('message');
      await b.settled(); // handlers run from timers
      assert.equal(b.run('n'), 0);
    });

    it('[MQTT-3.2.2-2] session-present 0 on reconnect: acknowledged subscriptions are restored', async () => {
      const { peer, b } = await setup();
      b.run('c.subscribe({ "r/a": 1, "r/b": 2 }, null, cb("sub"))');
      await b.waitEvents('sub');
      peer.last.drop();
      await b.waitEvents('connect', 2);
      await peer.until('SUBSCRIBE on link 2', () => peer.conns[1].packets.some((p) => p.cmd === 'subscribe'));
      assert.deepEqual(peer.conns[1].packets.find((p) => p.cmd === 'subscribe').subscriptions, [{ topic: 'r/a', qos: 1 }, { topic: 'r/b', qos: 2 }]);
    });

    it('session present on reconnect: nothing is resubscribed', async () => {
      const { peer, b } = await setup(scripted(() => false, true), 'clean: false');
      b.run('c.subscribe("k", { qos: 1 }, cb("sub"))');
      await b.waitEvents('sub');
      peer.last.drop();
      await b.waitEvents('connect', 2);
      await sleep(200);
      assert.equal(peer.conns[1].packets.filter((p) => p.cmd === 'subscribe').length, 0);
    });
  });

  describe('bad input from the application is refused without touching the connection', () => {
    const cases: [string, string][] = [
      ['c.publish("a/+/b", "x", null, cb("r"))', "publish: topic contains wildcard '+'"],
      ['c.publish("a/#", "x", null, cb("r"))', "publish: topic contains wildcard '#'"],
      ['c.publish("", "x", null, cb("r"))', 'publish: topic is empty'],
      ['c.publish("a\\u0000b", "x", null, cb("r"))', 'publish: topic contains U+0000'],
      ['c.publish("a", "x", { qos: 3 }, cb("r"))', 'publish: qos must be 0..2'],
      ['c.publish("a", "x", { qos: "1" }, cb("r"))', 'publish: qos must be 0..2'],
      ['c.publish(new Array(65538).join("t"), "x", null, cb("r"))', 'publish: topic over 65535 bytes'],
      ['c.subscribe("a/#/b", null, cb("r"))', "subscribe: filter: '+' and '#' must be whole levels, '#' last"],
      ['c.subscribe("a+", null, cb("r"))', "subscribe: filter: '+' and '#' must be whole levels, '#' last"],
      ['c.subscribe("a", { qos: -1 }, cb("r"))', 'subscribe: qos must be 0..2'],
      ['c.subscribe({ "a": 1, "b": 7 }, null, cb("r"))', 'subscribe: qos must be 0..2'],
      ['c.unsubscribe("", cb("r"))', 'unsubscribe: filter is empty'],
    ];
    for (const [code, message] of cases) {
      it(`${code} -> "${message}"`, async () => {
        const { peer, b } = await setup();
        const before = peer.all().length;
        b.run(code);
        // Callbacks run from the idle loop, as every callback and event of the client does.
        assert.deepEqual(await b.waitEvents('r'), [['r', message]]);
        b.run('c.publish("still/up", "1", { qos: 1 }, cb("ok"))');
        await b.waitEvents('ok');
        assert.deepEqual(peer.all().slice(before).map((p) => p.cmd), ['publish']);
        assert.equal(b.events('offline').length, 0);
      });
    }
    it('without a callback the refusal is an error event', async () => {
      const { b } = await setup();
      b.run('c.publish("a/+", "x")');
      assert.deepEqual(await b.waitEvents('error'), [['error', "publish: topic contains wildcard '+'"]]);
    });
  });

  describe('keepalive, reconnect, end', () => {
    it('[MQTT-3.1.2-23] sends PINGREQ when idle and stays connected while PINGRESP comes back', async () => {
      const { peer, b } = await setup(politeBroker, 'keepalive: 1');
      await peer.until('two PINGREQ', () => peer.of('pingreq').length >= 2, 5000);
      assert.equal(b.events('offline').length, 0);
    });

    it('no PINGRESP: the link is declared dead, closed, and the client reconnects', async () => {
      const { b } = await setup(scripted((c, p) => p.cmd === 'pingreq' && c.index === 1), 'keepalive: 1');
      await b.waitEvents('connect', 2, 10000);
      assert.ok(b.events('error').some((e) => e[1] === 'keepalive timeout'));
      const names = b.log().map((e) => e[0]);
      assert.deepEqual(names.slice(0, 6), ['connect', 'error', 'offline', 'close', 'reconnect', 'connect']);
    });

    it('a blackholed link (nothing in, nothing out) is detected by keepalive', async () => {
      const { b } = await setup(politeBroker, 'keepalive: 1');
      b.board.faults.blackhole(true);
      await b.waitEvents('offline', 1, 10000);
      assert.ok(b.events('error').some((e) => e[1] === 'keepalive timeout'));
      b.board.faults.blackhole(false);
      await b.waitEvents('connect', 2, 10000);
    });

    it('reconnects with backoff while connections are refused, then connects', async () => {
      const { b } = await setup(politeBroker, 'minBackoff: 20, maxBackoff: 80');
      b.board.faults.refuseConnects(true);
      b.board.faults.dropLinks();
      await b.waitEvents('reconnect', 4, 10000);
      assert.equal(b.events('connect').length, 1);
      b.board.faults.refuseConnects(false);
      await b.waitEvents('connect', 2, 10000);
    });

    it('Linux build: a refused connection throws from net.connect; the client reports it and keeps retrying', async () => {
      const { b } = await setup(politeBroker, 'minBackoff: 20, maxBackoff: 80', 'linux', false);
      b.board.faults.refuseConnects(true);
      b.run('c.connect()');
      await b.waitEvents('reconnect', 3, 10000);
      assert.ok(b.events('error').length >= 3);
      assert.equal(b.events('offline').length, 0, 'never connected, so never offline');
      b.board.faults.refuseConnects(false);
      await b.waitEvents('connect', 1, 10000);
    });

    it('TLS (ESP32): the same client over require("tls") with the CA in the options', async function () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-tls-'));
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
          '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
      } catch {
        this.skip();
      }
      const key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
      const cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
      fs.rmSync(dir, { recursive: true, force: true });
      const peer = await new Peer(politeBroker, { key, cert }).start();
      peers.push(peer);
      const b = clientBoard('esp32', `{ host: "localhost", port: ${peer.port}, net: require("tls"), ca: ${JSON.stringify(cert)}, clientId: "tls1" }`);
      boards.push(b);
      b.run('c.connect()');
      await b.waitEvents('connect');
      b.run('c.publish("secure", "x", { qos: 1 }, cb("pub"))');
      await b.waitEvents('pub');
      assert.equal(peer.of('publish')[0].topic, 'secure');
    });

    it('reconnect: false stays down after a drop', async () => {
      const { b } = await setup(politeBroker, 'reconnect: false');
      b.board.faults.dropLinks();
      await b.waitEvents('close');
      await sleep(300);
      assert.equal(b.events('reconnect').length, 0);
      assert.equal(b.events('connect').length, 1);
    });

    it('[MQTT-3.14.4-3] end() sends DISCONNECT, closes, calls back, and does not reconnect', async () => {
      const { peer, b } = await setup();
      b.run('c.end(cb("end"))');
      await b.waitEvents('end');
      await peer.until('DISCONNECT and close', () => peer.of('disconnect').length === 1 && peer.last.closed);
      await sleep(300);
      assert.equal(peer.conns.length, 1);
      assert.equal(b.events('reconnect').length, 0);
      assert.equal(b.board.openSockets(), 0);
    });

    it('tiny chunks: every packet still parses (1-byte socket chunks)', async () => {
      const { peer, b } = await setup();
      b.board.faults.setChunkSize(1);
      b.run('c.subscribe("c/#", { qos: 2 }, cb("sub"))');
      await b.waitEvents('sub');
      for (let i = 0; i < 3; i++) peer.last.send({ cmd: 'publish', topic: 'c/' + i, payload: Buffer.from('x'.repeat(300)), qos: (i % 3) as 0 | 1 | 2, messageId: i + 1, retain: false, dup: false });
      await b.waitEvents('message', 3);
      assert.deepEqual(b.events('message').map((m) => m[1]), ['c/0', 'c/1', 'c/2']);
    });
  });
});
