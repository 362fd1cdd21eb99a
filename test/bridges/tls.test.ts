// Bridges over mutual TLS to a real Mosquitto that requires a client
// certificate (as Scaleway IoT Hub does): the right certificate connects and
// carries messages both ways; the wrong one, an untrusted server, a name the
// server's certificate does not hold, or unusable PEM files give a clear error
// and a hub event, never a crash.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { BridgeConfigError } from '../../host-broker/bridges/config';
import type { Mosquitto } from '../helpers/mosquitto';
import { MOSQUITTO_SKIP_MESSAGE } from '../helpers/mosquitto';
import { FAST, makeTlsFiles, Peer, startBridgedHub, startTlsMosquitto, until, type BridgedHub, type TlsFiles } from './fixtures';

describe('bridges: Mosquitto upstream over mutual TLS', function () {
  this.timeout(60_000);
  let files: TlsFiles;
  let up: Mosquitto;
  let tlsPort: number;
  let hub: BridgedHub | undefined;
  const peers: Peer[] = [];

  const bridge = (tls: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    name: 'scw', url: `mqtts://127.0.0.1:${tlsPort}`, clientId: 'edge-hub-1', ...FAST, tls,
    mappings: [{ direction: 'out', filter: 'sensors/#', remotePrefix: 'fleet/edge-hub-1/' }, { direction: 'in', filter: 'cmd/#', remotePrefix: 'fleet/edge-hub-1/' }],
    ...extra,
  });

  before(async function () {
    files = makeTlsFiles('edge-hub-1');
    const m = await startTlsMosquitto(files);
    if (!m) { console.log(`      ${MOSQUITTO_SKIP_MESSAGE}`); return this.skip(); }
    ({ mosq: up, tlsPort } = m);
  });
  after(async () => {
    await up?.stop();
    if (files) fs.rmSync(files.dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.end();
    await hub?.close({ remove: true });
    hub = undefined;
  });

  const downEvent = async (h: BridgedHub) => {
    await until(() => h.eventsOf('bridge_down').length > 0, 'bridge_down');
    return h.eventsOf('bridge_down')[0];
  };

  it('connects with the device certificate and carries messages both ways', async () => {
    hub = await startBridgedHub([bridge({ caFile: files.ca, certFile: files.clientCert, keyFile: files.clientKey })]);
    await until(() => hub!.eventsOf('bridge_connected').length === 1, 'bridge_connected', 10_000, () => JSON.stringify(hub!.events.map((e) => e.message)));
    // The cloud side, as a plain client of the same Mosquitto.
    const cloud = await Peer.connect(`mqtt://127.0.0.1:${up.port}`);
    peers.push(cloud);
    await cloud.subscribe('fleet/#', 1);
    const dev = await Peer.connect(hub.url);
    peers.push(dev);
    await dev.subscribe('cmd/#', 1);
    await dev.publish('sensors/t', '21.5', 1);
    await until(() => cloud.on('fleet/edge-hub-1/sensors/t').length === 1, 'the reading upstream');
    await cloud.publish('fleet/edge-hub-1/cmd/led', 'on', 1);
    await until(() => dev.on('cmd/led').length === 1, 'the command at the device');
    assert.equal(hub.bridges.get('scw')!.state, 'connected');
  });

  it('a certificate from another CA: refused, with an error event that says so', async () => {
    hub = await startBridgedHub([bridge({ caFile: files.ca, certFile: files.strangerCert, keyFile: files.strangerKey })]);
    const ev = await downEvent(hub);
    assert.equal(ev.severity, 'error');
    assert.match(ev.message, /^cannot connect to mqtts:\/\/127\.0\.0\.1:\d+: TLS: 127\.0\.0\.1:\d+ refused the handshake with alert "unknown ca": it did not accept this bridge's client certificate \(tls\.certFile\/keyFile\)/);
    assert.equal(hub.bridges.get('scw')!.stats.connects, 0);
  });

  it('no client certificate where one is required: refused, with an event', async () => {
    hub = await startBridgedHub([bridge({ caFile: files.ca })]);
    const ev = await downEvent(hub);
    assert.equal(ev.severity, 'error');
    assert.match(ev.message, /refused the handshake with alert "certificate required": it did not accept this bridge's client certificate .*, or needs one/);
  });

  it('a server whose certificate our CA did not sign: an error event naming tls.caFile', async () => {
    hub = await startBridgedHub([bridge({ caFile: files.otherCa, certFile: files.clientCert, keyFile: files.clientKey })]);
    const ev = await downEvent(hub);
    assert.equal(ev.severity, 'error');
    assert.match(ev.message, /TLS: the certificate of 127\.0\.0\.1:\d+ is not signed by a CA this bridge trusts \(give its CA as tls\.caFile\)/);
  });

  it('a certificate for another name: an error event naming tls.servername', async () => {
    hub = await startBridgedHub([bridge({ caFile: files.ca, certFile: files.clientCert, keyFile: files.clientKey, servername: 'iot.example' })]);
    const ev = await downEvent(hub);
    assert.equal(ev.severity, 'error');
    assert.match(ev.message, /is not for iot\.example .*tls\.servername \[ERR_TLS_CERT_ALTNAME_INVALID\]/);
  });

  it('unreadable or unusable PEM files are config errors naming the field, before anything connects', async () => {
    hub = await startBridgedHub([]);
    const garbage = path.join(files.dir, 'garbage.pem');
    fs.writeFileSync(garbage, 'not a certificate');
    const refused = (tls: Record<string, unknown>, field: RegExp, what: RegExp) => assert.throws(() => hub!.bridges.add(bridge(tls)), (err: any) => {
      assert.ok(err instanceof BridgeConfigError, String(err));
      assert.match(err.field, field);
      assert.match(err.message, what);
      return true;
    });
    refused({ caFile: path.join(files.dir, 'missing.pem') }, /^bridge\.tls\.caFile$/, /cannot read .*missing\.pem \(ENOENT\)/);
    refused({ certFile: garbage, keyFile: files.clientKey }, /^bridge\.tls\.certFile$/, /not usable PEM/);
    refused({ certFile: files.clientCert, keyFile: files.strangerKey }, /^bridge\.tls\.keyFile$/, /not usable PEM .*key values mismatch/);
    assert.deepEqual(hub.bridges.list(), []);
  });
});
