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
});
