// Offline queues are bounded by what they cost on disk (bytes, queueCost()),
// with a default that keeps an hour of readings, and a long queue lives in the
// store rather than in memory: it is read back in order as it drains, also
// after a restart.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Packet } from 'mqtt-packet';
import { Broker, DEFAULT_LIMITS } from '../../host-broker/broker';
import { SqliteStore } from '../../host-broker/store/sqlite';
import { QUEUE_IN_MEMORY, queueCost } from '../../host-broker/store/types';
import type { HubEvent } from '../../host-broker/hooks';
import { RawClient, until } from './support';

describe('broker offline queues (bounded by bytes, kept on disk)', function () {
  this.timeout(60000);
  let dir: string;
  let broker: Broker;
  let port: number;
  const events: HubEvent[] = [];

  const start = async (limits: Partial<typeof DEFAULT_LIMITS> = {}) => {
    broker = new Broker({ store: new SqliteStore({ dataDir: dir }), limits });
    broker.on('hubEvent', (e: HubEvent) => events.push(e));
    ({ tcp: port } = (await broker.listen({ tcp: { port: 0 } })) as { tcp: number });
  };
  const subscribeThenLeave = async (clientId: string, filter: string) => {
    const c = await RawClient.connect(port, { clientId, clean: false });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] } as Packet);
    await c.next('suback');
    c.destroy();
    await until(() => broker.clients().length === 0, 'the disconnect');
  };
  const queueOf = (clientId: string) => broker.sessions().find((s) => s.clientId === clientId)!;
  /** Receives n QoS 1 PUBLISHes, acknowledging each; returns their payloads. */
  const receive = async (c: RawClient, n: number) => {
    const got: string[] = [];
    while (got.length < n) {
      const p = (await c.next('publish', 5000)) as Packet & { payload: Buffer; messageId: number };
      got.push(p.payload.toString());
      c.send({ cmd: 'puback', messageId: p.messageId } as Packet);
    }
    return got;
  };

  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-oq-')); events.length = 0; });
  afterEach(async () => { await broker.close(); fs.rmSync(dir, { recursive: true, force: true }); });

  it('by default keeps an hour of 1 reading/s (3,600 messages) for an offline sensor, in order, across a restart', async () => {
    await start();
    await subscribeThenLeave('sensor-7', 'devices/sensor-7/telemetry');
    const reading = (i: number) => JSON.stringify({ seq: i, temp: 21.5, hum: 40.2, at: 1700000000 + i });
    for (let i = 0; i < 3600; i++) void broker.publish({ topic: 'devices/sensor-7/telemetry', payload: reading(i), qos: 1 });
    await broker.publish({ topic: 'devices/other', payload: 'x', qos: 1 }); // resolves once all of the above are committed
    const q = queueOf('sensor-7');
    assert.equal(q.queued, 3600);
    assert.equal(q.queuedBytes, Array.from({ length: 3600 }, (_, i) => queueCost('sensor-7', 'devices/sensor-7/telemetry', Buffer.from(reading(i)))).reduce((a, b) => a + b));
    assert.ok(q.queuedBytes < DEFAULT_LIMITS.maxQueuedBytesPerClient / 100, `an hour is ${q.queuedBytes} bytes, far under the default bound`);
    assert.deepEqual(events.filter((e) => e.kind === 'offline_queue_overflow'), []);

    await broker.close();
    await start({ maxInflightPerClient: 10 });
    assert.equal(queueOf('sensor-7').queued, 3600, 'restored from disk, the part not in memory too');
    const back = await RawClient.connect(port, { clientId: 'sensor-7', clean: false });
    // New readings arrive while the old ones drain: they queue behind them.
    const first = await receive(back, 1000);
    for (let i = 3600; i < 3700; i++) void broker.publish({ topic: 'devices/sensor-7/telemetry', payload: reading(i), qos: 1 });
    const rest = await receive(back, 2700);
    assert.deepEqual([...first, ...rest].map((p) => JSON.parse(p).seq), Array.from({ length: 3700 }, (_, i) => i), 'every reading, once, in order');
    await until(() => queueOf('sensor-7').queued === 0 && queueOf('sensor-7').inflight === 0, 'the queue drained');
    assert.equal(queueOf('sensor-7').queuedBytes, 0);
    back.destroy();
  });

  it(`holds at most ${QUEUE_IN_MEMORY.messages} queued messages in memory; the rest is read from the store as the queue drains`, async () => {
    await start({ maxInflightPerClient: 20 });
    await subscribeThenLeave('far', 'far/#');
    for (let i = 0; i < 2000; i++) void broker.publish({ topic: 'far/x', payload: String(i), qos: 1 });
    await broker.publish({ topic: 'nobody', payload: 'x', qos: 1 });
    const session = (broker as unknown as { sessions_: Map<string, { queuedInStore: number; queuedCount: number }> }).sessions_.get('far')!;
    assert.equal(session.queuedCount, 2000);
    assert.equal(session.queuedInStore, 2000 - QUEUE_IN_MEMORY.messages, 'only the head of the queue is in memory');
    const back = await RawClient.connect(port, { clientId: 'far', clean: false });
    const got = await receive(back, 2000);
    assert.deepEqual(got, Array.from({ length: 2000 }, (_, i) => String(i)));
    back.destroy();
  });

  it('stops a queue at maxQueuedBytesPerClient (queueCost per message): one offline_queue_overflow, oldest kept, again only after draining to half', async () => {
    const payload = Buffer.alloc(1000, 0x41);
    const cost = queueCost('slow', 'big/1', payload); // 1000 + 5 + 64 + 2 x 4
    await start({ maxQueuedBytesPerClient: 10 * cost });
    await subscribeThenLeave('slow', 'big/#');
    for (let i = 0; i < 25; i++) await broker.publish({ topic: 'big/1', payload: Buffer.concat([Buffer.from(`${i}:`), payload.subarray(0, 998 - String(i).length)]), qos: 1 });
    assert.equal(queueOf('slow').queued, 10);
    assert.ok(queueOf('slow').queuedBytes <= 10 * cost);
    const ov = events.filter((e) => e.kind === 'offline_queue_overflow');
    assert.equal(ov.length, 1, 'one event for the whole overflow');
    assert.equal(ov[0].objectId, 'slow');
    assert.match(ov[0].message, /bytes/);

    const back = await RawClient.connect(port, { clientId: 'slow', clean: false });
    const got = await receive(back, 10);
    assert.deepEqual(got.map((p) => p.split(':')[0]), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 'the oldest kept, the newest dropped');
    back.destroy();
    await until(() => broker.clients().length === 0, 'the disconnect');
    for (let i = 0; i < 12; i++) await broker.publish({ topic: 'big/1', payload, qos: 1 });
    assert.equal(events.filter((e) => e.kind === 'offline_queue_overflow').length, 2, 'a second overflow after the queue had drained');
  });
});
