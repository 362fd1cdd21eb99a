// Simulated boards (boards/sim running the shipped telemetry app from dist/,
// unmodified) behind an edge hub that bridges to a Mosquitto "cloud": commands
// published in the cloud reach a board through an `in` mapping; and the slow
// one, tagged [30 s outage]: the uplink is down for 30 s while the boards keep
// publishing QoS 1, and afterwards every reading reaches the cloud, in order per board.
import { strict as assert } from 'assert';
import type { Board } from '../../boards/sim';
import { ensureBuilt } from '../../tools/hil/build';
import { startTelemetryBoard } from '../../tools/hil/sim-app';
import { MOSQUITTO_SKIP_MESSAGE, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { Peer, sleep, startBridgedHub, until, type BridgedHub } from './fixtures';

const BOARD = 'esp32';

describe('bridges: simulated boards behind an edge hub, a Mosquitto cloud upstream', function () {
  this.timeout(60_000);
  let cloud: Mosquitto;
  let hub: BridgedHub;
  const boards: Board[] = [];
  const peers: Peer[] = [];
  let n = 0;

  before(async function () {
    const m = await startMosquitto('max_queued_messages 100000', { persistence: true });
    if (!m) { console.log(`      ${MOSQUITTO_SKIP_MESSAGE}`); return this.skip(); }
    cloud = m;
    ensureBuilt([BOARD]);
  });
  after(async () => { await cloud?.stop(); });
  beforeEach(async function () {
    if (!cloud) return this.skip();
    hub = await startBridgedHub([{
      name: 'cloud', url: `mqtt://127.0.0.1:${cloud.port}`, clientId: 'site1-hub', keepalive: 5,
      reconnect: { initialMs: 200, maxMs: 2000 }, connectTimeoutMs: 3000,
      mappings: [
        { direction: 'out', filter: 'devices/+/telemetry', remotePrefix: 'fleet/site1/' },
        { direction: 'out', filter: 'devices/+/reply', remotePrefix: 'fleet/site1/' },
        { direction: 'in', filter: 'devices/+/commands', remotePrefix: 'fleet/site1/' },
      ],
    }]);
    await until(() => hub.eventsOf('bridge_connected').length === 1, 'the bridge up');
  });
  afterEach(async () => {
    for (const b of boards) assert.deepEqual(b.errors, [], `board printed: ${b.errors.join('\n')}`);
    boards.splice(0).forEach((b) => b.destroy());
    for (const p of peers.splice(0)) await p.end();
    await hub?.close({ remove: true });
    if (cloud && cloud.proc.exitCode !== null) await cloud.start();
  });

  const board = (interval: number): string => {
    const id = `${BOARD}-b${++n}-${process.pid}`;
    boards.push(startTelemetryBoard({ board: BOARD, config: { id, host: '127.0.0.1', port: hub.port, interval, keepalive: 5 } }));
    return id;
  };

  it('a command published in the cloud reaches the board through the in mapping; its reply comes back up', async () => {
    const id = board(60_000);
    const ops = await Peer.connect(`mqtt://127.0.0.1:${cloud.port}`);
    peers.push(ops);
    await ops.subscribe(`fleet/site1/devices/${id}/reply`, 1);
    // The board is ready once it has subscribed to its commands topic on the hub.
    await until(() => hub.broker.sessions().some((s) => s.clientId === id && s.subscriptions.some((x) => x.filter === `devices/${id}/commands`)),
      'the board subscribed to its commands', 15_000);
    await ops.publish(`fleet/site1/devices/${id}/commands`, JSON.stringify({ cmd: 'ping', id: 42 }), 1);
    await until(() => ops.on(`fleet/site1/devices/${id}/reply`).length === 1, 'the reply in the cloud', 15_000);
    const reply = JSON.parse(ops.on(`fleet/site1/devices/${id}/reply`)[0]);
    assert.equal(reply.pong, 42);
    assert.equal(reply.re, 'ping');
    assert.equal(hub.bridges.get('cloud')!.stats.received, 1);
  });

  it('[30 s outage] boards publish QoS 1 while the uplink is down for 30 s; afterwards every reading reaches the cloud, in order per board', async function () {
    this.timeout(150_000);
    // The cloud's consumer keeps a persistent session, so Mosquitto holds what arrives while it reconnects.
    const consumer = await Peer.connect(`mqtt://127.0.0.1:${cloud.port}`, { clientId: 'cloud-consumer', clean: false, reconnectPeriod: 200 });
    peers.push(consumer);
    await consumer.subscribe('fleet/site1/devices/+/telemetry', 1);
    // What the hub accepted (and acknowledged to the boards), per board, in order.
    const accepted = new Map<string, number[]>();
    hub.broker.on('message', (topic: string, payload: Buffer) => {
      const m = /^devices\/([^/]+)\/telemetry$/.exec(topic);
      if (m) { const r = JSON.parse(payload.toString()); (accepted.get(m[1]) ?? accepted.set(m[1], []).get(m[1])!).push(r.seq); }
    });
    const ids = [board(200), board(200), board(300)];
    const upstreamSeqs = (id: string) => consumer.on(`fleet/site1/devices/${id}/telemetry`).map((p) => JSON.parse(p).seq as number);
    await until(() => ids.every((id) => upstreamSeqs(id).length >= 5), 'readings flowing to the cloud', 20_000);

    await cloud.halt();
    const downAt = Date.now();
    await until(() => hub.bridges.get('cloud')!.state !== 'connected', 'the bridge noticing');
    await sleep(30_000 - (Date.now() - downAt));
    const during = hub.bridges.get('cloud')!;
    const acceptedDuring = [...accepted.values()].reduce((a, s) => a + s.length, 0);
    await cloud.start();

    await until(() => hub.bridges.get('cloud')!.state === 'connected', 'reconnected', 20_000);
    boards.forEach((b) => b.destroy()); // stop publishing; the rest drains
    boards.length = 0;
    await until(() => hub.bridges.get('cloud')!.queued === 0, 'the queue drained', 30_000, () => `${hub.bridges.get('cloud')!.queued} queued`);
    await until(() => ids.every((id) => new Set(upstreamSeqs(id)).size >= accepted.get(id)!.length), 'every accepted reading in the cloud', 30_000,
      () => ids.map((id) => `${id}: ${new Set(upstreamSeqs(id)).size}/${accepted.get(id)!.length}`).join(', '));

    for (const id of ids) {
      const sent = accepted.get(id)!;
      const got = upstreamSeqs(id);
      // At least once: a resend after the reconnect may repeat a message; its first arrivals are in order.
      const firsts = got.filter((s, i) => got.indexOf(s) === i);
      assert.deepEqual(firsts, sent, `${id}: every reading the hub accepted, in the order it accepted them`);
    }
    assert.ok(during.queued >= 100, `readings queued during the outage: ${during.queued} (of ${acceptedDuring} accepted so far)`);
    assert.ok(during.stats.failures >= 3, 'reconnect attempts during the outage');
    // Backoff with a cap: 30 s at initial 200 ms doubling to 2 s is ~20 attempts, not hundreds.
    assert.ok(during.stats.failures < 40, `attempts: ${during.stats.failures}`);
    const downs = hub.eventsOf('bridge_down');
    assert.ok(downs.length >= 1 && downs.length <= 3, `bridge_down events: ${downs.map((e) => e.message).join(' | ')}`);
    assert.equal(hub.eventsOf('bridge_connected').length, 2);
  });
});
