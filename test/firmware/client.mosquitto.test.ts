// The minified client bundle on a simulated board against a real mosquitto,
// with MQTT.js as the peer client.
import { strict as assert } from 'assert';
import mqtt from 'mqtt';
import { startMosquitto, Mosquitto, MOSQUITTO_SKIP_MESSAGE } from '../helpers/mosquitto';
import { clientBoard, ClientBoard, sleep } from './helpers/board';

const ALL_BYTES = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');

describe('firmware client vs mosquitto (minified bundle on the simulated board)', function () {
  let mosq: Mosquitto | null;
  let boards: ClientBoard[] = [];
  let peers: mqtt.MqttClient[] = [];
  let n = 0;

  before(async function () {
    mosq = await startMosquitto();
    if (!mosq) {
      console.log(MOSQUITTO_SKIP_MESSAGE);
      this.skip();
    }
  });
  after(async () => { if (mosq) await mosq.stop(); });
  afterEach(async () => {
    for (const b of boards) {
      assert.deepEqual(b.board.errors, [], 'no Uncaught errors on the board');
      b.destroy();
    }
    for (const p of peers) await p.endAsync(true);
    boards = [];
    peers = [];
  });

  /** A board whose client `c` is created with these extra options (JS source) and connected. */
  async function device(extra = '', board = 'esp32', connect = true): Promise<ClientBoard> {
    const b = clientBoard(board, `{ host: "127.0.0.1", port: ${mosq!.port}, net: require("net"), clientId: "dev${++n}", minBackoff: 100, maxBackoff: 400 ${extra ? ', ' + extra : ''} }`);
    boards.push(b);
    if (connect) {
      b.run('c.connect()');
      await b.waitEvents('connect');
    }
    return b;
  }

  async function peer(opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
    const p = await mqtt.connectAsync(`mqtt://127.0.0.1:${mosq!.port}`, { reconnectPeriod: 0, clientId: `peer${++n}`, ...opts });
    peers.push(p);
    return p;
  }

  function received(p: mqtt.MqttClient) {
    const got: { topic: string; payload: Buffer; qos: number; retain: boolean }[] = [];
    p.on('message', (topic, payload, packet) => got.push({ topic, payload, qos: packet.qos, retain: packet.retain }));
    return got;
  }

  async function until<T>(what: string, pred: () => T, ms = 10000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const r = pred();
      if (r) return r;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  }

  it('[MQTT-3.2.2-2] connects with a clean session: connect event, session-present false', async () => {
    const b = await device();
    assert.deepEqual(b.events('connect'), [['connect', false]]);
  });

  it('[MQTT-3.1.3-6] an empty client id with a clean session is accepted', async () => {
    const b = await device('clientId: ""');
    assert.equal(b.events('connect').length, 1);
  });

  for (const qos of [0, 1, 2]) {
    it(`publishes QoS ${qos} with a binary payload; the callback fires after the flow completes`, async () => {
      const p = await peer();
      const got = received(p);
      await p.subscribeAsync('out/#', { qos: 2 });
      const b = await device();
      b.board.context.payload = ALL_BYTES;
      b.run(`c.publish("out/q${qos}", payload, { qos: ${qos} }, cb("pub"))`);
      await b.waitEvents('pub');
      assert.deepEqual(b.events('pub'), [['pub']]);
      await until('message at the peer', () => got.length);
      assert.equal(got[0].topic, `out/q${qos}`);
      assert.equal(got[0].qos, qos);
      assert.equal(got[0].payload.toString('latin1'), ALL_BYTES);
    });

    it(`receives QoS ${qos} from MQTT.js with the granted QoS, binary payload intact`, async () => {
      const b = await device();
      b.run(`c.subscribe("in/+", { qos: ${qos} }, cb("sub"))`);
      const [sub] = await b.waitEvents('sub');
      assert.deepEqual(sub, ['sub', null, [qos]]);
      const p = await peer();
      await p.publishAsync('in/x', Buffer.from(ALL_BYTES, 'latin1'), { qos: 2 as const });
      const [m] = await b.waitEvents('message');
      assert.deepEqual(m, ['message', 'in/x', ALL_BYTES, { qos, retain: false, dup: false }]);
      await sleep(200);
      assert.equal(b.events('message').length, 1, 'delivered once');
    });
  }

  it('retain both ways: a retained publish from the board reaches a later subscriber with retain set; the board gets a retained message on subscribe', async () => {
    const b = await device();
    b.run('c.publish("ret/board", "kept", { qos: 1, retain: true }, cb("pub"))');
    await b.waitEvents('pub');
    const p = await peer();
    const got = received(p);
    await p.subscribeAsync('ret/board', { qos: 1 });
    await until('retained message at the peer', () => got.length);
    assert.deepEqual([got[0].payload.toString(), got[0].retain], ['kept', true]);
    await p.publishAsync('ret/peer', 'old', { qos: 1, retain: true });
    b.run('c.subscribe("ret/peer", { qos: 1 }, cb("sub"))');
    const [m] = await b.waitEvents('message');
    assert.deepEqual(m, ['message', 'ret/peer', 'old', { qos: 1, retain: true, dup: false }]);
    // A live (not retained) delivery has retain 0 [MQTT-3.3.1-9].
    await p.publishAsync('ret/peer', 'new', { qos: 1, retain: false });
    const ms = await b.waitEvents('message', 2);
    assert.deepEqual(ms[1], ['message', 'ret/peer', 'new', { qos: 1, retain: false, dup: false }]);
    await p.publishAsync('ret/peer', '', { qos: 1, retain: true });
    await p.publishAsync('ret/board', '', { qos: 1, retain: true });
  });

  it('dispatches by wildcard filter to per-subscription handlers; $-topics are not matched by a leading wildcard', async () => {
    const b = await device();
    b.run(`var got = {};
      function h(name) { return function (t, p) { (got[name] = got[name] || []).push(t + "=" + p); }; }
      c.subscribe("w/+/temp", { qos: 1 }, cb("s1"), h("plus"));
      c.subscribe("w/#", { qos: 0 }, cb("s2"), h("hash"));`);
    await b.waitEvents('s2');
    const p = await peer();
    for (const t of ['w/a/temp', 'w/b/hum', 'w', 'x/a/temp']) await p.publishAsync(t, 'v', { qos: 1 });
    await b.waitEvents('message', 3);
    await sleep(200);
    const got = JSON.parse(b.run('JSON.stringify(got)'));
    assert.deepEqual(got.plus, ['w/a/temp=v']);
    assert.deepEqual(got.hash, ['w/a/temp=v', 'w/b/hum=v', 'w=v']);
  });

  it('unicode topics are UTF-8 on the wire (linux build: unicode strings) [MQTT-1.5.3-1]', async () => {
    const b = await device('', 'linux');
    const p = await peer();
    const got = received(p);
    await p.subscribeAsync('température/#', { qos: 1 });
    b.run('c.subscribe("température/+", { qos: 1 }, cb("sub"), function (t) { log.push(["h", t]); })');
    await b.waitEvents('sub');
    b.run('c.publish("température/salon", "21", { qos: 1 }, cb("pub"))');
    await until('message at the peer', () => got.length);
    assert.equal(got[0].topic, 'température/salon');
    await p.publishAsync('température/cuisine', '19', { qos: 1 });
    await b.waitEvents('h', 2);
    assert.deepEqual(b.events('h').map((e) => e[1]).sort(), ['température/cuisine', 'température/salon']);
  });

  it('ESP build (no unicode: strings are raw UTF-8 bytes): UTF-8 topics pass through unchanged both ways', async () => {
    const b = await device();
    const p = await peer();
    const got = received(p);
    await p.subscribeAsync('température/#', { qos: 1 });
    b.run(`c.subscribe("température/+", { qos: 1 }, cb("sub"), function (t) { log.push(["h", t == "température/cuisine", t.length]); });`);
    await b.waitEvents('sub');
    b.run('c.publish("température/salon", "21", { qos: 1 }, cb("pub"))');
    await until('message at the peer', () => got.length);
    assert.equal(got[0].topic, 'température/salon');
    await p.publishAsync('température/cuisine', '19', { qos: 1 });
    const hs = await b.waitEvents('h', 2);
    // 'é' is two bytes, so two chars on this board.
    assert.ok(hs.some((h) => h[1] === true && h[2] === 'température/cuisine'.length + 1), JSON.stringify(hs));
  });

  it('[MQTT-3.1.2-8] the Will is published when the link drops without DISCONNECT', async () => {
    const p = await peer();
    const got = received(p);
    await p.subscribeAsync('will/#', { qos: 1 });
    const b = await device('will: { topic: "will/dev", payload: "lost", qos: 1, retain: false }, reconnect: false');
    b.board.faults.dropLinks();
    await until('Will at the peer', () => got.length);
    assert.deepEqual([got[0].topic, got[0].payload.toString(), got[0].qos], ['will/dev', 'lost', 1]);
  });

  it('[MQTT-3.14.4-3] end() sends DISCONNECT: the Will is not published', async () => {
    const p = await peer();
    const got = received(p);
    await p.subscribeAsync('will/#', { qos: 1 });
    const b = await device('will: { topic: "will/dev2", payload: "lost", qos: 1 }');
    b.run('c.end(cb("end"))');
    await b.waitEvents('close');
    // Proof the broker processed the close: a message published after it arrives, the Will never does.
    await p.publishAsync('will/marker', 'm', { qos: 1 });
    await until('marker', () => got.length);
    await sleep(300);
    assert.deepEqual(got.map((m) => m.topic), ['will/marker']);
  });

  it('[MQTT-3.1.2-23] keepalive 1 s: idle for 3.5 s the board stays connected (PINGREQ) ', async () => {
    const b = await device('keepalive: 1');
    await sleep(3500);
    assert.equal(b.events('offline').length, 0);
    assert.equal(b.events('connect').length, 1);
  });

  it('[MQTT-3.1.2-4] persistent session: QoS 1 messages published while the board was away arrive on reconnect with session present', async () => {
    const b = await device('clean: false, clientId: "persist1"');
    b.run('c.subscribe("pers/#", { qos: 1 }, cb("sub"))');
    await b.waitEvents('sub');
    b.run('c.end()');
    await b.waitEvents('close');
    const p = await peer();
    await p.publishAsync('pers/a', '1', { qos: 1 });
    await p.publishAsync('pers/b', '2', { qos: 1 });
    b.run('c.connect()');
    const cs = await b.waitEvents('connect', 2);
    assert.deepEqual(cs[1], ['connect', true]);
    const ms = await b.waitEvents('message', 2);
    assert.deepEqual(ms.map((m) => [m[1], m[2], m[3].qos]), [['pers/a', '1', 1], ['pers/b', '2', 1]]);
  });

  it('broker restarted (session lost, session-present 0): the client reconnects with backoff and restores its subscriptions', async () => {
    const b = await device('', 'esp8266');
    b.run('c.subscribe({ "rs/a": 1, "rs/b/#": 0 }, null, cb("sub"))');
    await b.waitEvents('sub');
    await mosq!.restart();
    await b.waitEvents('connect', 2, 15000);
    assert.deepEqual(b.events('connect')[1], ['connect', false]);
    const p = await peer();
    // The restored SUBSCRIBE may still be in flight: publish until it lands.
    await until('restored subscription delivers', () => {
      void p.publishAsync('rs/a', 'back', { qos: 1 });
      return b.events('message').length;
    });
    assert.equal(b.events('message')[0][1], 'rs/a');
    assert.ok(b.events('reconnect').length >= 1);
  });

  it('esp8266 profile (268-byte chunks, 512-byte maxPacket): a 480-byte QoS 2 message both ways', async () => {
    const b = await device('', 'esp8266');
    const p = await peer();
    const got = received(p);
    await p.subscribeAsync('e8/out', { qos: 2 });
    b.run('c.subscribe("e8/in", { qos: 2 }, cb("sub"))');
    await b.waitEvents('sub');
    const payload = ALL_BYTES + ALL_BYTES.slice(0, 224);
    b.board.context.big = payload;
    b.run('c.publish("e8/out", big, { qos: 2 }, cb("pub"))');
    await b.waitEvents('pub');
    await until('peer got it', () => got.length);
    assert.equal(got[0].payload.toString('latin1'), payload);
    await p.publishAsync('e8/in', Buffer.from(payload, 'latin1'), { qos: 2 });
    const [m] = await b.waitEvents('message');
    assert.equal(m[2], payload);
  });
});
