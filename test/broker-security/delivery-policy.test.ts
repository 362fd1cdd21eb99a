// Subscriptions that never leak and never break a monitor, with the hub built
// as users run it (start-hub with a config): a filter wholly inside rejected
// topics gets SUBACK 0x80; one that only overlaps them (a monitor on '#') is
// granted, and every message on its way out, retained and queued ones included,
// is checked against the policy. '$' topics (hub events) are read only by a
// device whose policy names them.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { validateConfig } from '../../host-broker/config';
import { RunningHub, startHub } from '../../host-broker/start-hub';
import { RawClient, mqttClient, sleep, until } from '../broker/support';

describe('device security: what a granted subscription delivers', function () {
  this.timeout(20000);
  let dir: string;
  let hub: RunningHub;
  let url: string;
  const open: MqttClient[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'delivery-'));
    hub = await startHub(validateConfig({
      listeners: { tcp: { port: 0 } }, dataDir: dir, memory: true, allowAnonymous: true,
      // The rule the Paho interoperability suite asks for, for anonymous clients.
      filters: { subscribe: { reject: ['test/nosubscribe'] } },
      devices: [
        { id: 'watcher', username: 'watcher', password: 'w', subscribe: { reject: ['secret/#'] } },
        { id: 'plain', username: 'plain', password: 'p' },
        { id: 'monitor', username: 'monitor', password: 'm', subscribe: { accept: ['$hub/events/#', '#'], reject: ['secret/#'] } },
        { id: 'pub', username: 'pub', password: 'x' },
      ],
    }));
    url = `mqtt://127.0.0.1:${hub.ports.tcp}`;
  });
  after(async () => {
    await Promise.all(open.map((c) => c.endAsync(true)));
    await hub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const client = async (opts: Parameters<typeof mqttClient>[1]) => { const c = await mqttClient(url, opts); open.push(c); return c; };
  const topicsOf = (c: MqttClient) => { const got: string[] = []; c.on('message', (t) => got.push(t)); return got; };

  it('anonymous, under filters.subscribe reject ["test/nosubscribe"]: that filter gets 0x80; "#" is granted and never delivers it', async () => {
    const raw = await RawClient.connect(hub.ports.tcp!, { clientId: 'anon-paho' });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'test/nosubscribe', qos: 2 }, { topic: '#', qos: 2 }] } as Packet);
    assert.deepEqual(((await raw.next('suback')) as any).granted, [0x80, 2]);
    const pub = await client({ clientId: 'anon-pub' });
    await pub.publishAsync('test/nosubscribe', 'hidden', { qos: 1 });
    await pub.publishAsync('test/other', 'shown', { qos: 1 });
    const p = (await raw.next('publish')) as any;
    assert.equal(p.topic, 'test/other');
    raw.send({ cmd: 'puback', messageId: p.messageId } as Packet);
    await sleep(100);
    assert.deepEqual(raw.packets.filter((x) => x.cmd === 'publish'), []);
    raw.destroy();
  });

  it('a device with "reject": ["secret/#"] subscribing to "#": granted; retained, QoS 0, 1 and 2 messages on secret/... never reach it, the rest do', async () => {
    const pub = await client({ clientId: 'pub', username: 'pub', password: 'x' });
    await pub.publishAsync('secret/door', 'code 1234', { qos: 1, retain: true });
    await pub.publishAsync('public/door', 'open', { qos: 1, retain: true });
    const w = await client({ clientId: 'watcher', username: 'watcher', password: 'w' });
    const got = topicsOf(w);
    const granted = await w.subscribeAsync('#', { qos: 2 });
    assert.deepEqual(granted.map((g) => g.qos), [2]);
    for (const qos of [0, 1, 2] as const) {
      await pub.publishAsync('secret/x', `s${qos}`, { qos });
      await pub.publishAsync('public/x', `p${qos}`, { qos });
    }
    await until(() => got.length === 4, 'the retained public message and three live ones');
    await sleep(100);
    assert.deepEqual(got.sort(), ['public/door', 'public/x', 'public/x', 'public/x']);
    await pub.publishAsync('secret/door', '', { qos: 1, retain: true });
    await pub.publishAsync('public/door', '', { qos: 1, retain: true });
  });

  it('queued for an offline persistent session: messages on rejected topics are dropped as they leave, the others arrive', async () => {
    const first = await client({ clientId: 'watcher-q', username: 'watcher', password: 'w', clean: false });
    await first.subscribeAsync('+/q', { qos: 1 });
    await first.endAsync();
    const pub = await client({ clientId: 'pub-q', username: 'pub', password: 'x' });
    for (let i = 0; i < 3; i++) {
      await pub.publishAsync('secret/q', `s${i}`, { qos: 1 });
      await pub.publishAsync('public/q', `p${i}`, { qos: 1 });
    }
    // The queue is sent right after CONNACK: listen before connecting.
    const back = mqtt.connect(url, { clientId: 'watcher-q', username: 'watcher', password: 'w', clean: false, reconnectPeriod: 0 });
    open.push(back);
    const got: string[] = [];
    back.on('message', (t, p) => got.push(`${t} ${p}`));
    await until(() => got.length === 3, `three queued public messages (got ${JSON.stringify(got)}; ${JSON.stringify(hub.broker.sessions().find((s) => s.clientId === 'watcher-q'))})`);
    await sleep(100);
    assert.deepEqual(got, ['public/q p0', 'public/q p1', 'public/q p2']);
    await until(() => hub.broker.sessions().find((s) => s.clientId === 'watcher-q')?.queued === 0, 'an empty queue');
  });

  it('a policy changed while the device is subscribed applies to the next message', async () => {
    const w = await client({ clientId: 'watcher-c', username: 'watcher', password: 'w' });
    const got = topicsOf(w);
    await w.subscribeAsync('live/#', { qos: 1 });
    const pub = await client({ clientId: 'pub-c', username: 'pub', password: 'x' });
    await pub.publishAsync('live/a', '1', { qos: 1 });
    await until(() => got.length === 1, 'the first message');
    hub.registry.update('watcher', { subscribe: { reject: ['secret/#', 'live/#'] } });
    await pub.publishAsync('live/a', '2', { qos: 1 });
    await pub.publishAsync('live/a', '3', { qos: 0 });
    await sleep(150);
    assert.deepEqual(got, ['live/a']);
    hub.registry.update('watcher', { subscribe: { reject: ['secret/#'] } });
  });

  it('[$ topics] a device with no policy gets 0x80 for $hub/events/#; the monitor recipe (--subscribe-accept "$hub/events/#") reads hub events', async () => {
    const plain = await RawClient.connect(hub.ports.tcp!, { clientId: 'plain', username: 'plain', password: Buffer.from('p') } as any);
    plain.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$hub/events/#', qos: 0 }, { topic: '$hub/#', qos: 0 }, { topic: '#', qos: 0 }] } as Packet);
    assert.deepEqual(((await plain.next('suback')) as any).granted, [0x80, 0x80, 0]);
    const m = await client({ clientId: 'monitor', username: 'monitor', password: 'm' });
    const events: string[] = [];
    m.on('message', (t) => { if (t.startsWith('$hub/')) events.push(t); });
    assert.deepEqual((await m.subscribeAsync(['$hub/events/#', '#'], { qos: 0 })).map((g) => g.qos), [0, 0]);
    await client({ clientId: 'intruder', username: 'plain', password: 'wrong' }).catch(() => undefined);
    await until(() => events.some((t) => t === '$hub/events/warning/device/plain'), 'the authentication_failure event');
    await sleep(100);
    assert.deepEqual(plain.packets.filter((p) => p.cmd === 'publish' && (p as any).topic.startsWith('$')), [], 'the device without a policy saw no hub event');
    plain.destroy();
  });
});
