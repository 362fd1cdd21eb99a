// The minified client in a real Espruino interpreter (ESPRUINO_BIN) against a real
// mosquitto, with MQTT.js as the peer: what the simulator cannot prove about the
// interpreter (its parser, events, sockets, timers, memory). The board boots the
// image `npm run flash` writes (tools/image.ts), with this test's board script as
// the app, from flash as a board runs it; it prints one line per event
// ("@EV name json"); the test drives it over the console.
// Skipped, with how to enable it, when ESPRUINO_BIN is unset.
import { strict as assert } from 'assert';
import mqtt from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import { bootEspruino, EspruinoSession, interpreterInfo } from '../../boards/espruino-bin';
import { boardFiles } from '../../tools/flash';
import { storageWrites } from '../../tools/image';
import { Mosquitto } from '../helpers/mosquitto';
import { espruinoAndMosquitto } from './helpers/espruino-suite';
import { Peer } from './helpers/peer';
import { jsString, relay } from './helpers/espruino-memory';

const BIN_PAYLOAD = '\u0000\u0001\u007f\u0080\u00ff';

/** Board side: events as "@EV name json" lines; cb(name) records a callback's outcome. */
function boardScript(port: number, extra: string): string {
  return `
var ev = function (name, a, b, c) { console.log("@EV " + name + " " + JSON.stringify([a, b, c])); };
var text = function (e) { return e && e.message !== undefined ? String(e.message) : String(e); };
var hex = function (s) { var o = "", i; for (i = 0; i < s.length; i++) o += (256 + s.charCodeAt(i)).toString(16).substr(1); return o; };
// A big payload is told by its length and a hash: its hex would not fit an ESP8266.
var sum = function (s) { var h = 0, i; for (i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) & 0xffff; return "len" + s.length + ":" + h; };
var cb = function (name) { return function (err, x) { ev(name, err ? text(err) : null, x); }; };
var c;
var go = function () {
c = require("mqtt-client").create({ net: require("net"), host: "127.0.0.1", port: ${port}, clientId: "rt-board", keepalive: 10,
  minBackoff: 50, maxBackoff: 200, will: { topic: "rt/will", payload: "gone", qos: 1 }${extra} });
c.on("connect", function (sp) { ev("connect", sp); });
c.on("error", function (e) { ev("error", text(e)); });
c.on("offline", function () { ev("offline"); });
c.on("reconnect", function () { ev("reconnect"); });
c.on("message", function (t, p, i) { ev("message", t, p.length > 64 ? sum(p) : hex(p), [i.qos, i.retain, i.dup]); });
c.connect();
};
go();
`;
}

describe('firmware client in a real Espruino interpreter (ESPRUINO_BIN) vs mosquitto', function () {
  this.timeout(60000);
  let bin: string;
  let mosq: Mosquitto | null = null;
  let board = 'linux';
  let session: EspruinoSession | null = null;
  let peer: mqtt.MqttClient | null = null;

  before(async function () {
    ({ bin, mosq } = await espruinoAndMosquitto(this));
    // An ESP8266-sized build has no unicode: the ESP bundle; a stock Linux build: the linux one.
    board = (await interpreterInfo(bin)).board;
  });
  afterEach(async () => {
    if (peer) await peer.endAsync(true);
    peer = null;
    if (session) {
      const r = await session.stop();
      session = null;
      assert.deepEqual(r.failures, [], 'no Uncaught or MEMORY lines from the interpreter');
    }
  });
  after(async () => { if (mosq) await mosq.stop(); });

  const events = (name: string) => session!.lines.filter((l) => l.startsWith(`@EV ${name} `)).map((l) => JSON.parse(l.slice(5 + name.length)));
  const until = async <T>(what: string, pred: () => T, ms = 10000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const r = pred();
      if (r) return r;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last lines: ${session!.lines.slice(-8).join(' | ')}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  const waitEvents = (name: string, n = 1): Promise<any[]> => until(`${n} "${name}" event(s)`, () => (events(name).length >= n ? events(name) : null)) as Promise<any[]>;

  /** The board powered up from the image: the module and the board script in Storage, run from flash. */
  function boot(port: number, extra: string): Promise<EspruinoSession> {
    return bootEspruino({ bin, writes: storageWrites(boardFiles(board, 'RT', { port }, boardScript(port, extra))), timeoutMs: 60000 });
  }

  async function start(port: number, extra = ''): Promise<void> {
    session = await boot(port, extra);
    await waitEvents('connect');
  }

  it('connects, subscribes, publishes QoS 0/1/2 with binary payloads, receives QoS 0/1/2 once each, unsubscribes, ends without the Will', async () => {
    peer = await mqtt.connectAsync(`mqtt://127.0.0.1:${mosq!.port}`, { clientId: 'rt-peer', reconnectPeriod: 0 });
    const got: [string, string, number][] = [];
    peer.on('message', (t, p, pk) => got.push([t, p.toString('latin1'), pk.qos]));
    await peer.subscribeAsync(['rt/out/#', 'rt/will'], { qos: 2 });
    await start(mosq!.port);
    assert.deepEqual(events('connect'), [[false, null, null]]);

    session!.send('c.subscribe({ "rt/in/#": 2, "rt/q1": 1 }, null, cb("sub"), function (t, p, i) { ev("handler", t, i.qos); })');
    assert.deepEqual((await waitEvents('sub'))[0], [null, [2, 1], null]);
    for (const q of [0, 1, 2]) session!.send(`c.publish("rt/out/${q}", ${jsString(BIN_PAYLOAD)} + "${q}", { qos: ${q} }, cb("pub${q}"))`);
    await waitEvents('pub2');
    await until('three messages at the peer', () => got.length >= 3);
    assert.deepEqual(got.sort(), [0, 1, 2].map((q) => [`rt/out/${q}`, BIN_PAYLOAD + q, q]));

    for (const q of [0, 1, 2]) await peer.publishAsync(`rt/in/${q}`, Buffer.from(`\u0000in${q}`, 'latin1'), { qos: q as 0 | 1 | 2 });
    await waitEvents('handler', 3);
    const msgs = events('message');
    assert.deepEqual(msgs.map((m) => [m[0], m[1], m[2][0]]).sort(), [0, 1, 2].map((q) => [`rt/in/${q}`, '00696e3' + q, q]));
    assert.equal(events('handler').length, 3, 'QoS 2 delivered exactly once');

    session!.send('c.unsubscribe("rt/in/#", cb("unsub"))');
    await waitEvents('unsub');
    await peer.publishAsync('rt/in/late', 'x', { qos: 1 });
    await peer.publishAsync('rt/q1', 'y', { qos: 1 });
    await until('the rt/q1 message', () => events('message').some((m) => m[0] === 'rt/q1'));
    assert.ok(!events('message').some((m) => m[0] === 'rt/in/late'), 'no delivery after UNSUBACK');

    session!.send('c.end(cb("end"))');
    await waitEvents('end');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!got.some((g) => g[0] === 'rt/will'), 'DISCONNECT suppressed the Will');
    assert.deepEqual(events('error'), []);
  });

  it('a cut link: offline, automatic reconnect, subscriptions restored (clean session); a QoS 1 publish made offline is delivered after', async () => {
    const link = await relay(mosq!.port);
    try {
      peer = await mqtt.connectAsync(`mqtt://127.0.0.1:${mosq!.port}`, { clientId: 'rt-peer2', reconnectPeriod: 0 });
      const got: string[] = [];
      peer.on('message', (t, p) => got.push(`${t}=${p}`));
      await peer.subscribeAsync('rt/out/#', { qos: 1 });
      await start(link.port);
      session!.send('c.subscribe("rt/in/x", { qos: 1 }, cb("sub"))');
      await waitEvents('sub');
      link.cut();
      await waitEvents('offline');
      session!.send('c.publish("rt/out/later", "queued", { qos: 1 }, cb("pub"))');
      await waitEvents('connect', 2);
      await waitEvents('pub');
      await until('the queued message at the peer', () => got.includes('rt/out/later=queued'));
      // The SUBSCRIBE restoring rt/in/x went out right after CONNACK, before the queued PUBLISH.
      await peer.publishAsync('rt/in/x', 'again', { qos: 1 });
      await until('delivery on the restored subscription', () => events('message').some((m) => m[0] === 'rt/in/x'));
      assert.ok(events('reconnect').length >= 1);
    } finally {
      link.close();
    }
  });

  it('[MQTT-1.5.3-1] [MQTT-1.5.3-2] ill-formed UTF-8 or U+0000 in a received topic (scripted peer): "malformed packet, type 3", reconnect, nothing delivered; well-formed multi-byte topics delivered', async () => {
    // The interpreter's own regex engine and strings run the check here (the ESP bundle on an ESP8266-sized build).
    const scripted = await new Peer().start();
    try {
      const publishWith = (topic: number[]) => Buffer.from([0x30, topic.length + 3, 0, topic.length, ...topic, 0x78]);
      const bad = [[0x61, 0xff], [0x61, 0xc3, 0x28], [0x61, 0xc3], [0xed, 0xa0, 0x80], [0x61, 0x00, 0x62], [0xc0, 0x80], [0x61, 0xb0], [0xf8, 0x88, 0x80, 0x80, 0x80]];
      await start(scripted.port);
      for (let i = 0; i < bad.length; i++) {
        (await scripted.connection(i + 1)).raw(publishWith(bad[i]));
        await waitEvents('connect', i + 2);
      }
      assert.deepEqual(events('error').map((e) => e[0]), bad.map(() => 'malformed packet, type 3'));
      // The linux bundle decodes topics with String.fromCharCode, which on Espruino 2v29 keeps only the
      // low byte of a code above 255 (a known gap, reported): up to U+00FF there; 1- to 4-byte characters on ESP.
      const good = board === 'linux' ? 'a/\u00e9/\u00ff' : 'a/\u00e9/\u20ac/\ud83d\ude00';
      scripted.last.raw(publishWith([...Buffer.from(good, 'utf8')]));
      await waitEvents('message');
      assert.deepEqual(events('message').map((m) => m[0]), [board === 'linux' ? good : Buffer.from(good, 'utf8').toString('latin1')]);
    } finally {
      await scripted.stop();
    }
  });

  /** A PUBLISH of `n` bytes of payload, written in pieces of `piece` bytes as a slow link delivers it. */
  async function sendInPieces(conn: { raw(b: Buffer): void }, topic: string, n: number, qos: number, id: number, piece: number) {
    const payload = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 255));
    const bytes = mqttPacket.generate({ cmd: 'publish', topic, payload, qos: qos as 0 | 1, messageId: qos ? id : undefined, retain: false, dup: false });
    for (let i = 0; i < bytes.length; i += piece) {
      conn.raw(bytes.subarray(i, i + piece));
      await new Promise((r) => setTimeout(r, 2));
    }
    return `len${n}:${[...payload].reduce((h, c) => (h * 31 + c) & 0xffff, 0)}`;
  }

  it('a 3,000-byte message arriving in 97-byte pieces (maxPacket 4096) is delivered byte-exact and acknowledged', async () => {
    const scripted = await new Peer().start();
    try {
      await start(scripted.port, ', maxPacket: 4096');
      const want = await sendInPieces(scripted.last, 'big/3000', 3000, 1, 7, 97);
      const [m] = await waitEvents('message');
      assert.deepEqual(m, ['big/3000', want, [1, false, false]]);
      await scripted.until('PUBACK', () => scripted.of('puback').length === 1);
      assert.deepEqual(events('error'), []);
    } finally {
      await scripted.stop();
    }
  });

  it('a 20,000-byte message (maxPacket 65536) is refused for free memory or delivered whole; no interpreter error; the next small message is delivered', async () => {
    const scripted = await new Peer().start();
    try {
      await start(scripted.port, ', maxPacket: 65536');
      const want = await sendInPieces(scripted.last, 'big/20000', 20000, 1, 8, 536);
      await sendInPieces(scripted.last, 'small', 2, 1, 9, 536);
      await until('the small message', () => events('message').some((m) => m[0] === 'small'));
      const big = events('message').filter((m) => m[0] === 'big/20000');
      if (big.length) assert.deepEqual(big, [['big/20000', want, [1, false, false]]]);
      else assert.deepEqual(events('error'), [['packet over free memory: 20017 bytes', null, null]]);
      console.log(`      ${board}: the 20,000-byte message was ${big.length ? 'delivered whole' : 'refused for free memory'}`);
      assert.equal(events('offline').length, 0, 'the link stayed up');
    } finally {
      await scripted.stop();
    }
  });

  it('nothing listening (the Linux build throws from net.connect): error events and reconnect attempts, never connect or offline, no Uncaught', async () => {
    const link = await relay(1); // a port nothing listens on: the relay's upstream connect fails, the client sees a close
    link.close();
    session = await boot(link.port, '');
    await waitEvents('reconnect', 3);
    assert.ok(events('error').length >= 1);
    assert.equal(events('connect').length, 0);
    assert.equal(events('offline').length, 0, 'never connected, so never offline');
  });
});
