// Routes through the controls: the programmatic Control and the HTTP JSON API
// (through the Node client), with a real RouteManager plugged into a real broker,
// MQTT.js publishing, and a real HTTP server on 127.0.0.1 as the route target.
import { strict as assert } from 'assert';
import { Broker } from '../../host-broker/broker';
import { Control, createControl } from '../../host-broker/control/control';
import { ControlApiError, ControlClient } from '../../host-broker/control/http-client';
import { ControlServer, startControlServer } from '../../host-broker/control/http-server';
import { RouteConfigError, RouteManager } from '../../host-broker/routes';
import { FAST, tempDir, waitFor } from '../routes/fixtures/common';
import { httpTarget, HttpTarget } from '../routes/fixtures/http-target';
import { connect, endAll, raw } from './fixture';

const status = (code: number) => (e: unknown) => e instanceof ControlApiError && e.status === code;

describe('control: routes (programmatic and HTTP)', function () {
  this.timeout(30000);
  let tmp: ReturnType<typeof tempDir>;
  let target: HttpTarget;
  let broker: Broker;
  let routes: RouteManager;
  let control: Control;
  let srv: ControlServer;
  let api: ControlClient;
  let mqttUrl: string;

  beforeEach(async () => {
    tmp = tempDir('control-routes-');
    target = await httpTarget();
    broker = new Broker();
    routes = new RouteManager({ queue: `${tmp.dir}/routes.db`, report: (ev) => broker.hubEvent(ev), eventsPrefix: broker.events.prefix });
    broker.addHooks(routes.hooks);
    routes.start();
    control = createControl(broker, { routes });
    const { tcp } = await broker.listen({ tcp: { port: 0 } });
    mqttUrl = `mqtt://127.0.0.1:${tcp}`;
    srv = await startControlServer(control);
    api = new ControlClient(srv.url);
  });
  afterEach(async () => {
    await endAll();
    control.close();
    await srv.close();
    await routes.close();
    await broker.close();
    await target.stop();
    tmp.remove();
  });

  const rest = (name: string, extra: Record<string, unknown> = {}) =>
    ({ name, type: 'rest', filter: 'sensors/#', uri: target.url, headers: { Authorization: 'Bearer s3cret' }, delivery: FAST, ...extra });

  it('POST /routes adds a route; GET /routes lists it with queue depth, stats and redacted config; GET /routes/:name', async () => {
    const added = await api.addRoute(rest('api'));
    assert.deepEqual([added.name, added.type, added.filter, added.queueDepth], ['api', 'rest', 'sensors/#', 0]);
    const c = await connect(mqttUrl);
    await c.publishAsync('sensors/1', 'a', { qos: 1 });
    await c.publishAsync('other/1', 'not routed', { qos: 1 });
    await c.publishAsync('sensors/2', 'b', { qos: 1 });
    // The target is not listening yet: the messages wait in the durable queue.
    const [listed] = await api.listRoutes();
    assert.equal(listed.name, 'api');
    assert.equal(listed.queueDepth, 2);
    assert.equal(listed.stats.enqueued, 2);
    assert.equal((listed.config as any).headers.Authorization, '***', 'secrets are redacted');
    assert.equal(JSON.stringify(await api.listRoutes()).includes('s3cret'), false);
    await target.start();
    await waitFor(async () => (await api.getRoute('api')).stats.delivered === 2, 'both delivered');
    assert.deepEqual(target.received.map((r) => [r.topic, r.body.toString(), r.headers.authorization]), [['sensors/1', 'a', 'Bearer s3cret'], ['sensors/2', 'b', 'Bearer s3cret']]);
    assert.equal((await api.getRoute('api')).queueDepth, 0);
    await assert.rejects(api.getRoute('nope'), status(404));
  });

  it('refuses bad route config with 400 naming the field, a name in use with 409', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...rest('x'), filter: 'a/#/b' }, /^route\.filter: expected an MQTT topic filter/],
      [{ ...rest('x'), url: 'http://x' }, /^route\.url: unknown field/],
      [{ ...rest('x'), delivery: { maxAttempts: 0 } }, /^route\.delivery\.maxAttempts: expected an integer from 1/],
      [{ name: 'x', type: 'ftp', filter: '#' }, /^route\.type: expected one of 's3', 'sql', 'rest'/],
      [{}, /^route\.name: expected a non-empty string, got nothing/],
    ];
    for (const [cfg, re] of bad) {
      await assert.rejects(api.addRoute(cfg), (e: any) => e instanceof ControlApiError && e.status === 400 && re.test(e.message), JSON.stringify(cfg));
    }
    const notJson = await raw(srv.url, 'POST', '/routes', '[1]');
    assert.deepEqual([notJson.status, notJson.json.error], [400, 'body: expected a JSON object']);
    await api.addRoute(rest('dup'));
    await assert.rejects(api.addRoute(rest('dup')), (e: any) => status(409)(e) && /^route\.name: route "dup" exists/.test(e.message));
    assert.deepEqual((await api.listRoutes()).map((r) => r.name), ['dup']);
  });

  it('dead letters: listed with the target error, requeued once the target is fixed, then delivered', async () => {
    await target.start();
    target.respond = (r) => (r.body.toString() === 'poison' ? 422 : 200);
    await api.addRoute(rest('api', { delivery: { ...FAST, maxAttempts: 2 } }));
    const c = await connect(mqttUrl);
    await c.publishAsync('sensors/1', 'poison', { qos: 1 });
    await c.publishAsync('sensors/1', 'fine', { qos: 1 });
    await waitFor(async () => (await api.getRoute('api')).deadLetters === 1, 'a dead letter');
    const [dead] = await api.routeDeadLetters('api');
    assert.deepEqual([dead.route, dead.topic, dead.payload, dead.payloadBase64, dead.attempts], ['api', 'sensors/1', 'poison', Buffer.from('poison').toString('base64'), 2]);
    assert.match(dead.error, /422/);
    assert.match(dead.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.deepEqual(await api.routeDeadLetters('api', { limit: 1 }), [dead]);
    assert.equal((await raw(srv.url, 'GET', '/routes/api/dead-letters?limit=0')).status, 400);

    target.respond = () => 200;
    assert.equal(await api.requeueDeadLetters('api'), 1);
    await waitFor(async () => (await api.getRoute('api')).stats.delivered === 2, 'the requeued message delivered');
    assert.deepEqual(target.received.map((r) => r.body.toString()), ['fine', 'poison']);
    assert.deepEqual(await api.routeDeadLetters('api'), []);
    await assert.rejects(api.requeueDeadLetters('nope'), status(404));
    await assert.rejects(api.routeDeadLetters('nope'), status(404));
  });

  it('DELETE /routes/:name discards the queue, or keeps it with ?keepQueue=1 for a route added back', async () => {
    await api.addRoute(rest('a'));
    await api.addRoute(rest('b'));
    const c = await connect(mqttUrl);
    await c.publishAsync('sensors/1', 'one', { qos: 1 });
    assert.deepEqual(await api.removeRoute('a'), { route: 'a', removed: true, discarded: 1, keptQueue: false });
    assert.deepEqual(await api.removeRoute('b', { keepQueue: true }), { route: 'b', removed: true, discarded: 0, keptQueue: true });
    assert.deepEqual(await api.listRoutes(), []);
    await assert.rejects(api.removeRoute('a'), status(404));
    assert.equal((await raw(srv.url, 'DELETE', '/routes/b?keepQueue=maybe')).status, 400);
    await target.start();
    await api.addRoute(rest('b'));
    await waitFor(() => target.received.length === 1, 'the kept message delivered');
    assert.equal(target.received[0].body.toString(), 'one');
  });

  it('the programmatic Control does the same; RouteConfigError keeps its field', async () => {
    const st = control.addRoute(rest('p'));
    assert.equal(st.name, 'p');
    assert.deepEqual(control.listRoutes().map((r) => r.name), ['p']);
    assert.equal(control.getRoute('p')!.state, 'idle');
    assert.throws(() => control.addRoute({ ...rest('q'), method: 'FETCH' }), (e: unknown) => e instanceof RouteConfigError && e.field === 'route.method');
    assert.deepEqual(control.routeDeadLetters('p'), []);
    assert.equal(control.requeueDeadLetters('p'), 0);
    assert.deepEqual(await control.removeRoute('p'), { removed: true, discarded: 0 });
    assert.equal(control.hasRoutes(), true);
  });
});

describe('control: routes on a broker without them', function () {
  it('the Control throws, and the HTTP face answers 404 on every route endpoint', async () => {
    const broker = new Broker();
    const control = createControl(broker);
    const srv = await startControlServer(control);
    try {
      assert.equal(control.hasRoutes(), false);
      assert.throws(() => control.listRoutes(), /routes are not enabled/);
      for (const [method, path] of [['GET', '/routes'], ['POST', '/routes'], ['GET', '/routes/a'], ['DELETE', '/routes/a'], ['GET', '/routes/a/dead-letters'], ['POST', '/routes/a/dead-letters/requeue']]) {
        const r = await raw(srv.url, method, path, method === 'POST' ? '{}' : undefined);
        assert.deepEqual([r.status, r.json.error], [404, 'routes are not enabled on this broker'], `${method} ${path}`);
      }
    } finally {
      control.close();
      await srv.close();
      await broker.close();
    }
  });
});
