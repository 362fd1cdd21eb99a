// Device security over real sockets: MQTT.js peers against the host broker on
// 127.0.0.1, TCP and mutual TLS with certificates from the hub CA. Hub events
// are watched the way an operator would: subscribed to $hub/events/#.
import { strict as assert } from 'assert';
import { MqttClient } from 'mqtt';
import { HubCA } from '../../host-broker/security/ca';
import { DeviceRegistry } from '../../host-broker/security/device-registry';
import { connect, endAll, Hub, nextMessage, refusedWith, startHub } from './hub-fixture';

describe('device security over real sockets', function () {
  this.timeout(20000);
  let hub: Hub;
  let tcp: string;
  let tlsUrl: string;
  let watcher: MqttClient;

  const eventOf = (kind: string) => nextMessage(watcher, (topic, body) => topic.startsWith('$hub/events/') && JSON.parse(body).kind === kind);

  before(async () => {
    hub = await startHub();
    tcp = `mqtt://127.0.0.1:${hub.ports.tcp}`;
    tlsUrl = `mqtts://127.0.0.1:${hub.ports.tls}`;
    hub.registry.add({ id: 'ops', username: 'ops', password: 'ops-pw', subscribe: { accept: ['$hub/events/#'] } }); // the monitor recipe: $hub/... only when granted
    hub.registry.add({ id: 'd1', username: 'u1', password: 'p1', publish: { accept: ['d1/#'] }, subscribe: { reject: ['secret/#'] } });
    hub.registry.add({ id: 'd2', username: 'u2', password: 'p2' });
    hub.registry.add({ id: 'strict', username: 'us', password: 'ps', allowInsecure: false });
    hub.registry.add({ id: 'tlsdev', allowInsecure: false });
    watcher = await connect(tcp, { clientId: 'ops', username: 'ops', password: 'ops-pw' });
    await watcher.subscribeAsync('$hub/events/#', { qos: 0 });
  });
  after(async () => { await endAll(); await hub.close(); });

  it('accepts a device with its username and password', async () => {
    const c = await connect(tcp, { username: 'u1', password: 'p1' });
    assert.equal(c.connected, true);
    c.end(true);
  });

  it('refuses a wrong password with CONNACK 4 and an authentication_failure event', async () => {
    const ev = eventOf('authentication_failure');
    assert.equal(await refusedWith(tcp, { clientId: 'wrongpw', username: 'u1', password: 'nope' }), 4);
    const e = JSON.parse((await ev).body);
    assert.equal(e.severity, 'warning');
    assert.match(e.message, /wrong password for device d1/);
    assert.ok(e.time && e.objectType && e.objectId);
  });

  it('refuses no credentials with CONNACK 5 (anonymous access is off by default)', async () => {
    const ev = eventOf('authentication_failure');
    assert.equal(await refusedWith(tcp, { clientId: 'anon' }), 5);
    assert.match(JSON.parse((await ev).body).message, /anonymous access is off/);
  });

  it('refuses an unknown username with CONNACK 4', async () => {
    assert.equal(await refusedWith(tcp, { username: 'ghost', password: 'x' }), 4);
  });

  it('refuses a disabled device, and kicks it when disabled while connected', async () => {
    const c = await connect(tcp, { clientId: 'd2-conn', username: 'u2', password: 'p2' });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    assert.equal(hub.security.disable('d2'), 1);
    await closed;
    const ev = eventOf('device_disabled');
    assert.equal(await refusedWith(tcp, { username: 'u2', password: 'p2' }), 5);
    assert.match(JSON.parse((await ev).body).message, /device d2 is disabled/);
    hub.security.enable('d2');
    (await connect(tcp, { username: 'u2', password: 'p2' })).end(true);
  });

  it('kicks a connected device disabled from outside (another registry handle, as the CLI does)', async () => {
    const c = await connect(tcp, { username: 'u2', password: 'p2' });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    const other = new DeviceRegistry({ dataDir: hub.dir });
    other.setEnabled('d2', false);
    other.close();
    await closed; // the security watch notices the registry revision change
    hub.security.enable('d2');
  });

  it('refuses an allowInsecure:false device on plain TCP with tls_required, even with the right password', async () => {
    const ev = eventOf('tls_required');
    assert.equal(await refusedWith(tcp, { username: 'us', password: 'ps' }), 5);
    assert.match(JSON.parse((await ev).body).message, /device strict may only connect over TLS/);
  });

  it('accepts an allowInsecure:false device over TLS with its hub-CA certificate', async () => {
    const cert = hub.ca.issueDeviceCert('tlsdev');
    const c = await connect(tlsUrl, { clientId: 'tlsdev', key: cert.keyPem, cert: cert.certPem, ca: hub.ca.certPem, servername: 'localhost' });
    assert.equal(c.connected, true);
    const id = hub.broker.clients().find((x) => x.clientId === 'tlsdev');
    assert.equal(id?.deviceId, 'tlsdev');
    c.end(true);
  });

  it('refuses a pinned device presenting another certificate it was issued earlier', async () => {
    const old = hub.ca.issueDeviceCert('tlsdev');
    const current = hub.ca.issueDeviceCert('tlsdev');
    hub.registry.update('tlsdev', { certFingerprint: current.fingerprint256 });
    try {
      assert.equal(await refusedWith(tlsUrl, { key: old.keyPem, cert: old.certPem, ca: hub.ca.certPem, servername: 'localhost' }), 5);
      (await connect(tlsUrl, { clientId: 'tlsdev', key: current.keyPem, cert: current.certPem, ca: hub.ca.certPem, servername: 'localhost' })).end(true);
    } finally {
      hub.registry.update('tlsdev', { certFingerprint: null });
    }
  });

  it('refuses a certificate from another CA, even one with the right CN', async () => {
    const { ca: rogue } = HubCA.create({ commonName: 'rogue CA' });
    const cert = rogue.issueDeviceCert('tlsdev');
    const ev = eventOf('authentication_failure');
    assert.equal(await refusedWith(tlsUrl, { key: cert.keyPem, cert: cert.certPem, ca: hub.ca.certPem, servername: 'localhost' }), 5);
    assert.match(JSON.parse((await ev).body).message, /not issued by the hub CA/);
  });

  it('answers SUBACK 0x80 for a refused filter, grants the others, and raises unauthorized_topic', async () => {
    const c = await connect(tcp, { username: 'u1', password: 'p1' });
    const ev = eventOf('unauthorized_topic');
    // MQTT.js reports a SUBACK containing 0x80 as an error carrying the packet.
    const suback = await new Promise<any>((resolve) => c.subscribe(['public/#', 'secret/x'], { qos: 1 }, (err: any, granted) => resolve(err ? err.packet : { granted: granted!.map((g) => g.qos) })));
    assert.deepEqual(suback.granted, [1, 0x80]);
    const e = JSON.parse((await ev).body);
    assert.equal(e.objectType, 'device');
    assert.equal(e.objectId, 'd1');
    assert.equal(e.packet.topic, 'secret/x');
    c.end(true);
  });

  it('drops (but acknowledges) a publish outside the device policy, and raises unauthorized_topic', async () => {
    const sink = await connect(tcp, { username: 'u2', password: 'p2' });
    await sink.subscribeAsync('#', { qos: 1 });
    const got: string[] = [];
    sink.on('message', (t) => got.push(t));
    const c = await connect(tcp, { username: 'u1', password: 'p1' });
    const ev = eventOf('unauthorized_topic');
    await c.publishAsync('d2/forged', 'x', { qos: 1 }); // resolves on PUBACK
    assert.equal(JSON.parse((await ev).body).packet.topic, 'd2/forged');
    const ok = nextMessage(sink, (t) => t === 'd1/ok');
    await c.publishAsync('d1/ok', 'y', { qos: 1 });
    await ok;
    assert.deepEqual(got, ['d1/ok'], 'the refused message never reached a subscriber');
    c.end(true);
    sink.end(true);
  });

  it('refuses a CONNECT whose Will topic the device may not publish to', async () => {
    const ev = eventOf('unauthorized_topic');
    const code = await refusedWith(tcp, { username: 'u1', password: 'p1', will: { topic: 'd2/status', payload: Buffer.from('gone'), qos: 0, retain: false } });
    assert.equal(code, 5);
    assert.match(JSON.parse((await ev).body).message, /Will topic "d2\/status"/);
    (await connect(tcp, { username: 'u1', password: 'p1', will: { topic: 'd1/status', payload: Buffer.from('gone'), qos: 0, retain: false } })).end(true);
  });

  it('no client may publish into the hub event space', async () => {
    const c = await connect(tcp, { username: 'u2', password: 'p2' });
    const got: string[] = [];
    const on = (_t: string, p: Buffer) => got.push(p.toString());
    watcher.on('message', on);
    await c.publishAsync('$hub/events/error/device/d1', 'forged', { qos: 1 });
    await c.publishAsync('d2/after', 'z', { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
    watcher.off('message', on);
    assert.ok(!got.includes('forged'));
    c.end(true);
  });
});
