// The same controls over the local HTTP JSON API, through the Node client a
// HIL test in another process would use.
import { strict as assert } from 'assert';
import { ControlApiError, ControlClient } from '../../host-broker/control/http-client';
import { startControlServer } from '../../host-broker/control/http-server';
import { Broker } from '../../host-broker/broker';
import { createControl } from '../../host-broker/control/control';
import { DeviceRegistry } from '../../host-broker/security/device-registry';
import { DeviceSecurity } from '../../host-broker/security/device-security';
import { connect, ControlledHub, endAll, raw, RawClient, startControlledHub, until } from './fixture';

describe('control: HTTP JSON API', function () {
  this.timeout(20000);
  let hub: ControlledHub;
  let api: ControlClient;
  beforeEach(async () => {
    hub = await startControlledHub();
    api = new ControlClient(hub.http.url);
  });
  afterEach(async () => { await endAll(); await hub.close(); });

  it('is bound to 127.0.0.1 by default and answers /health with the listener ports', async () => {
    assert.equal((hub.http.server.address() as any).address, '127.0.0.1');
    const h = await api.health();
    assert.deepEqual([h.ok, h.listeners.tcp], [true, hub.port]);
  });

  it('lists clients and sessions, and reads a transcript (with ?after)', async () => {
    const c = await connect(hub.url, { clientId: 'h1', clean: false });
    await c.publishAsync('a/b', 'hi', { qos: 1 });
    assert.deepEqual((await api.clients()).map((x) => x.clientId), ['h1']);
    assert.equal((await api.sessions())[0].persistent, true);
    const t = await api.transcript('h1');
    assert.ok(t.some((e) => e.dir === 'in' && e.cmd === 'publish' && e.payload === 'hi'));
    assert.ok(t.some((e) => e.dir === 'out' && e.cmd === 'puback'));
    assert.deepEqual(await api.transcript('h1', { after: t[t.length - 1].seq }), []);
    await api.clearTranscript('h1');
    assert.deepEqual(await api.transcript('h1'), []);
  });

  it('drop next PUBACK -> the client re-sends with DUP after an abrupt disconnect', async () => {
    const rule = await api.dropNext({ clientId: 'hdup', direction: 'out', cmd: 'puback' });
    assert.equal(rule.remaining, 1);
    assert.equal((await api.listFaults()).length, 1);
    const rc = new RawClient(hub.port, 'hdup');
    await rc.connect(false);
    rc.send({ cmd: 'publish', topic: 'x', payload: Buffer.from('1'), qos: 1, messageId: 42, dup: false, retain: false });
    await until(async () => (await api.transcript('hdup')).some((e) => e.fault === 'dropped'), 'the dropped PUBACK');
    await api.disconnect('hdup');
    await rc.closed();
    await rc.connect(false);
    rc.send({ cmd: 'publish', topic: 'x', payload: Buffer.from('1'), qos: 1, messageId: 42, dup: true, retain: false });
    await rc.next((p) => p.cmd === 'puback');
    const pubs = (await api.transcript('hdup')).filter((e) => e.cmd === 'publish');
    assert.deepEqual(pubs.map((e) => [e.messageId, e.dup]), [[42, false], [42, true]]);
    rc.destroy();
  });

  it('waitForMessage long-polls; 408 on timeout; `since` finds one already seen', async () => {
    const c = await connect(hub.url);
    const { lastSeq } = await api.messages();
    const waiting = api.waitForMessage('w/+', { timeoutMs: 5000 });
    await until(async () => (await api.health()).pendingWaits === 1, 'the long poll to register');
    await c.publishAsync('w/1', 'now', { qos: 0 });
    const m = await waiting;
    assert.deepEqual([m.topic, m.payload, m.payloadBase64, m.qos], ['w/1', 'now', Buffer.from('now').toString('base64'), 0]);
    const again = await api.waitForMessage('w/#', { since: lastSeq, timeoutMs: 100 });
    assert.equal(again.seq, m.seq);
    await assert.rejects(api.waitForMessage('nothing/here', { timeoutMs: 50 }), (e: any) => e instanceof ControlApiError && e.status === 408);
    const list = await api.messages({ filter: 'w/#' });
    assert.deepEqual(list.messages.map((x) => x.topic), ['w/1']);
  });

  it('publishes as the hub', async () => {
    const c = await connect(hub.url);
    await c.subscribeAsync('cmd/#', { qos: 1 });
    const got = new Promise<string>((r) => c.once('message', (_t, p) => r(p.toString())));
    await api.publish({ topic: 'cmd/reboot', payload: 'now', qos: 1 });
    assert.equal(await got, 'now');
    await assert.rejects(api.publish({ topic: 'bad/#' }), (e: any) => e.status === 400 && /wildcard/.test(e.message));
  });

  it('refuses connects for a while, then accepts again', async () => {
    assert.ok((await api.refuseConnections(60_000)).refusingForMs > 0);
    await assert.rejects(connect(hub.url));
    await api.refuseConnections(0);
    (await connect(hub.url)).end(true);
  });

  it('stops and restarts a listener; connected clients drop', async () => {
    const c = await connect(hub.url);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    await api.stopListener('tcp');
    await closed;
    assert.deepEqual(await api.listeners(), {});
    assert.equal((await api.startListener('tcp')).port, hub.port);
    assert.equal((await api.restartListener('tcp', { downMs: 20 })).port, hub.port);
    (await connect(hub.url)).end(true);
  });

  it('answers bad requests with 400 naming the field, unknown paths 404, wrong methods 405', async () => {
    const bad = await raw(hub.http.url, 'POST', '/faults', JSON.stringify({ direction: 'sideways', cmd: 'puback', action: 'drop' }));
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /fault\.direction/);
    assert.equal((await raw(hub.http.url, 'POST', '/faults', '{not json')).status, 400);
    assert.match((await raw(hub.http.url, 'POST', '/refuse-connections', '{}')).json.error, /^ms: required/);
    assert.match((await raw(hub.http.url, 'POST', '/listeners/udp/stop')).json.error, /listener: expected one of/);
    assert.equal((await raw(hub.http.url, 'GET', '/nope')).status, 404);
    assert.equal((await raw(hub.http.url, 'DELETE', '/clients')).status, 405);
    assert.equal((await raw(hub.http.url, 'POST', '/clients/ghost/disconnect')).status, 404);
    assert.equal((await raw(hub.http.url, 'GET', '/devices')).status, 404, 'no device security on this broker');
    assert.equal((await api.health()).ok, true, 'still serving');
  });
});

describe('control: HTTP device endpoints', function () {
  this.timeout(20000);
  it('lists devices and disables one, kicking its client', async () => {
    const registry = new DeviceRegistry({ file: ':memory:' });
    registry.add({ id: 'dev1', username: 'u', password: 'p' });
    const security = new DeviceSecurity({ registry, watchIntervalMs: 0 });
    const broker = new Broker({ hooks: [security] });
    security.attach(broker);
    const control = createControl(broker);
    const { tcp } = await broker.listen({ tcp: { port: 0 } });
    const srv = await startControlServer(control, { security });
    try {
      const api = new ControlClient(srv.url);
      assert.deepEqual((await api.devices()).map((d) => [d.id, d.enabled]), [['dev1', true]]);
      const c = await connect(`mqtt://127.0.0.1:${tcp}`, { username: 'u', password: 'p' });
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      assert.equal((await api.disableDevice('dev1')).kicked, 1);
      await closed;
      await api.enableDevice('dev1');
      assert.equal(registry.get('dev1')!.enabled, true);
      await assert.rejects(api.disableDevice('ghost'), (e: any) => e.status === 404);
    } finally {
      await endAll();
      control.close();
      await srv.close();
      await broker.close();
      security.stop();
      registry.close();
    }
  });
});
