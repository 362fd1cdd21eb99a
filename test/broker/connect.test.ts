// CONNECT / CONNACK server-side rules (MQTT 3.1.1 section 3.1, 3.2).
import { strict as assert } from 'assert';
import { RawClient, startBroker, mqttClient, until, encode, type Running } from './support';

describe('broker CONNECT', () => {
  let r: Running;
  beforeEach(async () => { r = await startBroker({ limits: { connectTimeoutMs: 300 } }); });
  afterEach(async () => { await r.broker.close(); });

  it('[MQTT-3.1.0-1] closes a connection whose first packet is not CONNECT', async () => {
    const c = await RawClient.connectSocket(r.port);
    c.send({ cmd: 'pingreq' });
    assert.equal(await c.waitClosed(), true);
    assert.equal(r.events[0].kind, 'protocol_violation');
  });

  it('[MQTT-3.1.0-2] treats a second CONNECT as a protocol violation and closes', async () => {
    const c = await RawClient.connect(r.port, { clientId: 'twice' });
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'twice', keepalive: 60 } as any);
    assert.equal(await c.waitClosed(), true);
    assert.ok(r.events.some((e) => e.kind === 'protocol_violation' && e.objectId === 'twice' && /second CONNECT/.test(e.message)));
  });

  it('[MQTT-3.1.2-2] answers an unsupported protocol level with CONNACK 0x01 and closes', async () => {
    const c = await RawClient.connectSocket(r.port);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'v5', keepalive: 60 } as any);
    const ack: any = await c.next('connack');
    assert.equal(ack.returnCode, 1);
    assert.equal(await c.waitClosed(), true);
  });

  it('[MQTT-3.1.2-2] answers "MQTT" at level 3 and "MQIsdp" at level 4 with CONNACK 0x01 (MQTT 3.1 is MQIsdp level 3: test/broker/mqtt31.test.ts)', async () => {
    for (const [protocolId, protocolVersion] of [['MQTT', 3], ['MQIsdp', 4]] as const) {
      const c = await RawClient.connectSocket(r.port);
      c.send({ cmd: 'connect', protocolId, protocolVersion, clean: true, clientId: 'v3', keepalive: 60 } as any);
      assert.equal(((await c.next('connack')) as any).returnCode, 1, `${protocolId} ${protocolVersion}`);
      assert.equal(await c.waitClosed(), true);
    }
  });

  it('[MQTT-3.1.2-1] closes on a protocol name other than MQTT, without CONNACK', async () => {
    const c = await RawClient.connectSocket(r.port);
    const bytes = encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'x', keepalive: 60 } as any);
    bytes.write('MQTX', 4, 'latin1');
    c.sendRaw(bytes);
    assert.equal(await c.waitClosed(), true);
    assert.equal(c.packets.length, 0);
    assert.equal(r.events[0].kind, 'malformed_packet');
  });

  const flagCases: [string, number, RegExp][] = [
    ['[MQTT-3.1.2-3] reserved connect flag bit 0 set', 0x03, /reserved flag/],
    ['[MQTT-3.1.2-13] Will QoS without the Will flag', 0x0a, /Will QoS/],
    ['[MQTT-3.1.2-14] Will QoS 3', 0x1e, /Will QoS is 3/],
    ['[MQTT-3.1.2-15] Will Retain without the Will flag', 0x22, /Will Retain/],
    ['[MQTT-3.1.2-22] a password without a user name', 0x42, /password without a user name/],
  ];
  for (const [title, flags, why] of flagCases) {
    it(`${title}: closes the connection`, async () => {
      const c = await RawClient.connectSocket(r.port);
      const bytes = encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'f', keepalive: 60 } as any);
      bytes[9] = flags; // connect flags byte: 2 header + 6 name + 1 level
      c.sendRaw(bytes);
      assert.equal(await c.waitClosed(), true);
      assert.equal(c.packets.length, 0);
      assert.match(r.events[0].message, why);
    });
  }

  it('[MQTT-3.1.3-8] refuses an empty client id with clean session 0: CONNACK 0x02', async () => {
    const c = await RawClient.connectSocket(r.port);
    // Written by hand: mqtt-packet will not generate this CONNECT.
    c.sendRaw([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 60, 0, 0]);
    assert.equal(((await c.next('connack')) as any).returnCode, 2);
    assert.equal(await c.waitClosed(), true);
  });

  it('[MQTT-3.1.3-6] accepts an empty client id with clean session 1 and assigns one', async () => {
    const c = await RawClient.connect(r.port, { clientId: '' });
    assert.equal(c.closed, false);
    const ids = r.broker.clients().map((x) => x.clientId);
    assert.equal(ids.length, 1);
    assert.match(ids[0], /^auto-/);
  });

  it('[MQTT-3.1.3-5] accepts 1-23 character alphanumeric client ids (and longer UTF-8 ones)', async () => {
    for (const id of ['a', '0123456789abcdefghijKLM', 'gerät-küche/01 longer than twenty-three']) {
      const c = await RawClient.connect(r.port, { clientId: id });
      c.destroy();
    }
  });

  it('[MQTT-3.2.2-1] session present is 0 for clean session', async () => {
    const a = await RawClient.connectSocket(r.port);
    a.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'c1', keepalive: 60 } as any);
    assert.equal(((await a.next('connack')) as any).sessionPresent, false);
  });

  it('[MQTT-3.2.2-2] [MQTT-3.2.2-3] session present reflects a stored session for clean session 0', async () => {
    const first = await mqttClient(r.url, { clientId: 'persist', clean: false });
    await first.subscribeAsync('x/y', { qos: 1 });
    await first.endAsync();
    const a = await RawClient.connectSocket(r.port);
    a.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'persist', keepalive: 60 } as any);
    assert.equal(((await a.next('connack')) as any).sessionPresent, true);
    a.destroy();
    const b = await RawClient.connectSocket(r.port);
    b.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'never-seen', keepalive: 60 } as any);
    assert.equal(((await b.next('connack')) as any).sessionPresent, false);
  });

  it('[MQTT-3.1.2-6] clean session 1 discards a stored session', async () => {
    const first = await mqttClient(r.url, { clientId: 'dropme', clean: false });
    await first.subscribeAsync('x/y', { qos: 1 });
    await first.endAsync();
    const c = await RawClient.connect(r.port, { clientId: 'dropme', clean: true });
    assert.deepEqual(r.broker.sessions().find((s) => s.clientId === 'dropme')!.subscriptions, []);
    c.destroy();
    await until(() => !r.broker.sessions().some((s) => s.clientId === 'dropme'), 'the clean session to end');
  });

  it('[MQTT-3.1.4-2] a second client with the same id takes over: the first is disconnected', async () => {
    const a = await RawClient.connect(r.port, { clientId: 'same' });
    const b = await RawClient.connect(r.port, { clientId: 'same' });
    assert.equal(await a.waitClosed(), true);
    assert.equal(b.closed, false);
    b.send({ cmd: 'pingreq' });
    await b.next('pingresp');
    assert.equal(r.broker.clients().filter((c) => c.clientId === 'same').length, 1);
  });

  it('closes a socket that sends no CONNECT within the timeout, with a connect_timeout event', async () => {
    const c = await RawClient.connectSocket(r.port);
    assert.equal(await c.waitClosed(2000), true);
    assert.equal(r.events[0].kind, 'connect_timeout');
  });

  it('answers an authenticate refusal with its CONNACK code and raises its event', async () => {
    r.broker.addHooks({
      authenticate: (req) => (req.username === 'good' ? { ok: true, deviceId: 'dev-1' } : { ok: false, returnCode: 4, reason: 'bad user name or password', event: 'authentication_failure' }),
    });
    const c = await RawClient.connectSocket(r.port);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'intruder', keepalive: 60, username: 'bad', password: Buffer.from('x') } as any);
    assert.equal(((await c.next('connack')) as any).returnCode, 4);
    assert.equal(await c.waitClosed(), true);
    assert.equal(r.events[0].kind, 'authentication_failure');
    const ok = await RawClient.connect(r.port, { clientId: 'friend', username: 'good' });
    assert.equal(r.broker.clients()[0].deviceId, 'dev-1');
    ok.destroy();
  });

  it('refuses a CONNECT whose Will topic the policy forbids: CONNACK 0x05 + unauthorized_topic', async () => {
    r.broker.addHooks({ authorizePublish: (_c, topic, isWill) => !(isWill && topic.startsWith('secret/')) });
    const c = await RawClient.connectSocket(r.port);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'w', keepalive: 60, will: { topic: 'secret/x', payload: Buffer.from('bye'), qos: 0, retain: false } } as any);
    assert.equal(((await c.next('connack')) as any).returnCode, 5);
    assert.equal(r.events[0].kind, 'unauthorized_topic');
  });

  it('[MQTT-3.1.3-10] closes when the Will topic contains a wildcard', async () => {
    const c = await RawClient.connectSocket(r.port);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'w', keepalive: 60, will: { topic: 'a/+', payload: Buffer.from('bye'), qos: 0, retain: false } } as any);
    assert.equal(await c.waitClosed(), true);
    assert.equal(c.packets.length, 0);
  });
});
