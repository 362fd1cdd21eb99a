// Group commit on the SQLite store: what one event-loop turn writes lands in
// one transaction (one fsync), acknowledgements leave only after that commit,
// and a failed commit acknowledges nothing. A second SQLite connection reads the
// file as a restarted hub would: only committed rows are visible to it.
// To look at the disk at the very moment the broker hands bytes to a client,
// the burst tests give the broker a stream whose write side runs the check
// (a client in this process could only read after the whole turn has run).
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duplex } from 'stream';
import Database from 'better-sqlite3';
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { Broker } from '../../host-broker/broker';
import { SqliteStore } from '../../host-broker/store/sqlite';
import type { HubEvent } from '../../host-broker/hooks';
import { RawClient, encode, until } from './support';

/** The client end of a stream handed to broker.accept(): onWrite runs as the broker writes each chunk. */
class TappedClient extends Duplex {
  readonly packets: Packet[] = [];
  private parser = mqttPacket.parser({ protocolVersion: 4 });
  constructor(private onWrite: (client: TappedClient) => void) {
    super();
    this.parser.on('packet', (p: Packet) => this.packets.push(p));
  }
  count(cmd: string): number { return this.packets.filter((p) => p.cmd === cmd).length; }
  sendBytes(b: Buffer): void { this.push(b); }
  _read(): void {}
  _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.parser.parse(chunk);
    this.onWrite(this);
    cb();
  }
}

describe('broker group commit (SQLite)', function () {
  this.timeout(30000);
  let dir: string;
  let store: SqliteStore;
  let broker: Broker;
  let port: number;
  let reader: Database.Database;
  const events: HubEvent[] = [];

  const start = async () => {
    store = new SqliteStore({ dataDir: dir });
    broker = new Broker({ store, limits: { maxInflightPerClient: 1000, maxQueuedPerClient: 10000 } });
    broker.on('hubEvent', (e: HubEvent) => events.push(e));
    ({ tcp: port } = (await broker.listen({ tcp: { port: 0 } })) as { tcp: number });
  };
  /** A persistent subscriber on `filter`, then offline: what it is sent stays in the outbound table. */
  const offlineSubscriber = async (clientId: string, filter: string, qos: 1 | 2) => {
    const c = await RawClient.connect(port, { clientId, clean: false });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] } as Packet);
    await c.next('suback');
    c.send({ cmd: 'disconnect' } as Packet);
    await c.waitClosed();
  };
  // A PINGREQ first: its PINGRESP queues output before the store is written, so the
  // end-of-turn flush would run before the store's own end-of-turn commit if
  // sending did not commit first.
  const burst = (topic: string, qos: 1 | 2, n: number, firstId = 1) => Buffer.concat([encode({ cmd: 'pingreq' } as Packet),
    ...Array.from({ length: n }, (_, i) => encode({ cmd: 'publish', topic, payload: Buffer.from(`m${i}`), qos, messageId: firstId + i, retain: false, dup: false } as Packet))]);

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-gc-'));
    events.length = 0;
    await start();
    reader = new Database(store.file, { readonly: true });
  });
  afterEach(async () => {
    reader.close();
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Connects a tapped client (clean session = 0) with `check` run on every chunk the broker writes to it. */
  const tapped = async (clientId: string, check: (c: TappedClient) => void) => {
    const c = new TappedClient(check);
    broker.accept(c, { remoteAddress: '127.0.0.1', listener: 'tcp' });
    c.sendBytes(encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId, keepalive: 0 } as Packet));
    await until(() => c.count('connack') === 1, 'CONNACK');
    return c;
  };

  it('64 QoS 1 PUBLISHes in one chunk: one commit, and every PUBACK leaves after its message is on disk', async () => {
    await offlineSubscriber('keeper', 'g/#', 1);
    const count = reader.prepare("SELECT COUNT(*) AS n FROM outbound WHERE client_id = 'keeper'");
    const early: string[] = [];
    const pub = await tapped('burster', (c) => {
      const onDisk = (count.get() as { n: number }).n;
      if (onDisk < c.count('puback')) early.push(`${c.count('puback')} PUBACKs written with ${onDisk} messages on disk`);
    });
    const commits0 = store.batches.commits;
    pub.sendBytes(burst('g/1', 1, 64));
    await until(() => pub.count('puback') === 64, '64 PUBACKs');
    assert.deepEqual(early, []);
    assert.equal((count.get() as { n: number }).n, 64);
    const commits = store.batches.commits - commits0;
    assert.ok(commits >= 1 && commits <= 2, `64 messages from one chunk took ${commits} commits`);
  });

  it('QoS 2: PUBRECs leave after the packet ids and the messages are on disk; PUBCOMPs after the ids are released', async () => {
    await offlineSubscriber('keeper2', 'h/#', 2);
    const ids = reader.prepare("SELECT COUNT(*) AS n FROM inbound_qos2 WHERE client_id = 'q2'");
    const msgs = reader.prepare("SELECT COUNT(*) AS n FROM outbound WHERE client_id = 'keeper2'");
    const early: string[] = [];
    const pub = await tapped('q2', (c) => {
      const recs = c.count('pubrec');
      const comps = c.count('pubcomp');
      const idsOnDisk = (ids.get() as { n: number }).n;
      const msgsOnDisk = (msgs.get() as { n: number }).n;
      if (comps === 0 && (idsOnDisk < recs || msgsOnDisk < recs)) early.push(`${recs} PUBRECs written with ${idsOnDisk} ids and ${msgsOnDisk} messages on disk`);
      if (comps > 0 && idsOnDisk > 32 - comps) early.push(`${comps} PUBCOMPs written with ${idsOnDisk} ids still on disk`);
    });
    pub.sendBytes(burst('h/1', 2, 32, 100));
    await until(() => pub.count('pubrec') === 32, '32 PUBRECs');
    assert.equal((ids.get() as { n: number }).n, 32);
    pub.sendBytes(Buffer.concat(Array.from({ length: 32 }, (_, i) => encode({ cmd: 'pubrel', messageId: 100 + i } as Packet))));
    await until(() => pub.count('pubcomp') === 32, '32 PUBCOMPs');
    assert.deepEqual(early, []);
    assert.equal((ids.get() as { n: number }).n, 0);
    assert.equal((msgs.get() as { n: number }).n, 32);
  });

  it('a writer with its own table joins the batch; a commit that fails acknowledges nothing and keeps nothing', async () => {
    await offlineSubscriber('keeper3', 'f/#', 1);
    // A real COMMIT failure from SQLite: a deferred foreign key that is still violated at COMMIT.
    store.db.pragma('foreign_keys = ON');
    store.db.exec('CREATE TABLE side_parent (id INTEGER PRIMARY KEY); CREATE TABLE side (parent INTEGER REFERENCES side_parent(id) DEFERRABLE INITIALLY DEFERRED)');
    const insertSide = store.db.prepare('INSERT INTO side (parent) VALUES (?)');
    let parent = 7; // no such row: the batch cannot commit
    broker.addHooks({ messagePublished: (_c, m) => { if (m.topic.startsWith('f/')) store.transaction(() => insertSide.run(parent)); } });

    const doomed = await RawClient.connect(port, { clientId: 'doomed' });
    doomed.send({ cmd: 'publish', topic: 'f/1', payload: Buffer.from('lost'), qos: 1, messageId: 1, retain: false, dup: false } as Packet);
    assert.equal(await doomed.waitClosed(), true, 'the client is dropped');
    assert.deepEqual(doomed.packets.filter((p) => p.cmd === 'puback'), [], 'no PUBACK for a message that is not on disk');
    assert.ok(events.some((e) => e.kind === 'store_failure' && e.severity === 'error'), 'a store_failure hub event');

    store.db.exec('INSERT INTO side_parent (id) VALUES (8)');
    parent = 8;
    const fine = await RawClient.connect(port, { clientId: 'fine' });
    fine.send({ cmd: 'publish', topic: 'f/2', payload: Buffer.from('kept'), qos: 1, messageId: 1, retain: false, dup: false } as Packet);
    await fine.next('puback');
    assert.deepEqual(reader.prepare('SELECT parent FROM side').all(), [{ parent: 8 }], "the writer's row committed with the message");

    // What a restarted hub finds: the acknowledged message, not the other.
    fine.destroy();
    await broker.close();
    await start();
    assert.deepEqual(broker.sessions().find((s) => s.clientId === 'keeper3')?.queued, 1);
    const back = await RawClient.connect(port, { clientId: 'keeper3', clean: false });
    assert.equal(((await back.next('publish')) as { payload: Buffer }).payload.toString(), 'kept');
    back.destroy();
  });

  it('writes no packet waits for still commit at the end of the turn', async () => {
    await offlineSubscriber('idle', 'i/#', 1);
    const commits0 = store.batches.commits;
    store.kvPut('test', 'k', { v: 1 });
    assert.equal(store.uncommitted, true);
    await new Promise((r) => setImmediate(r));
    assert.equal(store.uncommitted, false);
    assert.equal(store.batches.commits, commits0 + 1);
    assert.deepEqual(reader.prepare("SELECT value FROM kv WHERE ns = 'test'").all(), [{ value: '{"v":1}' }]);
  });
});
