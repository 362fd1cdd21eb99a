// End to end: an MQTT.js client publishes to the host broker; routes plugged in
// through the broker's messagePublished hook deliver to real targets.
import { strict as assert } from 'assert';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { Broker } from '../../host-broker';
import type { HubEvent } from '../../host-broker/hooks';
import { RouteManager } from '../../host-broker/routes';
import { byTopic, FAST, tempDir, waitFor } from './fixtures/common';
import { httpTarget, HttpTarget } from './fixtures/http-target';

describe('routes: end to end through the broker', function () {
  this.timeout(30000);
  let tmp: ReturnType<typeof tempDir>;
  let target: HttpTarget;
  let broker: Broker;
  let routes: RouteManager;
  let port: number;
  let sink: Database.Database;
  const clients: mqtt.MqttClient[] = [];
  const hubEvents: HubEvent[] = [];

  beforeEach(async () => {
    tmp = tempDir('routes-e2e-');
    target = await httpTarget();
    sink = new Database(`${tmp.dir}/sink.sqlite`);
    sink.exec('CREATE TABLE msgs (seq INTEGER PRIMARY KEY, topic TEXT, payload TEXT)');
    hubEvents.length = 0;
    broker = new Broker();
    broker.on('hubEvent', (ev: HubEvent) => hubEvents.push(ev));
    routes = new RouteManager({
      queue: `${tmp.dir}/routes.sqlite`,
      report: (ev) => broker.hubEvent(ev),
      eventsPrefix: broker.events.prefix,
      routes: [
        { name: 'api', type: 'rest', filter: 'sensors/#', uri: target.url, delivery: FAST },
        { name: 'db', type: 'sql', driver: 'sqlite', filter: 'sensors/+/temp', sqlite: { path: `${tmp.dir}/sink.sqlite` },
          statement: 'INSERT INTO msgs (topic, payload) VALUES ($TOPIC, $PAYLOAD)', delivery: FAST },
        // Would loop if the hub's events were routed: every failure makes an event.
        { name: 'events-too', type: 'rest', filter: '$hub/#', uri: 'http://127.0.0.1:1/never', delivery: FAST },
      ],
    });
    broker.addHooks(routes.hooks);
    routes.start();
    port = (await broker.listen({ tcp: { port: 0 } })).tcp!;
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
    await routes.close();
    await broker.close();
    await target.stop();
    sink.close();
    tmp.remove();
  });

  const connect = async (clientId: string) => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  };

  it('an MQTT.js publish reaches the REST and SQL targets', async () => {
    await target.start();
    const c = await connect('dev1');
    await c.publishAsync('sensors/kitchen/temp', '21.5', { qos: 1, retain: true });
    await c.publishAsync('sensors/kitchen/humidity', '40', { qos: 0 });
    await c.publishAsync('other/topic', 'not routed', { qos: 1 });
    await waitFor(() => target.received.length === 2, 'two REST deliveries');
    await routes.drain();
    const byT = Object.fromEntries(target.received.map((r) => [r.topic, r]));
    assert.equal(byT['sensors/kitchen/temp'].body.toString(), '21.5');
    assert.equal(byT['sensors/kitchen/temp'].headers['x-mqtt-retain'], 'true');
    assert.equal(byT['sensors/kitchen/humidity'].headers['x-mqtt-retain'], 'false');
    assert.deepEqual(sink.prepare('SELECT topic, payload FROM msgs').all(), [{ topic: 'sensors/kitchen/temp', payload: '21.5' }]);
  });

  it('while a target is down, publishes are acknowledged at once; failures go out as hub events; nothing loops', async () => {
    const watcher = await connect('watcher');
    const seen: { topic: string; body: any }[] = [];
    watcher.on('message', (topic, payload) => seen.push({ topic, body: JSON.parse(payload.toString()) }));
    await watcher.subscribeAsync('$hub/events/#');

    const c = await connect('dev2');
    const sent: { topic: string; payload: string }[] = [];
    for (let i = 0; i < 200; i++) {
      const topic = `sensors/${i % 5}/level`;
      sent.push({ topic, payload: `v${i}` });
      await c.publishAsync(topic, `v${i}`, { qos: 1 }); // PUBACK arrives although the route cannot deliver
    }
    await waitFor(() => seen.some((s) => s.body.kind === 'route_failure' && s.body.objectId === 'api'), 'a route_failure event over MQTT');
    const ev = seen.find((s) => s.body.objectId === 'api')!;
    assert.match(ev.topic, /^\$hub\/events\/warning\/route\/api$/);
    assert.match(ev.body.message, /ECONNREFUSED/);
    assert.equal(routes.get('events-too')!.queueDepth, 0, 'hub events were not routed');
    assert.equal(routes.get('events-too')!.stats.enqueued, 0);

    await target.start();
    await routes.drain('api');
    assert.deepEqual(byTopic(target.received.map((r) => ({ topic: r.topic, payload: r.body.toString() }))), byTopic(sent));
    assert.ok(hubEvents.length > 0);
  });
});
