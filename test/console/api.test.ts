// The console's server side over real HTTP and MQTT: what the page reads
// (devices merged with what the hub saw, topics, events, series), what it
// changes (add / remove a device, certificates), and the live stream.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { Broker } from '../../host-broker/broker';
import { validateConfig } from '../../host-broker/config';
import { HubWatch, numericFields } from '../../host-broker/console/watch';
import { RunningHub, startHub } from '../../host-broker/start-hub';
import { connect } from '../helpers/mqttjs';

const TOKEN = 'console-api-token-123';
const auth = { authorization: `Bearer ${TOKEN}` };

/** A Server-Sent Events reader: the events so far, and a wait for the next one that matches. */
function sse(url: string): Promise<{ events: { event: string; data: any }[]; next(pred: (e: { event: string; data: any }) => boolean, ms?: number): Promise<any>; close(): void }> {
  return new Promise((resolve, reject) => {
    const events: { event: string; data: any }[] = [];
    const waiters: { pred: (e: any) => boolean; resolve: (e: any) => void }[] = [];
    const req = http.get(url, { headers: auth, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`live: HTTP ${res.statusCode}`));
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      let buf = '';
      res.on('data', (d) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block);
          const data = /^data: (.*)$/m.exec(block);
          if (!ev || !data) continue;
          const e = { event: ev[1], data: JSON.parse(data[1]) };
          events.push(e);
          for (const w of [...waiters]) if (w.pred(e)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(e); }
        }
      });
      resolve({
        events,
        next: (pred, ms = 5000) => {
          const seen = events.find(pred);
          if (seen) return Promise.resolve(seen);
          return new Promise((res2, rej2) => {
            const t = setTimeout(() => rej2(new Error('live: no such event')), ms);
            waiters.push({ pred, resolve: (e) => { clearTimeout(t); res2(e); } });
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', () => undefined);
  });
}

describe('console: server side', function () {
  this.timeout(30000);
  let hub: RunningHub;
  let dir: string;
  let url: string;
  let base: string;
  const clients: MqttClient[] = [];
  const get = async (p: string) => { const r = await fetch(base + p, { headers: auth }); return { status: r.status, json: await r.json() as any }; };
  const send = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(base + p, { method, headers: { ...auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, json: await r.json() as any };
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-api-'));
    hub = await startHub(validateConfig({
      listeners: { tcp: { port: 0 }, tls: { port: 0 } }, control: { port: 0, token: TOKEN }, dataDir: dir, memory: true, allowAnonymous: true,
      devices: [{ id: 'thermo', username: 'thermo', password: 'thermo-pw' }],
    }));
    url = `mqtt://127.0.0.1:${hub.ports.tcp}`;
    base = hub.consoleUrl!;
  });
  after(async () => {
    for (const c of clients) c.end(true);
    await hub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page without the token (it holds no data), gzipped, with a strict CSP; its data only with the token', async () => {
    const page = await new Promise<http.IncomingMessage>((r) => http.get(base, { headers: { 'accept-encoding': 'gzip' }, agent: false }, r));
    page.resume();
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-encoding'], 'gzip');
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'.*script-src 'self'/);
    for (const a of ['/assets/app.js', '/assets/app.css']) assert.equal((await fetch(base.replace(/\/$/, '') + a)).status, 200, a);
    assert.equal((await fetch(base + 'console/devices')).status, 401);
  });

  it('devices: the registered ones and the clients without one, online, address, last seen and session', async () => {
    clients.push(await connect(url, { clientId: 'thermo-1', username: 'thermo', password: 'thermo-pw', clean: false }));
    const anon = await connect(url, { clientId: 'anon-1' });
    await anon.publishAsync('x/y', 'z', { qos: 1 });
    anon.end(true);
    await new Promise((r) => setTimeout(r, 100));
    const rows = (await get('console/devices')).json;
    const thermo = rows.find((r: any) => r.id === 'thermo');
    assert.deepEqual([thermo.registered, thermo.online, thermo.clientId, thermo.remoteAddress, thermo.listener, thermo.session.persistent], [true, true, 'thermo-1', '127.0.0.1', 'tcp', true]);
    assert.ok(Date.now() - thermo.lastSeen < 5000);
    const a = rows.find((r: any) => r.id === 'anon-1');
    assert.deepEqual([a.registered, a.online, a.session], [false, false, undefined]);
    assert.ok(a.lastSeen > 0 && a.disconnectReason);
  });

  it('topics keep the last value (retained flagged, cleared by an empty retained message); series take numeric JSON fields', async () => {
    const c = await connect(url, { clientId: 'pub-1' });
    clients.push(c);
    await c.publishAsync('home/room/temp', '{"temp": 21.5, "hum": 40, "name": "x", "nested": {"v": 3}}', { qos: 1, retain: true });
    await new Promise((r) => setTimeout(r, 150)); // plots take one sample per topic per 100 ms
    await c.publishAsync('home/room/temp', '{"temp": 21.7, "hum": 41}', { qos: 1 });
    await c.publishAsync('home/gone', 'bye', { qos: 1, retain: true });
    await c.publishAsync('home/gone', '', { qos: 1, retain: true });
    const topics = (await get('topics')).json;
    const t = topics.find((x: any) => x.topic === 'home/room/temp');
    assert.deepEqual([Buffer.from(t.payloadBase64, 'base64').toString(), t.retain, t.from], ['{"temp": 21.7, "hum": 41}', false, 'pub-1']);
    assert.ok(!topics.some((x: any) => x.topic === 'home/gone'));
    const s = (await get('series')).json.find((x: any) => x.topic === 'home/room/temp');
    assert.deepEqual(s.fields, { temp: [21.5, 21.7], hum: [40, 41], 'nested.v': [3, null] });
    assert.equal(s.time.length, 2);
  });

  it('events: recent hub events with seq and time', async () => {
    await assert.rejects(connect(url, { username: 'thermo', password: 'wrong' }));
    const evs = (await get('events')).json;
    const e = evs.find((x: any) => x.kind === 'authentication_failure');
    assert.ok(e && e.seq > 0 && e.time > 0 && /thermo|password/.test(e.message), JSON.stringify(evs));
  });

  it('adds a device (400 naming the field, 409 when it exists), removes one (its client kicked)', async () => {
    assert.match((await send('POST', 'devices', { id: 'bad id' })).json.error, /^id: expected/);
    assert.match((await send('POST', 'devices', { id: 'x1', password: 'p' })).json.error, /username/);
    assert.match((await send('POST', 'devices', { id: 'x1', requireTls: 'yes' })).json.error, /^requireTls: expected true or false/);
    const added = await send('POST', 'devices', { id: 'lamp', username: 'lamp', password: 'lamp-pw', name: 'Lamp' });
    assert.equal(added.status, 201);
    assert.deepEqual([added.json.id, added.json.hasPassword, added.json.passwordHash], ['lamp', true, undefined]);
    assert.equal((await send('POST', 'devices', { id: 'lamp' })).status, 409);
    const c = await connect(url, { clientId: 'lamp-1', username: 'lamp', password: 'lamp-pw' });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    const removed = await send('DELETE', 'devices/lamp');
    assert.deepEqual([removed.status, removed.json.kicked], [200, 1]);
    await closed;
    assert.equal((await send('DELETE', 'devices/lamp')).status, 404);
  });

  it('issues a device certificate (pinned) that the hub then accepts over mutual TLS', async () => {
    assert.equal((await send('POST', 'devices', { id: 'cam', requireTls: true })).status, 201);
    const cert = await send('POST', 'devices/cam/certificate', { days: 30 });
    assert.equal(cert.status, 200);
    assert.equal(hub.registry.get('cam')!.certFingerprint, cert.json.fingerprint256);
    const c = await connect(`mqtts://127.0.0.1:${hub.ports.tls}`, { clientId: 'cam-1', key: cert.json.keyPem, cert: cert.json.certPem, ca: cert.json.caPem, servername: 'localhost' } as any);
    clients.push(c);
    assert.equal(hub.broker.clients().find((x) => x.clientId === 'cam-1')!.deviceId, 'cam');
    assert.equal((await send('POST', 'devices/ghost/certificate', {})).status, 404);
  });

  it('/live: hello and devices at once, a client connecting within 1 s, messages and samples in batches', async () => {
    const live = await sse(base + 'live');
    try {
      await live.next((e) => e.event === 'hello');
      await live.next((e) => e.event === 'devices');
      const t0 = Date.now();
      const c = await connect(url, { clientId: 'live-1' });
      clients.push(c);
      const dev = await live.next((e) => e.event === 'devices' && e.data.some((r: any) => r.id === 'live-1' && r.online));
      assert.ok(dev && Date.now() - t0 < 1000);
      await c.publishAsync('live/t', '{"v": 7}', { qos: 0 });
      const b = await live.next((e) => e.event === 'batch' && e.data.messages.some((m: any) => m.topic === 'live/t'));
      const m = b.data.messages.find((x: any) => x.topic === 'live/t');
      assert.deepEqual([Buffer.from(m.payloadBase64, 'base64').toString(), m.from, m.bytes], ['{"v": 7}', 'live-1', 8]);
      assert.deepEqual(b.data.samples.find((x: any) => x.topic === 'live/t').values, { v: 7 });
    } finally { live.close(); }
  });
});

describe('console: HubWatch bounds and parsing', () => {
  it('numericFields: numbers of a JSON object (one level of nesting), nothing else', () => {
    assert.deepEqual(numericFields(Buffer.from('{"a":1,"b":"x","c":{"d":2.5,"e":[1]},"f":null,"g":true}')), { a: 1, 'c.d': 2.5 });
    for (const p of ['[1,2]', '42', 'not json', '{"a":"1"}', '{bad']) assert.equal(numericFields(Buffer.from(p)), null, p);
    assert.equal(numericFields(Buffer.from(`{"a":1,"pad":"${'x'.repeat(5000)}"}`)), null, 'too big to parse');
    assert.equal(Object.keys(numericFields(Buffer.from(JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])))))!).length, 16);
  });

  it('samples a topic at most every sampleEveryMs: a flood is not parsed message by message', async () => {
    const broker = new Broker();
    const w = new HubWatch(broker, { sampleEveryMs: 60_000 });
    try {
      for (let i = 0; i < 100; i++) await broker.publish({ topic: 'flood', payload: `{"v":${i}}` });
      assert.deepEqual(w.allSeries()[0].fields.v, [0]);
      assert.equal(Buffer.from(w.topicValues()[0].payload).toString(), '{"v":99}', 'the topic still shows the last value');
    } finally { w.close(); await broker.close(); }
  });

  it('keeps at most maxTopics topics, seriesPoints points and maxEvents events', async () => {
    const broker = new Broker();
    const w = new HubWatch(broker, { maxTopics: 10, seriesPoints: 5, maxEvents: 3, sampleEveryMs: 0 });
    try {
      for (let i = 0; i < 25; i++) await broker.publish({ topic: `t/${i}`, payload: `{"v":${i}}` });
      for (let i = 0; i < 8; i++) await broker.publish({ topic: 'one', payload: `{"v":${i}}` });
      for (let i = 0; i < 5; i++) broker.hubEvent({ kind: 'limit_exceeded', severity: 'warning', objectType: 'hub', objectId: 'x', message: `m${i}` });
      assert.equal(w.topicValues().length, 10);
      assert.ok(w.topicValues().some((t) => t.topic === 'one'), 'the most recent topics stay');
      assert.ok(!w.topicValues().some((t) => t.topic === 't/0'), 'the oldest go');
      assert.deepEqual(w.allSeries().find((s) => s.topic === 'one')!.fields.v, [3, 4, 5, 6, 7]);
      assert.deepEqual(w.recentEvents().map((e) => e.message), ['m2', 'm3', 'm4']);
    } finally { w.close(); await broker.close(); }
  });
});
