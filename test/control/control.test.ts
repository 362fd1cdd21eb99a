// The HIL controls, programmatic API, against a real broker and real MQTT peers.
import { strict as assert } from 'assert';
import * as net from 'net';
import { TimeoutError } from '../../host-broker/control/control';
import { connect, ControlledHub, endAll, RawClient, startControlledHub, until } from './fixture';

describe('control: programmatic HIL API', function () {
  this.timeout(20000);
  let hub: ControlledHub;
  beforeEach(async () => { hub = await startControlledHub(); });
  afterEach(async () => { await endAll(); await hub.close(); });

  it('lists clients and sessions', async () => {
    await connect(hub.url, { clientId: 'lister', clean: false });
    assert.deepEqual(hub.control.clients().map((c) => c.clientId), ['lister']);
    const s = hub.control.sessions().find((x) => x.clientId === 'lister')!;
    assert.deepEqual([s.connected, s.persistent], [true, true]);
  });

  it('records a transcript in both directions, without the password', async () => {
    const c = await connect(hub.url, { clientId: 'talker', username: 'u', password: 'hunter2' });
    await c.subscribeAsync('t/#', { qos: 1 });
    await c.publishAsync('t/x', 'hello', { qos: 1 });
    await until(() => hub.control.transcript('talker').some((e) => e.dir === 'out' && e.cmd === 'publish'), 'the echo');
    const t = hub.control.transcript('talker');
    const shape = t.map((e) => `${e.dir}:${e.cmd}`);
    for (const want of ['in:connect', 'out:connack', 'in:subscribe', 'out:suback', 'in:publish', 'out:puback', 'out:publish']) {
      assert.ok(shape.includes(want), `${want} in ${shape.join(' ')}`);
    }
    const pub = t.find((e) => e.dir === 'in' && e.cmd === 'publish')!;
    assert.deepEqual([pub.topic, pub.qos, pub.payload, pub.payloadBytes, pub.dup], ['t/x', 1, 'hello', 5, false]);
    assert.ok(!JSON.stringify(t).includes('hunter2'));
    assert.equal(t.find((e) => e.cmd === 'connect')!.username, 'u');
    const last = t[t.length - 1].seq;
    assert.deepEqual(hub.control.transcript('talker', { after: last }), []);
  });

  it('drop the next PUBACK to a client: after reconnect it re-sends the PUBLISH with DUP and the same id', async () => {
    hub.control.dropNext({ clientId: 'resender', direction: 'out', cmd: 'puback' });
    const raw = new RawClient(hub.port, 'resender');
    await raw.connect(false);
    raw.send({ cmd: 'publish', topic: 'r/1', payload: Buffer.from('once'), qos: 1, messageId: 7, dup: false, retain: false });
    await until(() => hub.control.transcript('resender').some((e) => e.cmd === 'puback' && e.fault === 'dropped'), 'the dropped PUBACK');
    assert.equal(hub.control.listFaults().length, 0, 'a count-1 rule is used up');
    assert.equal(hub.control.disconnect('resender'), true);
    await raw.closed();
    const connack = await raw.connect(false) as any;
    assert.equal(connack.sessionPresent, true);
    raw.send({ cmd: 'publish', topic: 'r/1', payload: Buffer.from('once'), qos: 1, messageId: 7, dup: true, retain: false });
    const ack = await raw.next((p) => p.cmd === 'puback') as any;
    assert.equal(ack.messageId, 7);
    const t = hub.control.transcript('resender').filter((e) => e.cmd === 'publish' || e.cmd === 'puback');
    assert.deepEqual(t.map((e) => [e.dir, e.cmd, e.messageId, e.dup ?? null, e.fault ?? null]), [
      ['in', 'publish', 7, false, null], ['out', 'puback', 7, null, 'dropped'],
      ['in', 'publish', 7, true, null], ['out', 'puback', 7, null, null],
    ]);
    raw.destroy();
  });

  it('drop the next PUBACK to an MQTT.js publisher: it re-sends the same packet id after reconnect and its publish completes', async () => {
    const c = await connect(hub.url, { clientId: 'mqttjs-pub', clean: false, reconnectPeriod: 100 });
    hub.control.dropNext({ clientId: 'mqttjs-pub', direction: 'out', cmd: 'puback' });
    const done = c.publishAsync('p/1', 'x', { qos: 1 });
    await until(() => hub.control.transcript('mqttjs-pub').some((e) => e.fault === 'dropped'), 'the dropped PUBACK');
    hub.control.disconnect('mqttjs-pub');
    await done; // resolves only when a PUBACK finally arrives
    const ins = hub.control.transcript('mqttjs-pub').filter((e) => e.dir === 'in' && e.cmd === 'publish');
    assert.equal(ins.length, 2);
    assert.equal(ins[1].messageId, ins[0].messageId);
    // (MQTT.js 5 leaves DUP at 0 on this re-send; the RawClient test above shows a DUP=1 re-send.)
  });

  it('drop the next PUBACK from a subscriber: the broker redelivers with DUP when it comes back', async () => {
    const sub = await connect(hub.url, { clientId: 'sub1', clean: false, reconnectPeriod: 100 });
    await sub.subscribeAsync('q/#', { qos: 1 });
    hub.control.dropNext({ clientId: 'sub1', direction: 'in', cmd: 'puback' });
    const firstTwo: boolean[] = [];
    const got = new Promise<void>((resolve) => sub.on('message', (_t, _p, packet) => { firstTwo.push(!!packet.dup); if (firstTwo.length === 2) resolve(); }));
    await hub.control.publish({ topic: 'q/a', payload: 'x', qos: 1 });
    await until(() => hub.control.transcript('sub1').some((e) => e.cmd === 'puback' && e.fault === 'dropped'), 'the dropped PUBACK');
    hub.control.disconnect('sub1');
    await got; // MQTT.js reconnects by itself and receives the redelivery
    assert.deepEqual(firstTwo, [false, true]);
    const outs = hub.control.transcript('sub1').filter((e) => e.dir === 'out' && e.cmd === 'publish');
    assert.equal(outs[1].messageId, outs[0].messageId);
  });

  it('waitForMessage: the next match, or one already seen after `since`; a TimeoutError otherwise', async () => {
    const c = await connect(hub.url);
    const since = hub.control.lastMessageSeq();
    await c.publishAsync('early/x', 'already', { qos: 1 });
    const early = await hub.control.waitForMessage('early/+', { since, timeoutMs: 1000 });
    assert.equal(early.payload.toString(), 'already');
    const pending = hub.control.waitForMessage('late/#', { timeoutMs: 5000 });
    await c.publishAsync('other', 'no', { qos: 0 });
    await c.publishAsync('late/a/b', 'yes', { qos: 0 });
    const m = await pending;
    assert.deepEqual([m.topic, m.payload.toString(), m.fromClientId], ['late/a/b', 'yes', c.options.clientId]);
    await assert.rejects(hub.control.waitForMessage('never', { timeoutMs: 50 }), TimeoutError);
    assert.throws(() => hub.control.waitForMessage('bad/#/x'), /filter: /);
  });

  it('delays the next packet of a type and keeps order behind it', async () => {
    const c = await connect(hub.url, { clientId: 'slow' });
    await c.subscribeAsync('d/#', { qos: 0 });
    hub.control.delayNext({ clientId: 'slow', direction: 'out', cmd: 'publish', ms: 200 });
    const got: string[] = [];
    c.on('message', (_t, p) => got.push(p.toString()));
    await hub.control.publish({ topic: 'd/1', payload: 'first', qos: 0 });
    await hub.control.publish({ topic: 'd/2', payload: 'second', qos: 0 });
    await until(() => got.length === 2, 'both messages');
    assert.deepEqual(got, ['first', 'second']);
    const delayed = hub.control.transcript('slow').find((e) => e.fault === 'delayed')!;
    assert.deepEqual([delayed.topic, delayed.delayMs], ['d/1', 200]);
  });

  it('disconnects a client abruptly: its Will fires', async () => {
    const watcher = await connect(hub.url);
    await watcher.subscribeAsync('wills/#', { qos: 0 });
    const will = hub.control.waitForMessage('wills/victim');
    const victim = await connect(hub.url, { clientId: 'victim', will: { topic: 'wills/victim', payload: Buffer.from('lost'), qos: 0, retain: false } });
    const closed = new Promise<void>((r) => victim.once('close', () => r()));
    assert.equal(hub.control.disconnect('victim'), true);
    await closed;
    assert.equal((await will).payload.toString(), 'lost');
    assert.equal(hub.control.disconnect('nobody'), false);
  });

  it('refuses new connections for a while, then accepts again', async () => {
    hub.control.refuseConnections(60_000);
    assert.ok(hub.control.refusingFor() > 0);
    await assert.rejects(connect(hub.url), /closed before CONNACK|ECONNRESET|EPIPE/);
    hub.control.refuseConnections(0);
    (await connect(hub.url)).end(true);
  });

  it('stops a listener (its clients drop, connects fail) and starts it again on the same port', async () => {
    const c = await connect(hub.url);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    await hub.control.stopListener('tcp');
    await closed;
    await assert.rejects(new Promise((resolve, reject) => {
      const s = net.connect(hub.port, '127.0.0.1', () => { s.destroy(); resolve(undefined); });
      s.on('error', reject);
    }), /ECONNREFUSED/);
    assert.equal(await hub.control.startListener('tcp'), hub.port);
    (await connect(hub.url)).end(true);
    assert.equal(await hub.control.restartListener('tcp', { downMs: 10 }), hub.port);
    await assert.rejects(hub.control.stopListener('udp' as any), /listener: expected one of tcp, tls, ws/);
  });

  it('a "disconnect" fault closes the client when its packet of that type arrives', async () => {
    const c = await connect(hub.url, { clientId: 'pinger', keepalive: 1 });
    hub.control.addFault({ clientId: 'pinger', direction: 'in', cmd: 'pingreq', action: 'disconnect' });
    await new Promise<void>((r) => c.once('close', () => r()));
    assert.ok(hub.control.transcript('pinger').some((e) => e.cmd === 'pingreq' && e.fault === 'disconnected'));
  });
});
