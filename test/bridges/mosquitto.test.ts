// Bridges against a real Mosquitto upstream (plain TCP), started on 127.0.0.1
// by the test: messages up and down, order, the durable queue, outages,
// refusals, overflow, QoS 0 as best effort.
import { strict as assert } from 'assert';
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { MOSQUITTO_SKIP_MESSAGE, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { FAST, Peer, sleep, startBridgedHub, tempDir, until, type BridgedHub } from './fixtures';

describe('bridges: Mosquitto upstream (plain)', function () {
  this.timeout(60_000);
  let up: Mosquitto;
  let hub: BridgedHub | undefined;
  const peers: Peer[] = [];
  const peer = async (url: string, opts = {}) => { const p = await Peer.connect(url, opts); peers.push(p); return p; };
  const upUrl = () => `mqtt://127.0.0.1:${up.port}`;
  const bridge = (extra: Record<string, unknown> = {}) => ({
    name: 'cloud', url: upUrl(), clientId: 'edge-1', keepalive: 5, ...FAST,
    mappings: [
      { direction: 'out', filter: 'sensors/#', localPrefix: 'sensors/', remotePrefix: 'site1/sensors/', qos: 2 },
      { direction: 'in', filter: 'cmd/#', localPrefix: 'cmd/', remotePrefix: 'site1/cmd/', qos: 2 },
    ],
    ...extra,
  });

  before(async function () {
    const m = await startMosquitto('max_queued_messages 100000\nmax_inflight_messages 100', { persistence: true });
    if (!m) { console.log(`      ${MOSQUITTO_SKIP_MESSAGE}`); return this.skip(); }
    up = m;
  });
  after(async () => { await up?.stop(); });
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.end();
    await hub?.close({ remove: true });
    hub = undefined;
    if (up && up.proc.exitCode !== null) await up.start();
  });

  it('carries QoS 0, 1 and 2 up under the remote prefix, in order per topic, and counts them in the status', async () => {
    const sub = await peer(upUrl());
    await sub.subscribe('site1/#', 2);
    hub = await startBridgedHub([bridge()]);
    await until(() => hub!.eventsOf('bridge_connected').length === 1, 'bridge_connected');
    const dev = await peer(hub.url);
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      sends.push(dev.publish('sensors/a', `a${i}`, 1));
      sends.push(dev.publish('sensors/b', `b${i}`, 2));
    }
    sends.push(dev.publish('sensors/c', 'zero', 0));
    sends.push(dev.publish('elsewhere', 'not mapped', 1));
    await Promise.all(sends);
    await until(() => sub.on('site1/sensors/a').length === 60 && sub.on('site1/sensors/b').length === 60 && sub.on('site1/sensors/c').length === 1, 'all 121 upstream', 15_000,
      () => `${sub.got.length} arrived`);
    assert.deepEqual(sub.on('site1/sensors/a'), Array.from({ length: 60 }, (_, i) => `a${i}`));
    assert.deepEqual(sub.on('site1/sensors/b'), Array.from({ length: 60 }, (_, i) => `b${i}`));
    assert.equal(sub.got.filter((m) => m.topic === 'site1/sensors/b').every((m) => m.qos === 2), true, 'QoS 2 end to end');
    assert.equal(sub.got.some((m) => m.topic.includes('elsewhere')), false);
    await until(() => hub!.bridges.get('cloud')!.queued === 0, 'queue emptied by the acks');
    const st = hub.bridges.get('cloud')!;
    assert.equal(st.state, 'connected');
    assert.ok(Date.parse(st.connectedSince!) <= Date.now());
    assert.equal(st.stats.sent, 121);
    assert.equal(st.stats.acknowledged, 120);
    assert.equal(st.stats.queuedTotal, 120);
    assert.equal(st.inflight, 0);
    assert.ok(st.rttMs !== undefined && st.rttMs > 0, `round trip ${st.rttMs}`);
    // Acknowledged rows are deleted in the next batch anything opens, or within a second.
    await until(() => (hub!.broker.store as any).db.prepare('SELECT COUNT(*) AS n FROM bridge_out').get().n === 0, 'acknowledged rows deleted', 3000);
  });

  it('has the message on disk, in the hub\'s own file, before the device gets its PUBACK', async () => {
    await up.halt();
    hub = await startBridgedHub([bridge()]);
    await until(() => hub!.eventsOf('bridge_down').length === 1, 'bridge_down');
    const dev = await peer(hub.url);
    await dev.publish('sensors/t', 'kept', 1); // resolves on PUBACK
    // A second connection sees only committed rows.
    const other = new Database(path.join(hub.dir, 'hub.db'), { readonly: true });
    try {
      const rows = other.prepare('SELECT bridge, topic, payload, qos FROM bridge_out').all() as any[];
      assert.deepEqual(rows.map((r) => [r.bridge, r.topic, r.payload.toString(), r.qos]), [['cloud', 'site1/sensors/t', 'kept', 1]]);
    } finally { other.close(); }
    const ev = hub.eventsOf('bridge_down')[0];
    assert.equal(ev.severity, 'warning');
    assert.equal(ev.objectType, 'bridge');
    assert.match(ev.message, /cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: connection refused .*ECONNREFUSED.*; \d+ messages queued; next attempt in \d+ ms$/);
    assert.equal(hub.bridges.get('cloud')!.state, 'waiting');
    assert.match(hub.bridges.get('cloud')!.stats.lastError!, /ECONNREFUSED/);
  });

  it('brings commands from upstream to a device through an in mapping (QoS 1 and 2), never sending them back up', async () => {
    hub = await startBridgedHub([bridge({ mappings: [{ direction: 'both', filter: '#', qos: 2 }] })]);
    await until(() => hub!.eventsOf('bridge_connected').length === 1, 'bridge_connected');
    assert.match(hub.eventsOf('bridge_connected')[0].message, /subscribed to #/);
    const dev = await peer(hub.url);
    await dev.subscribe('cmd/#', 2);
    const cloud = await peer(upUrl());
    await cloud.subscribe('#', 2);
    await cloud.publish('cmd/dev1', 'reboot', 1);
    await cloud.publish('cmd/dev1', 'reboot-now', 2);
    await until(() => dev.on('cmd/dev1').length === 2, 'both commands at the device');
    assert.deepEqual(dev.on('cmd/dev1'), ['reboot', 'reboot-now']);
    await sleep(300);
    assert.deepEqual(cloud.on('cmd/dev1'), ['reboot', 'reboot-now'], 'each once upstream: nothing came back up through the both mapping');
    assert.equal(hub.bridges.get('cloud')!.stats.received, 2);
    assert.equal(hub.bridges.get('cloud')!.stats.sent, 0);
  });

  it('queues through an outage, says why it is down once, and delivers everything in order when the upstream is back', async () => {
    const sub = await peer(upUrl(), { clientId: 'cloud-sub', clean: false });
    await sub.subscribe('site1/#', 1);
    await sub.end();
    hub = await startBridgedHub([bridge()]);
    await until(() => hub!.eventsOf('bridge_connected').length === 1, 'bridge_connected');
    const dev = await peer(hub.url);
    await dev.publish('sensors/x', 'before', 1);
    await up.halt();
    // The lost link, then (a different reason) the first refused attempt: two events, maybe before we look.
    await until(() => hub!.eventsOf('bridge_down').length >= 1, 'bridge_down');
    assert.match(hub.eventsOf('bridge_down')[0].message, /^link to mqtt:\/\/127\.0\.0\.1:\d+: /);
    for (let i = 0; i < 100; i++) await dev.publish('sensors/x', `m${i}`, 1);
    await until(() => hub!.bridges.get('cloud')!.stats.failures >= 3, 'a few failed attempts');
    assert.equal(hub.eventsOf('bridge_down').length, 2, 'the link lost, then "cannot connect" once: the same reason is not repeated per attempt');
    assert.equal(hub.bridges.get('cloud')!.queued, 100);
    await up.start();
    const back = await peer(upUrl(), { clientId: 'cloud-sub', clean: false });
    await until(() => back.on('site1/sensors/x').filter((p) => p.startsWith('m')).length >= 100, '100 messages after the outage', 15_000,
      () => `${back.on('site1/sensors/x').length} arrived; bridge ${JSON.stringify({ ...hub!.bridges.get('cloud')!, config: undefined })}`);
    const got = back.on('site1/sensors/x').filter((p) => p.startsWith('m'));
    assert.deepEqual([...new Set(got)], Array.from({ length: 100 }, (_, i) => `m${i}`), 'in order, none missing');
    await until(() => hub!.eventsOf('bridge_connected').length === 2, 'connected again');
    await until(() => hub!.bridges.get('cloud')!.queued === 0, 'queue drained');
  });

  it('keeps its queue across a hub restart and sends it first', async () => {
    await up.halt();
    const dir = tempDir('bridge-restart-');
    hub = await startBridgedHub([bridge()], { dir });
    const dev = await peer(hub.url);
    // MQTT orders a topic per QoS [MQTT-4.6.0-6]: one topic for each.
    for (let i = 0; i < 20; i++) await dev.publish(`sensors/r${i % 2 ? 2 : 1}`, `r${i}`, i % 2 ? 2 : 1);
    await dev.end();
    await hub.close();
    await up.start();
    const sub = await peer(upUrl());
    await sub.subscribe('site1/#', 2);
    hub = await startBridgedHub([bridge()], { dir });
    await until(() => sub.got.length === 20, 'the 20 queued before the restart', 15_000);
    assert.deepEqual(sub.on('site1/sensors/r1'), Array.from({ length: 10 }, (_, i) => `r${2 * i}`));
    assert.deepEqual(sub.on('site1/sensors/r2'), Array.from({ length: 10 }, (_, i) => `r${2 * i + 1}`));
    assert.ok(sub.got.filter((m) => m.topic.endsWith('r2')).every((m) => m.qos === 2));
  });

  it('QoS 0 is best effort: dropped while the link is down, and counted', async () => {
    await up.halt();
    hub = await startBridgedHub([bridge()]);
    const dev = await peer(hub.url);
    for (let i = 0; i < 5; i++) await dev.publish('sensors/q0', `z${i}`, 0);
    await until(() => hub!.bridges.get('cloud')!.stats.droppedQos0 === 5, '5 QoS 0 dropped');
    assert.equal(hub.bridges.get('cloud')!.queued, 0);
  });

  it('a full queue drops new messages with one bridge_queue_overflow event, and takes them again once drained', async () => {
    await up.halt();
    hub = await startBridgedHub([bridge({ queue: { maxMessages: 5, maxBytes: 1024 * 1024 } })]);
    const dev = await peer(hub.url);
    for (let i = 0; i < 12; i++) await dev.publish('sensors/o', `o${i}`, 1);
    const st = hub.bridges.get('cloud')!;
    assert.equal(st.queued, 5);
    assert.equal(st.stats.droppedOverflow, 7);
    const ev = hub.eventsOf('bridge_queue_overflow');
    assert.equal(ev.length, 1);
    assert.equal(ev[0].severity, 'error');
    assert.match(ev[0].message, /queue to mqtt:\/\/.* is full \(5 messages, \d+ bytes; limits 5 messages/);
    await up.start();
    const sub = await peer(upUrl());
    await sub.subscribe('site1/#', 1);
    await until(() => hub!.bridges.get('cloud')!.queued === 0, 'drained');
    await dev.publish('sensors/o', 'after', 1);
    await until(() => sub.on('site1/sensors/o').includes('after'), 'a new message after the drain');
  });

  describe('refused by the upstream', () => {
    let secured: Mosquitto;
    before(async function () {
      if (!up) return this.skip();
      const dir = tempDir('mosq-pw-');
      fs.chmodSync(dir, 0o755); // mosquitto reads it as its own user
      const pwFile = path.join(dir, 'passwords');
      fs.writeFileSync(pwFile, '');
      execFileSync('mosquitto_passwd', ['-b', pwFile, 'edge', 'right-password']);
      secured = (await startMosquitto(`allow_anonymous false\npassword_file ${pwFile}`))!;
    });
    after(async () => { await secured?.stop(); });

    it('bad credentials: a clear error, an error event naming CONNACK, and the hub carries on', async () => {
      hub = await startBridgedHub([bridge({ url: `mqtt://127.0.0.1:${secured.port}`, username: 'edge', password: 'wrong' })]);
      await until(() => hub!.eventsOf('bridge_down').length === 1, 'bridge_down');
      const ev = hub.eventsOf('bridge_down')[0];
      assert.equal(ev.severity, 'error');
      assert.match(ev.message, /the upstream refused the connection: (bad user name or password|not authorized).*\[CONNACK [45]\]/);
      assert.match(hub.bridges.get('cloud')!.stats.lastError!, /CONNACK/);
      assert.doesNotMatch(JSON.stringify(hub.bridges.list()), /wrong/, 'the password is never shown');
      // The hub itself is unaffected.
      const a = await peer(hub.url);
      await a.subscribe('t');
      await a.publish('t', 'still here');
      await until(() => a.on('t').length === 1, 'local delivery');
      // The right password connects.
      await hub.bridges.remove('cloud');
      hub.bridges.add(bridge({ url: `mqtt://127.0.0.1:${secured.port}`, username: 'edge', password: 'right-password' }));
      await until(() => hub!.eventsOf('bridge_connected').length === 1, 'connected with the right password');
    });
  });
});
