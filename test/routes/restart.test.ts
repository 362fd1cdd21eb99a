// Pending deliveries survive a restart of the hub, clean or kill -9.
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as path from 'path';
import { RouteManager } from '../../host-broker/routes';
import { byTopic, eventLog, FAST, tempDir, waitFor } from './fixtures/common';
import { httpTarget, HttpTarget } from './fixtures/http-target';

describe('routes: restart with pending deliveries', function () {
  this.timeout(30000);
  let tmp: ReturnType<typeof tempDir>;
  let target: HttpTarget;
  const managers: RouteManager[] = [];

  beforeEach(async () => {
    tmp = tempDir('routes-restart-');
    target = await httpTarget();
  });
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.close();
    await target.stop();
    tmp.remove();
  });

  const open = (events = eventLog(), routes: unknown[] = [{ name: 'api', type: 'rest', filter: 'sensors/#', uri: target.url, delivery: FAST }]) => {
    const m = new RouteManager({ queue: `${tmp.dir}/queue.sqlite`, report: events.report, routes });
    managers.push(m);
    return m;
  };
  const expected = (n: number) => Array.from({ length: n }, (_, i) => ({ topic: `sensors/${i % 2}`, payload: `m${i}` }));

  it('a clean restart resumes the queue in order', async () => {
    const a = open();
    a.start();
    for (const e of expected(25)) a.enqueue({ topic: e.topic, payload: Buffer.from(e.payload), qos: 1, retain: false });
    assert.equal(a.get('api')!.queueDepth, 25);
    await a.close();

    await target.start();
    const b = open();
    assert.equal(b.get('api')!.queueDepth, 25, 'the new process sees what the old one queued');
    b.start();
    await b.drain();
    assert.deepEqual(byTopic(target.received.map((r) => ({ topic: r.topic, payload: r.body.toString() }))), byTopic(expected(25)));
  });

  it('kill -9 with deliveries in flight: everything arrives after the restart', async () => {
    // Phase 1: the target takes requests but never answers, so they stay in flight.
    const held: string[] = [];
    await target.start();
    const http = await import('http');
    const hang = http.createServer((req) => { req.resume(); held.push(String(req.headers['x-mqtt-topic'])); });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    const hangUrl = `http://127.0.0.1:${(hang.address() as import('net').AddressInfo).port}/`;
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'fixtures/enqueue-child.ts'), `${tmp.dir}/queue.sqlite`, hangUrl, '40'],
      { stdio: ['ignore', 'pipe', 'inherit'], cwd: path.join(__dirname, '../..') });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    await waitFor(() => out.includes('queued') && held.length >= 2, 'the child to queue and start two deliveries');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    hang.closeAllConnections();
    hang.close();

    // Phase 2: same queue file, the route now points at a target that accepts.
    const m = open(eventLog(), [{ name: 'api', type: 'rest', filter: 'sensors/#', uri: target.url, delivery: FAST }]);
    assert.equal(m.get('api')!.queueDepth, 40, 'nothing the child queued was lost, the in-flight ones included');
    m.start();
    await m.drain();
    assert.deepEqual(byTopic(target.received.map((r) => ({ topic: r.topic, payload: r.body.toString() }))), byTopic(expected(40)));
  });

  it('close() cuts a hanging delivery; the message stays queued and goes out after the restart', async () => {
    const http = await import('http');
    const hang = http.createServer((req) => { req.resume(); });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    const hangUrl = `http://127.0.0.1:${(hang.address() as import('net').AddressInfo).port}/`;
    const events = eventLog();
    const a = open(events, [{ name: 'api', type: 'rest', filter: 'sensors/#', uri: hangUrl, delivery: { ...FAST, timeoutMs: 60000 } }]);
    a.start();
    a.enqueue({ topic: 'sensors/x', payload: Buffer.from('in flight'), qos: 1, retain: false });
    await waitFor(() => a.get('api')!.state === 'delivering', 'the request to be in flight');
    await a.close(); // would take 60 s if it waited for the timeout
    hang.closeAllConnections();
    hang.close();
    assert.equal(events.events.length, 0, 'a shutdown is not reported as a route failure');
    await target.start();
    const b = open();
    b.start();
    await b.drain();
    assert.deepEqual(target.received.map((r) => r.body.toString()), ['in flight']);
  });

  it('queued messages of a route missing from the config are kept and reported', async () => {
    const a = open();
    a.enqueue({ topic: 'sensors/x', payload: Buffer.from('kept'), qos: 1, retain: false });
    await a.close();
    const events = eventLog();
    const b = open(events, []);
    b.start();
    assert.equal(events.events.length, 1);
    assert.match(events.events[0].message, /1 queued messages belong to route api, which is not configured/);
    await target.start();
    b.add({ name: 'api', type: 'rest', filter: 'sensors/#', uri: target.url, delivery: FAST });
    await b.drain();
    assert.deepEqual(target.received.map((r) => r.body.toString()), ['kept']);
  });
});
