// Listeners: TCP, TLS (server and client certificates), MQTT over WebSocket;
// stop and restart on the same port; the default bind address.
import { strict as assert } from 'assert';
import * as net from 'net';
import type { Packet } from 'mqtt-packet';
import { Broker } from '../../host-broker/broker';
import type { ClientInfo } from '../../host-broker/hooks';
import { mqttClient, until, RawClient, connectFails } from './support';
import { makeCerts } from './tls-certs';

describe('broker listeners', function () {
  this.timeout(30000);
  const certs = makeCerts();
  let broker: Broker;
  afterEach(async () => { await broker?.close(); });

  it('serves MQTT over WebSocket, and routes between WebSocket and TCP clients', async () => {
    broker = new Broker();
    const ports = await broker.listen({ tcp: { port: 0 }, ws: { port: 0, path: '/mqtt' } });
    const wsClient = await mqttClient(`ws://127.0.0.1:${ports.ws}/mqtt`, { clientId: 'over-ws' });
    await wsClient.subscribeAsync('ws/#', { qos: 1 });
    const got = new Promise<string>((res) => wsClient.on('message', (_t, p) => res(p.toString())));
    const tcpClient = await mqttClient(`mqtt://127.0.0.1:${ports.tcp}`, { clientId: 'over-tcp' });
    await tcpClient.publishAsync('ws/x', 'via tcp', { qos: 1 });
    assert.equal(await got, 'via tcp');
    assert.equal(broker.clients().find((c) => c.clientId === 'over-ws')!.listener, 'ws');
    await wsClient.endAsync(); await tcpClient.endAsync();
  });

  it('refuses a WebSocket upgrade on another path', async () => {
    broker = new Broker();
    const ports = await broker.listen({ ws: { port: 0, path: '/mqtt' } });
    await connectFails(`ws://127.0.0.1:${ports.ws}/elsewhere`, { clientId: 'lost' });
    assert.equal(broker.clients().length, 0);
  });

  it('serves TLS and reports a verified client certificate to the hooks', async () => {
    const seen: ClientInfo[] = [];
    broker = new Broker({ hooks: [{ authenticate: (req) => { seen.push({ ...req.client }); return { ok: true }; } }] });
    const ports = await broker.listen({ tls: { port: 0, key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true, rejectUnauthorized: false } });
    const c = await mqttClient(`mqtts://127.0.0.1:${ports.tls}`, { clientId: 'tls-dev', ca: certs.ca, key: certs.client.key, cert: certs.client.cert, rejectUnauthorized: true });
    await c.subscribeAsync('t', { qos: 1 });
    const got = new Promise<string>((res) => c.on('message', (_t, p) => res(p.toString())));
    await c.publishAsync('t', 'secure', { qos: 1 });
    assert.equal(await got, 'secure');
    assert.equal(seen[0].listener, 'tls');
    assert.equal(seen[0].tls?.authorized, true);
    assert.equal(seen[0].tls?.subjectCN, 'device-42');
    assert.match(seen[0].tls?.fingerprint256 ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    await c.endAsync();
  });

  it('marks a certificate from another CA as not authorized (rejectUnauthorized false), and refuses it when true', async () => {
    const seen: ClientInfo[] = [];
    broker = new Broker({ hooks: [{ authenticate: (req) => { seen.push({ ...req.client }); return { ok: true }; } }] });
    const ports = await broker.listen({ tls: { port: 0, key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true } });
    const c = await mqttClient(`mqtts://127.0.0.1:${ports.tls}`, { clientId: 'stranger', ca: certs.ca, key: certs.stranger.key, cert: certs.stranger.cert });
    assert.equal(seen[0].tls?.authorized, false);
    await c.endAsync();
    await broker.close();

    broker = new Broker();
    const strict = await broker.listen({ tls: { port: 0, key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true, rejectUnauthorized: true } });
    await connectFails(`mqtts://127.0.0.1:${strict.tls}`, { clientId: 'stranger', ca: certs.ca, key: certs.stranger.key, cert: certs.stranger.cert });
    assert.equal(broker.clients().length, 0);
    const ok = await mqttClient(`mqtts://127.0.0.1:${strict.tls}`, { clientId: 'friend', ca: certs.ca, key: certs.client.key, cert: certs.client.cert });
    await ok.endAsync();
  });

  it('survives a TLS peer that sends plain MQTT', async () => {
    broker = new Broker();
    const ports = await broker.listen({ tls: { port: 0, key: certs.server.key, cert: certs.server.cert }, tcp: { port: 0 } });
    const raw = await RawClient.connectSocket(ports.tls!);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'plain', keepalive: 60 } as Packet);
    assert.equal(await raw.waitClosed(), true);
    const c = await mqttClient(`mqtt://127.0.0.1:${ports.tcp}`, { clientId: 'fine' });
    await c.endAsync();
  });

  it('stopListener drops that listener\'s clients and refuses new ones; startListener reopens the same port', async () => {
    broker = new Broker();
    const ports = await broker.listen({ tcp: { port: 0 }, ws: { port: 0 } });
    const wills: string[] = [];
    const watcher = await mqttClient(`ws://127.0.0.1:${ports.ws}`, { clientId: 'watcher' });
    await watcher.subscribeAsync('will/#');
    watcher.on('message', (t) => wills.push(t));
    const dev = await RawClient.connect(ports.tcp!, { clientId: 'dev', will: { topic: 'will/dev', payload: Buffer.from('x'), qos: 0, retain: false } } as any);
    await broker.stopListener('tcp');
    assert.equal(await dev.waitClosed(), true);
    await until(() => wills.length === 1, 'the Will of the dropped client');
    await assert.rejects(new Promise((resolve, reject) => { const s = net.connect(ports.tcp!, '127.0.0.1', () => { s.destroy(); resolve(null); }); s.on('error', reject); }));
    assert.equal(await broker.startListener('tcp'), ports.tcp);
    const again = await RawClient.connect(ports.tcp!, { clientId: 'dev' });
    again.destroy();
    assert.equal(watcher.connected, true, 'the WebSocket listener was not touched');
    await watcher.endAsync();
  });

  it('binds to 127.0.0.1 by default', async () => {
    broker = new Broker();
    const ports = await broker.listen({ tcp: { port: 0 } });
    const s = net.connect(ports.tcp!, '127.0.0.1');
    await new Promise((res) => s.on('connect', res));
    assert.equal(s.remoteAddress, '127.0.0.1');
    s.destroy();
  });
});
