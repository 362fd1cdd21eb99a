// `host-broker routes ...` against a spawned hub's control API, with MQTT.js
// publishing into it and a real HTTP server on 127.0.0.1 as the route target.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import { freePort } from '../helpers/ports';
import { FAST, waitFor } from '../routes/fixtures/common';
import { httpTarget, HttpTarget } from '../routes/fixtures/http-target';
import { runCli, RunningCli, startCli } from './run-cli';
import { connect } from '../helpers/mqttjs';

describe('host-broker routes (spawned, against a running hub)', function () {
  this.timeout(60000);
  let dir: string;
  let target: HttpTarget;
  let hub: RunningCli;
  let ctl: string[];
  let pub: MqttClient;

  const route = (name: string, filter: string, extra: Record<string, unknown> = {}) =>
    ({ name, type: 'rest', filter, uri: target.url, delivery: FAST, ...extra });
  const routes = async (...args: string[]) => runCli(['routes', ...args, ...ctl]);
  const statusOf = async (name: string) => (JSON.parse((await routes('list', '--json')).stdout) as any[]).find((r) => r.name === name);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-routes-'));
    target = await httpTarget();
    await target.start();
    const cfg = path.join(dir, 'hub.json');
    fs.writeFileSync(cfg, JSON.stringify({ routes: [route('from-config', 'cfg/#')] }));
    hub = await startCli(['--config', cfg, '--port', '0', '--control-port', '0', '--memory', '--allow-anonymous', '--data-dir', dir]);
    ctl = ['--control', `http://127.0.0.1:${hub.ports.control}`, '--token', await hub.token()];
    pub = await connect(`mqtt://127.0.0.1:${hub.ports.tcp}`);
  });
  after(async () => {
    pub?.end(true);
    if (hub) assert.equal(await hub.stop(), 0);
    await target.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--help lists the routes commands; they and `start --control-port` share the default port', async () => {
    const top = await runCli(['--help']);
    assert.match(top.stdout, /\broutes\b/);
    const help = await runCli(['routes', '--help']);
    assert.equal(help.code, 0);
    for (const sub of ['list', 'add', 'remove', 'dead-letters', 'requeue']) assert.match(help.stdout, new RegExp(`^  ${sub} `, 'm'), sub);
    const add = await runCli(['routes', 'add', '--help']);
    assert.match(add.stdout, /--control <url>[\s\S]*"http:\/\/127\.0\.0\.1:8081"[\s\S]*HOST_BROKER_CONTROL/);
    assert.match((await runCli(['start', '--help'])).stdout, /--control-port \[n\]\s+HIL control HTTP JSON API port, 8081 if the\s+flag has no/);
  });

  it('list shows routes from the config file (text and --json); HOST_BROKER_CONTROL and HOST_BROKER_TOKEN work as --control and --token', async () => {
    const r = await routes('list');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^from-config\trest\tcfg\/#\tidle\tqueued 0\tdead 0\tdelivered 0$/m);
    const viaEnv = await runCli(['routes', 'list', '--json'], { env: { HOST_BROKER_CONTROL: ctl[1], HOST_BROKER_TOKEN: ctl[3] } });
    assert.deepEqual(JSON.parse(viaEnv.stdout).map((x: any) => [x.name, x.config.uri]), [['from-config', target.url]]);
  });

  it('add takes inline JSON or a file; the new routes deliver what MQTT clients publish', async () => {
    let r = await routes('add', JSON.stringify(route('inline', 'a/#')));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^added inline\trest\ta\/#\tidle/);
    const file = path.join(dir, 'route.json');
    fs.writeFileSync(file, JSON.stringify(route('from-file', 'b/#')));
    r = await routes('add', file, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).name, 'from-file');
    await pub.publishAsync('a/1', 'to inline', { qos: 1 });
    await pub.publishAsync('b/1', 'to file', { qos: 1 });
    await pub.publishAsync('cfg/1', 'to config', { qos: 1 });
    await waitFor(() => target.received.length >= 3, 'three deliveries');
    assert.deepEqual(target.received.map((x) => x.body.toString()).sort(), ['to config', 'to file', 'to inline']);
    assert.equal((await statusOf('inline')).stats.delivered, 1);
    assert.equal((await routes('remove', 'inline')).code, 0);
    assert.equal((await routes('remove', 'from-file')).code, 0);
  });

  it('add refuses bad input with exit 1 and a message naming the field or the file', async () => {
    const cases: [string, RegExp][] = [
      [JSON.stringify({ ...route('bad', 'x/#/y') }), /^host-broker: route\.filter: expected an MQTT topic filter/],
      [JSON.stringify({ ...route('bad', 'x/#'), method: 'FETCH' }), /^host-broker: route\.method: expected one of 'GET'/],
      [JSON.stringify(route('from-config', 'x/#')), /^host-broker: route\.name: route "from-config" exists/],
      ['{ not json', /^host-broker: inline JSON: not valid JSON/],
      [path.join(dir, 'missing.json'), /^host-broker: .*missing\.json: cannot read the route file \(ENOENT\)/],
    ];
    for (const [arg, re] of cases) {
      const r = await routes('add', arg);
      assert.equal(r.code, 1, arg);
      assert.match(r.stderr, re);
    }
    fs.writeFileSync(path.join(dir, 'list.json'), '[]');
    assert.match((await routes('add', path.join(dir, 'list.json'))).stderr, /list\.json: expected one route as a JSON object/);
    assert.deepEqual(JSON.parse((await routes('list', '--json')).stdout).map((x: any) => x.name), ['from-config']);
  });

  it('dead-letters lists what the target refused; requeue sends it again once the target is fixed', async () => {
    target.respond = (x) => (x.body.toString() === 'poison' ? 422 : 200);
    assert.equal((await routes('add', JSON.stringify(route('picky', 'p/#', { delivery: { ...FAST, maxAttempts: 1 } })))).code, 0);
    await pub.publishAsync('p/1', 'poison', { qos: 1 });
    await waitFor(async () => (await statusOf('picky')).deadLetters === 1, 'a dead letter');
    let r = await routes('dead-letters', 'picky');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\t\d{4}-\d\d-\d\dT[\d:.]+Z\tp\/1\t1 attempts\t.*422/m);
    const json = JSON.parse((await routes('dead-letters', 'picky', '--json', '--limit', '5')).stdout);
    assert.deepEqual(json.map((d: any) => [d.topic, d.payload]), [['p/1', 'poison']]);
    assert.match((await routes('dead-letters', 'picky', '--limit', '0')).stderr, /--limit <n>.*expected an integer 1\.\.10000/);

    target.respond = () => 200;
    r = await routes('requeue', 'picky');
    assert.equal(r.stdout.trim(), 'requeued 1 dead letters of picky');
    await waitFor(() => target.received.some((x) => x.body.toString() === 'poison'), 'the requeued message');
    assert.equal((await routes('dead-letters', 'picky')).stdout.trim(), 'no dead letters');
    assert.equal((await routes('remove', 'picky')).code, 0);
  });

  it('remove discards the queue, or keeps it with --keep-queue; an unknown name is exit 1', async () => {
    await target.stop();
    assert.equal((await routes('add', JSON.stringify(route('gone', 'g/#')))).code, 0);
    assert.equal((await routes('add', JSON.stringify(route('kept', 'k/#')))).code, 0);
    await pub.publishAsync('g/1', 'x', { qos: 1 });
    await pub.publishAsync('k/1', 'y', { qos: 1 });
    assert.equal((await routes('remove', 'gone')).stdout.trim(), 'removed gone; 1 queued or dead-lettered messages discarded');
    assert.equal((await routes('remove', 'kept', '--keep-queue')).stdout.trim(), 'removed kept; its queue is kept');
    const r = await routes('remove', 'gone');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^host-broker: no route named "gone"/);
    await target.start();
    const before = target.received.length;
    assert.equal((await routes('add', JSON.stringify(route('kept', 'k/#')))).code, 0);
    await waitFor(() => target.received.length > before, 'the kept message');
    assert.equal(target.received[target.received.length - 1].body.toString(), 'y');
  });

  it('without the token the hub refuses: exit 1 saying how to give it', async () => {
    const r = await runCli(['routes', 'list', '--control', ctl[1]], { env: { HOST_BROKER_TOKEN: '' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^host-broker: authentication required.*no token was given: set HOST_BROKER_TOKEN \(or pass --token\)/);
  });

  it('a hub that is not there: exit 1 saying how to reach one', async () => {
    const r = await runCli(['routes', 'list', '--control', `http://127.0.0.1:${await freePort()}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^host-broker: cannot reach the control API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); start the hub with --control-port/);
  });
});
