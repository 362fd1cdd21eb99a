// The hook contract (host-broker/hooks.ts) as the core honours it: socket
// acceptance, packet verdicts for fault injection, lifecycle, and limits.
import { strict as assert } from 'assert';
import type { Packet } from 'mqtt-packet';
import type { BrokerHooks, ClientInfo } from '../../host-broker/hooks';
import { RawClient, startBroker, mqttClient, until, sleep, connectFails, type Running } from './support';

describe('broker hooks', () => {
  let r: Running;
  afterEach(async () => { await r.broker.close(); });

  it('acceptSocket false closes a new socket at once', async () => {
    r = await startBroker();
    let refuse = true;
    r.broker.addHooks({ acceptSocket: (info) => { assert.equal(info.listener, 'tcp'); return !refuse; } });
    await connectFails(r.url, { clientId: 'a' });
    refuse = false;
    const ok = await mqttClient(r.url, { clientId: 'b' });
    await ok.endAsync();
  });

  it('packetIn drop: the packet is ignored (a dropped PUBLISH QoS 1 gets no PUBACK)', async () => {
    r = await startBroker();
    let drops = 1;
    r.broker.addHooks({ packetIn: (_c, p) => (p.cmd === 'publish' && drops-- > 0 ? { action: 'drop' } : undefined) });
    const c = await RawClient.connect(r.port, { clientId: 'd' });
    c.send({ cmd: 'publish', topic: 't', payload: Buffer.from('1'), qos: 1, messageId: 1, retain: false, dup: false } as Packet);
    c.send({ cmd: 'publish', topic: 't', payload: Buffer.from('2'), qos: 1, messageId: 2, retain: false, dup: false } as Packet);
    assert.equal(((await c.next('puback')) as any).messageId, 2);
    await sleep(50);
    assert.equal(c.packets.length, 0);
  });

  it('packetIn delay holds that packet and the ones behind it, in order', async () => {
    r = await startBroker();
    r.broker.addHooks({ packetIn: (_c, p) => (p.cmd === 'publish' && (p as any).messageId === 1 ? { action: 'delay', ms: 300 } : undefined) });
    const c = await RawClient.connect(r.port, { clientId: 'slow' });
    const t0 = Date.now();
    c.send({ cmd: 'publish', topic: 't', payload: Buffer.from('1'), qos: 1, messageId: 1, retain: false, dup: false } as Packet);
    c.send({ cmd: 'pingreq' } as Packet);
    assert.equal(((await c.next()) as any).messageId, 1);
    assert.ok(Date.now() - t0 >= 290);
    assert.equal((await c.next()).cmd, 'pingresp');
  });

  it('packetIn disconnect drops the client abruptly (its Will fires)', async () => {
    r = await startBroker();
    r.broker.addHooks({ packetIn: (_c, p) => (p.cmd === 'subscribe' ? { action: 'disconnect' } : undefined) });
    const watcher = await r.broker.publish({ topic: 'x', payload: 'warm-up' }).then(() => mqttClient(r.url, { clientId: 'w' }));
    const wills: string[] = [];
    r.broker.on('message', (t: string) => { if (t.startsWith('will/')) wills.push(t); });
    const c = await RawClient.connect(r.port, { clientId: 'x', will: { topic: 'will/x', payload: Buffer.from('bye'), qos: 0, retain: false } } as any);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] } as Packet);
    assert.equal(await c.waitClosed(), true);
    await until(() => wills.length === 1, 'the Will');
    watcher.end(true);
  });

  it('[MQTT-3.14.4-3] a DISCONNECT held by a delay hook still discards the Will when the socket closes behind it', async () => {
    r = await startBroker();
    r.broker.addHooks({ packetIn: (_c, p) => (p.cmd === 'disconnect' ? { action: 'delay', ms: 200 } : undefined) });
    const topics: string[] = [];
    r.broker.on('message', (t: string) => topics.push(t));
    const c = await RawClient.connect(r.port, { clientId: 'bye', will: { topic: 'will/bye', payload: Buffer.from('x'), qos: 0, retain: false } } as any);
    c.send({ cmd: 'disconnect' } as Packet);
    c.socket.end();
    await until(() => r.broker.clients().length === 0, 'the client to leave');
    await sleep(50);
    assert.deepEqual(topics, []);
  });

  it('packetOut drop/delay: a dropped PINGRESP never arrives; a delayed SUBACK arrives late', async () => {
    r = await startBroker();
    r.broker.addHooks({
      packetOut: (_c, p) => (p.cmd === 'pingresp' ? { action: 'drop' } : p.cmd === 'suback' ? { action: 'delay', ms: 200 } : undefined),
    });
    const c = await RawClient.connect(r.port, { clientId: 'o' });
    c.send({ cmd: 'pingreq' } as Packet);
    const t0 = Date.now();
    c.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a', qos: 0 }] } as Packet);
    await c.next('suback');
    assert.ok(Date.now() - t0 >= 190);
    assert.equal(c.packets.length, 0, 'no PINGRESP');
  });

  it('packetIn sees every decoded packet, packetOut every packet sent, with the client info', async () => {
    r = await startBroker();
    const log: string[] = [];
    r.broker.addHooks({ packetIn: (c, p) => { log.push(`in:${c.clientId || '?'}:${p.cmd}`); return undefined; }, packetOut: (c, p) => { log.push(`out:${c.clientId}:${p.cmd}`); return undefined; } });
    const c = await RawClient.connect(r.port, { clientId: 'tx' });
    c.send({ cmd: 'pingreq' } as Packet);
    await c.next('pingresp');
    assert.deepEqual(log, ['in:?:connect', 'out:tx:connack', 'in:tx:pingreq', 'out:tx:pingresp']);
  });

  it('calls clientConnected/clientDisconnected hooks and emits the events', async () => {
    r = await startBroker();
    const calls: string[] = [];
    const h: BrokerHooks = {
      clientConnected: (c, sp) => calls.push(`hook+${c.clientId}:${sp}`),
      clientDisconnected: (c, why) => calls.push(`hook-${c.clientId}:${why}`),
    };
    r.broker.addHooks(h);
    r.broker.on('clientConnected', (c: ClientInfo) => calls.push(`ev+${c.clientId}`));
    r.broker.on('clientDisconnected', (c: ClientInfo) => calls.push(`ev-${c.clientId}`));
    const c = await mqttClient(r.url, { clientId: 'life' });
    await c.endAsync();
    await until(() => calls.length === 4, 'four calls');
    assert.deepEqual(calls, ['hook+life:false', 'ev+life', 'hook-life:DISCONNECT', 'ev-life']);
  });

  it('the first refusal wins; a throwing hook counts as a refusal and does not crash the broker', async () => {
    r = await startBroker();
    r.broker.addHooks({ authorizeSubscribe: () => true });
    r.broker.addHooks({ authorizeSubscribe: (_c, f) => { if (f === 'boom') throw new Error('policy bug'); return f !== 'no'; } });
    const c = await RawClient.connect(r.port, { clientId: 'h' });
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ok', qos: 1 }, { topic: 'no', qos: 1 }, { topic: 'boom', qos: 1 }] } as Packet);
    assert.deepEqual(((await c.next('suback')) as any).granted, [1, 0x80, 0x80]);
  });

  it('authorizeDelivery decides per client and per message (QoS 0, queued QoS 1, retained); a throwing one drops the message, not the broker', async () => {
    r = await startBroker();
    r.broker.addHooks({ authorizeDelivery: (c, t) => {
      if (t === 'boom') throw new Error('policy bug');
      return !(c.clientId === 'picky' && t.startsWith('hidden/'));
    } });
    await r.broker.publish({ topic: 'hidden/old', payload: 'r', qos: 1, retain: true });
    const picky = await RawClient.connect(r.port, { clientId: 'picky' });
    const other = await RawClient.connect(r.port, { clientId: 'other' });
    for (const c of [picky, other]) {
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1 }] } as Packet);
      await c.next('suback');
    }
    for (const [topic, qos] of [['hidden/a', 0], ['hidden/b', 1], ['boom', 1], ['shown', 1]] as const) await r.broker.publish({ topic, payload: 'x', qos });
    const topics = async (c: RawClient) => {
      const got: string[] = [];
      for (;;) {
        const p = (await c.next('publish')) as any;
        got.push(p.topic);
        if (p.qos) c.send({ cmd: 'puback', messageId: p.messageId } as Packet);
        if (p.topic === 'shown') return got;
      }
    };
    assert.deepEqual(await topics(picky), ['shown']);
    assert.deepEqual(await topics(other), ['hidden/old', 'hidden/a', 'hidden/b', 'shown']);
    assert.equal(picky.closed || other.closed, false);
  });

  it('an async authenticate hook holds the packets behind CONNECT until it answers', async () => {
    r = await startBroker();
    r.broker.addHooks({ authenticate: async () => { await sleep(100); return { ok: true, deviceId: 'slowpoke' }; } });
    const c = await RawClient.connectSocket(r.port);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'async', keepalive: 60 } as any);
    c.send({ cmd: 'pingreq' } as Packet);
    assert.equal((await c.next()).cmd, 'connack');
    assert.equal((await c.next()).cmd, 'pingresp');
  });

  it('maxConnections refuses sockets beyond the limit with a limit_exceeded event', async () => {
    r = await startBroker({ limits: { maxConnections: 2 } });
    const a = await mqttClient(r.url, { clientId: 'a' });
    const b = await mqttClient(r.url, { clientId: 'b' });
    await connectFails(r.url, { clientId: 'c' });
    assert.equal(r.events[0].kind, 'limit_exceeded');
    await a.endAsync();
    await until(() => r.broker.clients().length === 1, 'a to leave');
    const c = await mqttClient(r.url, { clientId: 'c' });
    await c.endAsync(); await b.endAsync();
  });
});
