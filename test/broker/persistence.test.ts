// Persistence in SQLite: sessions, subscriptions, queued and in-flight QoS 1/2
// messages, QoS 2 ids and retained messages survive a restart and kill -9.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Packet } from 'mqtt-packet';
import { Broker } from '../../host-broker/broker';
import { SqliteStore } from '../../host-broker/store/sqlite';
import { MemoryStore } from '../../host-broker/store/memory';
import { RawClient, mqttClient, until } from './support';
import { kill9, spawnBroker } from './fixtures/spawn-broker';

describe('broker persistence (SQLite)', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-data-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('restores sessions, subscriptions, queued messages and retained messages after a restart', async () => {
    let broker = new Broker({ store: new SqliteStore({ dataDir: dir }) });
    let { tcp } = await broker.listen({ tcp: { port: 0 } });
    const sub = await mqttClient(`mqtt://127.0.0.1:${tcp}`, { clientId: 'keeper', clean: false });
    await sub.subscribeAsync('keep/#', { qos: 2 });
    await sub.endAsync();
    const pub = await mqttClient(`mqtt://127.0.0.1:${tcp}`, { clientId: 'pub' });
    await pub.publishAsync('keep/1', 'one', { qos: 1 });
    await pub.publishAsync('keep/2', 'two', { qos: 2 });
    await pub.publishAsync('status', 'retained!', { qos: 0, retain: true });
    await pub.endAsync();
    await broker.close();

    broker = new Broker({ store: new SqliteStore({ dataDir: dir }) });
    ({ tcp } = await broker.listen({ tcp: { port: 0 } }));
    assert.deepEqual(broker.sessions().map((s) => [s.clientId, s.subscriptions, s.queued]), [['keeper', [{ filter: 'keep/#', qos: 2 }], 2]]);
    const back = await RawClient.connect(tcp!, { clientId: 'keeper', clean: false });
    const a: any = await back.next('publish');
    const b: any = await back.next('publish');
    assert.deepEqual([a.topic, a.payload.toString(), a.qos, b.topic, b.payload.toString(), b.qos], ['keep/1', 'one', 1, 'keep/2', 'two', 2]);
    back.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'status', qos: 0 }] } as Packet);
    await back.next('suback');
    assert.equal(((await back.next('publish')) as any).payload.toString(), 'retained!');
    await broker.close();
  });

  it('kill -9 after PUBACK/PUBCOMP loses no acknowledged QoS 1/2 message', async () => {
    let b = await spawnBroker(dir);
    try {
      const sub = await mqttClient(`mqtt://127.0.0.1:${b.port}`, { clientId: 'durable', clean: false });
      await sub.subscribeAsync('d/#', { qos: 2 });
      await sub.endAsync();
      const pub = await mqttClient(`mqtt://127.0.0.1:${b.port}`, { clientId: 'pub' });
      const n = 40;
      // publishAsync resolves on PUBACK (QoS 1) / PUBCOMP (QoS 2): the broker has acknowledged each one.
      for (let i = 0; i < n; i++) await pub.publishAsync(`d/${i % 2 ? 'odd' : 'even'}`, String(i), { qos: (1 + (i % 2)) as 1 | 2 });
      await pub.publishAsync('d/retained', 'last words', { qos: 1, retain: true });
      pub.stream.destroy();
      await kill9(b.proc);

      b = await spawnBroker(dir);
      const seen: string[] = [];
      const back = await RawClient.connect(b.port, { clientId: 'durable', clean: false });
      while (seen.length < n + 1) {
        const p: any = await back.next('publish', 5000);
        seen.push(p.payload.toString());
        back.send({ cmd: p.qos === 1 ? 'puback' : 'pubrec', messageId: p.messageId } as Packet);
        if (p.qos === 2) { await back.next('pubrel'); back.send({ cmd: 'pubcomp', messageId: p.messageId } as Packet); }
      }
      assert.deepEqual(seen, [...Array.from({ length: n }, (_, i) => String(i)), 'last words']);
      const late = await RawClient.connect(b.port, { clientId: 'late' });
      late.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'd/retained', qos: 1 }] } as Packet);
      assert.equal(((await late.next('publish')) as any).payload.toString(), 'last words');
    } finally { await kill9(b.proc); }
  });

  it('kill -9: in-flight deliveries are re-sent with DUP and their ids; a QoS 2 in progress is still delivered once', async () => {
    let b = await spawnBroker(dir);
    try {
      const sub = await RawClient.connect(b.port, { clientId: 'inflight', clean: false });
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'i', qos: 1 }] } as Packet);
      await sub.next('suback');
      const pub = await RawClient.connect(b.port, { clientId: 'q2pub', clean: false });
      pub.send({ cmd: 'publish', topic: 'i', payload: Buffer.from('exactly-once'), qos: 2, messageId: 42, retain: false, dup: false } as Packet);
      await pub.next('pubrec'); // stored; PUBREL not sent yet
      const first: any = await sub.next('publish'); // not acknowledged
      await kill9(b.proc);

      b = await spawnBroker(dir);
      const sub2 = await RawClient.connect(b.port, { clientId: 'inflight', clean: false });
      const again: any = await sub2.next('publish');
      assert.equal(again.dup, true);
      assert.equal(again.messageId, first.messageId);
      assert.equal(again.payload.toString(), 'exactly-once');
      sub2.send({ cmd: 'puback', messageId: again.messageId } as Packet);
      // The publisher resumes its QoS 2 flow: a resent PUBLISH must not deliver a second copy.
      const pub2 = await RawClient.connect(b.port, { clientId: 'q2pub', clean: false });
      pub2.send({ cmd: 'publish', topic: 'i', payload: Buffer.from('exactly-once'), qos: 2, messageId: 42, retain: false, dup: true } as Packet);
      await pub2.next('pubrec');
      pub2.send({ cmd: 'pubrel', messageId: 42 } as Packet);
      await pub2.next('pubcomp');
      pub2.send({ cmd: 'publish', topic: 'i', payload: Buffer.from('marker'), qos: 1, messageId: 43, retain: false, dup: false } as Packet);
      await pub2.next('puback');
      const next: any = await sub2.next('publish');
      assert.equal(next.payload.toString(), 'marker', 'no second copy of the QoS 2 message');
    } finally { await kill9(b.proc); }
  });

  it('the in-memory store resumes sessions when a Broker is re-created on it', async () => {
    const store = new MemoryStore();
    let broker = new Broker({ store });
    let { tcp } = await broker.listen({ tcp: { port: 0 } });
    const c = await RawClient.connect(tcp!, { clientId: 'm', clean: false });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'm', qos: 1 }] } as Packet);
    await c.next('suback');
    c.destroy();
    await until(() => broker.clients().length === 0, 'the disconnect');
    await broker.publish({ topic: 'm', payload: Buffer.from('kept'), qos: 1 });
    await broker.close();
    broker = new Broker({ store });
    ({ tcp } = await broker.listen({ tcp: { port: 0 } }));
    const back = await RawClient.connect(tcp!, { clientId: 'm', clean: false });
    assert.equal(((await back.next('publish')) as any).payload.toString(), 'kept');
    await broker.close();
  });
});
