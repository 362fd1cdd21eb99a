// $SYS topics for MQTT-only monitors: Mosquitto's names, retained, updated
// when they change, and readable only by devices granted them.
import { strict as assert } from 'assert';
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import mqtt, { MqttClient } from 'mqtt';
import { validateConfig } from '../../host-broker/config';
import { RunningHub, startHub } from '../../host-broker/start-hub';
import { HUB_VERSION } from '../../host-broker/version';
import { suback, until } from './support';

/** The names Mosquitto publishes that mean the same here (sys_tree.c). */
const MOSQUITTO_NAMES = [
  'version', 'uptime', 'clients/total', 'clients/maximum', 'clients/connected', 'clients/disconnected',
  'messages/stored', 'store/messages/count', 'store/messages/bytes', 'subscriptions/count', 'retained messages/count',
  'heap/current', 'heap/maximum', 'messages/received', 'messages/sent', 'bytes/received', 'bytes/sent',
  'publish/messages/received', 'publish/messages/sent', 'publish/messages/dropped', 'publish/bytes/received', 'publish/bytes/sent',
  'connections/socket/count',
  ...['messages/received', 'messages/sent', 'publish/received', 'publish/sent', 'publish/dropped', 'bytes/received', 'bytes/sent', 'sockets', 'connections']
    .flatMap((k) => ['1min', '5min', '15min'].map((w) => `load/${k}/${w}`)),
].map((n) => `$SYS/broker/${n}`);

describe('metrics: $SYS topics', function () {
  this.timeout(30000);
  let dir: string;
  let hub: RunningHub | undefined;
  const clients: MqttClient[] = [];
  const url = () => `mqtt://127.0.0.1:${hub!.ports.tcp}`;
  const connect = async (opts: mqtt.IClientOptions) => {
    const c = await mqtt.connectAsync(url(), { reconnectPeriod: 0, ...opts });
    clients.push(c);
    return c;
  };
  /** A monitor that records every $SYS value it gets, with the retain flag. */
  const monitor = async (opts: mqtt.IClientOptions) => {
    const seen: { topic: string; value: string; retain: boolean }[] = [];
    const c = mqtt.connect(url(), { reconnectPeriod: 0, ...opts });
    clients.push(c);
    c.on('message', (topic, payload, packet) => seen.push({ topic, value: payload.toString(), retain: packet.retain }));
    await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject); });
    assert.deepEqual(await suback(c, '$SYS/#'), [0]);
    const latest = (topic: string) => [...seen].reverse().find((m) => m.topic === topic)?.value;
    return { c, seen, latest };
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-sys-'));
    hub = await startHub(validateConfig({
      listeners: { tcp: { port: 0 } }, dataDir: dir, allowAnonymous: true, metrics: { sysInterval: 1 },
      routes: [{ name: 'api', type: 'rest', filter: 'dev/#', uri: 'http://127.0.0.1:1/never', delivery: { backoff: { initialMs: 60000, maxMs: 60000 } } }],
      devices: [
        { id: 'monitor', username: 'monitor', password: 'm', subscribe: { accept: ['$SYS/#', '$hub/events/#'] } },
        { id: 'plain', username: 'plain', password: 'p' },
        { id: 'limited', username: 'limited', password: 'l', subscribe: { accept: ['dev/#'] } },
        { id: 'uptime-only', username: 'uo', password: 'u', subscribe: { accept: ['$SYS/broker/uptime'] } },
      ],
    }));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await hub?.close();
    hub = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('only devices granted $SYS read it: no policy, another policy and anonymous clients get 0x80', async () => {
    for (const opts of [{ username: 'plain', password: 'p' }, { username: 'limited', password: 'l' }, {}]) {
      const c = await connect(opts);
      assert.deepEqual(await suback(c, ['$SYS/#', '$SYS/broker/uptime', '$SYS/broker/+', '$SYS']), [128, 128, 128, 128], JSON.stringify(opts));
    }
    const uo = await connect({ username: 'uo', password: 'u' });
    assert.deepEqual(await suback(uo, ['$SYS/broker/uptime', '$SYS/#']), [0, 128], 'a grant covers what it names, no more');
    // '#' never matches $ topics [MQTT-4.7.2-1]: granting it is not a way in.
    const plain = await connect({ username: 'plain', password: 'p' });
    const got: string[] = [];
    plain.on('message', (t) => got.push(t));
    assert.deepEqual(await suback(plain, '#'), [0]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(got.filter((t) => t.startsWith('$')), []);
  });

  it('a granted monitor gets Mosquitto\'s names at once (retained), then the values that change', async () => {
    const mon = await monitor({ username: 'monitor', password: 'm' });
    await until('the retained values', () => MOSQUITTO_NAMES.every((t) => mon.latest(t) !== undefined));
    assert.ok(mon.seen.slice(0, MOSQUITTO_NAMES.length).every((m) => m.retain), 'the first ones are the retained copies');
    assert.equal(mon.latest('$SYS/broker/version'), `host-broker version ${HUB_VERSION}`);
    assert.match(mon.latest('$SYS/broker/uptime')!, /^\d+ seconds$/);
    assert.match(mon.latest('$SYS/broker/load/bytes/received/1min')!, /^\d+\.\d\d$/);
    assert.equal(mon.latest('$SYS/broker/route/api/backlog'), '0');

    // Traffic: a persistent session left with queued messages, QoS 1 publishes routed.
    const sub = await connect({ clientId: 'away', clean: false, username: 'limited', password: 'l' });
    await sub.subscribeAsync('dev/#', { qos: 1 });
    await sub.endAsync();
    const pub = await connect({ username: 'plain', password: 'p' });
    for (let i = 0; i < 4; i++) await pub.publishAsync('dev/t', 'abc', { qos: 1 });
    await until('the next update', () => mon.latest('$SYS/broker/publish/messages/received') === '4');
    await until('the queue and backlog', () => mon.latest('$SYS/broker/store/messages/count') === '4' && mon.latest('$SYS/broker/route/api/backlog') === '4');
    assert.equal(mon.latest('$SYS/broker/messages/stored'), '4');
    assert.equal(mon.latest('$SYS/broker/store/messages/bytes'), '12');
    assert.equal(mon.latest('$SYS/broker/publish/bytes/received'), '12');
    assert.equal(mon.latest('$SYS/broker/clients/disconnected'), '1');
    assert.equal(mon.latest('$SYS/broker/subscriptions/count'), '2', 'the monitor\'s and the away session\'s');
    assert.ok(Number(mon.latest('$SYS/broker/load/publish/received/1min')) > 0);
    await until('the 5min load to catch up', () => Number(mon.latest('$SYS/broker/load/publish/received/5min')) > 0);

    // Unchanged values are not sent again: version only ever came once.
    const n = mon.seen.length;
    await new Promise((r) => setTimeout(r, 2200));
    const later = mon.seen.slice(n).map((m) => m.topic);
    assert.ok(later.includes('$SYS/broker/uptime'), 'uptime changes every second');
    assert.ok(!later.includes('$SYS/broker/version'));
    assert.equal(mon.seen.filter((m) => m.topic === '$SYS/broker/version').length, 1);
    assert.ok(mon.seen.slice(n).every((m) => !m.retain), 'live updates arrive without the retain flag [MQTT-3.3.1-9]');
  });

  it('$SYS values are not written to the store (the hub rebuilds them at start)', async () => {
    await connect({ username: 'plain', password: 'p' });
    await new Promise((r) => setTimeout(r, 1200));
    await hub!.close();
    const db = new Database(path.join(dir, 'hub.db'), { readonly: true });
    try {
      assert.equal((db.prepare("SELECT count(*) AS n FROM retained WHERE topic LIKE '$SYS/%'").get() as { n: number }).n, 0);
    } finally { db.close(); }
  });
});
