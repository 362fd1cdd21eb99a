// REST routes against a real Node HTTP server on 127.0.0.1.
import { strict as assert } from 'assert';
import { RouteManager } from '../../host-broker/routes';
import { byTopic, eventLog, FAST, oneRouteManager, publishTo, tempDir, waitFor } from './fixtures/common';
import { httpTarget, HttpTarget } from './fixtures/http-target';

describe('routes: REST', () => {
  let target: HttpTarget;
  let mgr: RouteManager | null = null;
  let tmp: ReturnType<typeof tempDir>;

  beforeEach(async () => {
    target = await httpTarget();
    tmp = tempDir('routes-rest-');
  });
  afterEach(async () => {
    if (mgr) await mgr.close();
    mgr = null;
    await target.stop();
    tmp.remove();
  });

  function manager(route: Record<string, unknown>, events = eventLog()) {
    const m = oneRouteManager(tmp.dir, { name: 'api', type: 'rest', filter: 'sensors/#', uri: target.url, delivery: FAST, ...route }, { events });
    mgr = m.mgr;
    return m;
  }

  const publish = (m: RouteManager, topic: string, payload: string | Buffer, retain = false) => publishTo(m, topic, payload, { retain });

  it('sends the payload as the body with the verb, extra headers, X-MQTT-Topic and X-MQTT-Retain', async () => {
    await target.start();
    const { mgr: m } = manager({ method: 'PUT', headers: { Authorization: 'Bearer t0k', 'X-Site': 'lab' } });
    const binary = Buffer.from([0, 0xff, 0xfe, 0x80, 10]);
    assert.deepEqual(publish(m, 'sensors/temp', binary, true), ['api']);
    publish(m, 'sensors/ünïcode 100%', 'x');
    await m.drain();
    assert.equal(target.received.length, 2);
    const [a, b] = target.received;
    assert.equal(a.method, 'PUT');
    assert.equal(a.url, '/ingest');
    assert.deepEqual(a.body, binary);
    assert.equal(a.headers['x-mqtt-topic'], 'sensors/temp');
    assert.equal(a.headers['x-mqtt-retain'], 'true');
    assert.equal(a.headers['x-mqtt-qos'], '1');
    assert.equal(a.headers.authorization, 'Bearer t0k');
    assert.equal(a.headers['x-site'], 'lab');
    assert.equal(b.headers['x-mqtt-retain'], 'false');
    assert.equal(b.topic, 'sensors/ünïcode 100%', 'non-ASCII and % are percent-encoded, decodeURIComponent restores them');
    const listed = m.list()[0];
    assert.equal(listed.config.type === 'rest' && listed.config.headers.Authorization, '***', 'secrets are redacted in listings');
  });

  for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
    it(`${method} carries the payload as body`, async () => {
      await target.start();
      const { mgr: m } = manager({ method });
      publish(m, 'sensors/a', `body for ${method}`);
      await m.drain();
      assert.equal(target.received[0].method, method);
      assert.equal(target.received[0].body.toString(), `body for ${method}`);
    });
  }

  it('does not route messages outside its filter, nor the hub\'s own events', async () => {
    await target.start();
    const { mgr: m } = manager({ filter: '#' });
    assert.deepEqual(publish(m, 'other/x', 'a'), ['api']);
    assert.deepEqual(publish(m, '$hub/events/error/route/api', '{}'), []);
    mgr!.add({ name: 'dollar', type: 'rest', filter: '$hub/#', uri: target.url });
    assert.deepEqual(publish(m, '$hub/events/error/route/api', '{}'), [], 'even a route subscribed to $hub/# never gets events');
    assert.deepEqual(publish(m, '$hub/other', 'y'), ['dollar']);
    await m.drain();
    assert.deepEqual(target.received.map((r) => r.topic).sort(), ['$hub/other', 'other/x']);
  });

  it('a target that is down and comes back: nothing lost, order per topic kept', async () => {
    const { mgr: m, events } = manager({ delivery: { ...FAST, concurrency: 4 } });
    const sent: { topic: string; payload: string }[] = [];
    for (let i = 0; i < 60; i++) {
      const topic = `sensors/${i % 3}`;
      sent.push({ topic, payload: `m${i}` });
      publish(m, topic, `m${i}`);
    }
    await waitFor(() => events.events.length >= 2, 'failure events while the target is down');
    assert.ok(events.events.every((e) => e.kind === 'route_failure' && e.objectType === 'route' && e.objectId === 'api'));
    assert.match(events.events[0].message, /ECONNREFUSED/, 'the event carries the target\'s error');
    assert.equal(m.get('api')!.queueDepth, 60);
    await target.start();
    await m.drain();
    assert.deepEqual(byTopic(target.received.map((r) => ({ topic: r.topic, payload: r.body.toString() }))), byTopic(sent));
    assert.equal(target.received.length, 60);
    const st = m.get('api')!;
    assert.equal(st.queueDepth, 0);
    assert.equal(st.stats.delivered, 60);
    assert.equal(st.stats.deadLettered, 0);
  });

  it('5xx answers are retried without limit (transient), 4xx are bounded', async () => {
    await target.start();
    let unavailable = 3;
    target.respond = () => (unavailable-- > 0 ? 503 : 200);
    const { mgr: m, events } = manager({ delivery: { ...FAST, maxAttempts: 1 } });
    publish(m, 'sensors/a', 'after 503s');
    await m.drain();
    assert.equal(target.received.length, 1);
    assert.equal(m.get('api')!.deadLetters, 0);
    assert.equal(events.events.length, 3);
    assert.match(events.events[0].message, /HTTP 503/);
  });

  it('a target that rejects: events raised, bounded retries, then dead letters; other topics flow', async () => {
    await target.start();
    let badAttempts = 0;
    target.respond = (r) => (r.topic === 'sensors/bad' ? (badAttempts++, 400) : 200);
    const { mgr: m, events } = manager({ delivery: { ...FAST, maxAttempts: 3 } });
    publish(m, 'sensors/bad', 'refused');
    publish(m, 'sensors/good', 'g1');
    publish(m, 'sensors/good', 'g2');
    await waitFor(() => m.get('api')!.deadLetters === 1, 'the refused message to be dead-lettered');
    await m.drain();
    assert.equal(badAttempts, 3, 'exactly maxAttempts tries');
    assert.deepEqual(target.received.map((r) => r.body.toString()), ['g1', 'g2']);
    const failures = events.events.filter((e) => e.kind === 'route_failure');
    assert.equal(failures.length, 3);
    assert.deepEqual(failures.map((e) => e.severity), ['warning', 'warning', 'error']);
    assert.match(failures[2].message, /dead letters/);
    assert.match(failures[0].message, /HTTP 400.*refused with 400/);
    assert.deepEqual(failures[0].packet, { cmd: 'publish', topic: 'sensors/bad', qos: 1, payloadBytes: 7 });
    const dead = m.deadLetters('api');
    assert.equal(dead.length, 1);
    assert.equal(dead[0].payload.toString(), 'refused');
    assert.match(dead[0].error, /HTTP 400/);

    // Fixed target: the dead letter goes back into the queue and through.
    target.respond = () => 200;
    assert.equal(m.requeueDeadLetters('api'), 1);
    await m.drain();
    assert.deepEqual(target.received.map((r) => r.body.toString()), ['g1', 'g2', 'refused']);
    assert.equal(m.get('api')!.deadLetters, 0);
  });

  it('the queue is bounded: overflow drops new messages with an error event', async () => {
    const { mgr: m, events } = manager({ delivery: { ...FAST, maxQueue: 3 } });
    for (let i = 0; i < 5; i++) publish(m, 'sensors/a', `m${i}`);
    const st = m.get('api')!;
    assert.equal(st.queueDepth, 3);
    assert.equal(st.stats.dropped, 2);
    const overflow = events.events.filter((e) => /queue full/.test(e.message));
    assert.equal(overflow.length, 2);
    assert.equal(overflow[0].severity, 'error');
    await target.start();
    await m.drain();
    assert.deepEqual(target.received.map((r) => r.body.toString()), ['m0', 'm1', 'm2']);
  });

  it('a target that never answers times out and is retried', async () => {
    await target.start();
    let hang = true;
    target.respond = () => 200;
    const http = await import('http');
    const slow = http.createServer((req, res) => {
      if (hang) { hang = false; return; } // first request: no answer at all
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    const port = (slow.address() as import('net').AddressInfo).port;
    const { mgr: m, events } = manager({ uri: `http://127.0.0.1:${port}/`, delivery: { ...FAST, timeoutMs: 200 } });
    publish(m, 'sensors/a', 'x');
    await m.drain();
    assert.match(events.events[0].message, /no response within 200 ms/);
    slow.closeAllConnections();
    slow.close();
  });
});
