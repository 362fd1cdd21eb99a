// The host-broker command, spawned as a process the way a user runs it.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ControlClient } from '../../host-broker/control/http-client';
import { DeviceRegistry } from '../../host-broker/security/device-registry';
import { runCli, startCli } from './run-cli';
import { connect } from '../helpers/mqttjs';

describe('host-broker CLI (spawned)', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-cli-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--help lists the commands, and start --help every start option', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /start \[options\]/);
    assert.match(top.stdout, /devices/);
    const start = await runCli(['start', '--help']);
    assert.equal(start.code, 0);
    for (const opt of ['--port', '--tls-port', '--ws-port', '--control-port', '--control-host', '--no-control-auth', '--host', '--data-dir', '--config', '--memory', '--allow-anonymous']) {
      assert.ok(start.stdout.includes(opt), `${opt} in start --help`);
    }
    const dev = await runCli(['devices', '--help']);
    for (const sub of ['add', 'list', 'disable', 'enable', 'cert', 'remove']) assert.match(dev.stdout, new RegExp(`\\b${sub}\\b`));
  });

  it('devices add / list / disable / enable / remove edit the registry in --data-dir', async () => {
    const dd = ['--data-dir', dir];
    let r = await runCli(['devices', 'add', 'd1', ...dd, '--username', 'u1', '--password-stdin', '--publish-accept', 'd1/#', '--subscribe-reject', 'secret/#', '--json'], { input: 'pw-from-stdin\n' });
    assert.equal(r.code, 0, r.stderr);
    const added = JSON.parse(r.stdout);
    assert.deepEqual([added.id, added.username, added.hasPassword, added.publish, added.subscribe], ['d1', 'u1', true, { accept: ['d1/#'] }, { reject: ['secret/#'] }]);
    r = await runCli(['devices', 'add', 'd2', ...dd, '--require-tls', '--name', 'Garage door']);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['devices', 'list', ...dd]);
    assert.match(r.stdout, /^d1\tenabled\ttcp\+tls\tusername u1 \+ password/m);
    assert.match(r.stdout, /^d2\tenabled\ttls-only\t.*"Garage door"/m);
    assert.equal((await runCli(['devices', 'disable', 'd1', ...dd])).code, 0);
    const reg = new DeviceRegistry({ dataDir: dir });
    try {
      assert.equal(reg.get('d1')!.enabled, false);
      assert.equal(reg.get('d2')!.allowInsecure, false);
      assert.ok(!fs.readFileSync(path.join(dir, 'devices.db')).includes('pw-from-stdin'), 'only the hash is stored');
    } finally { reg.close(); }
    assert.equal((await runCli(['devices', 'enable', 'd1', ...dd])).code, 0);
    const list = JSON.parse((await runCli(['devices', 'list', ...dd, '--json'])).stdout);
    assert.deepEqual(list.map((d: any) => [d.id, d.enabled]), [['d1', true], ['d2', true]]);
    assert.equal((await runCli(['devices', 'remove', 'd2', ...dd])).code, 0);
    assert.equal(JSON.parse((await runCli(['devices', 'list', ...dd, '--json'])).stdout).length, 1);
  });

  it('devices commands refuse bad input with exit 1 and a message naming the field', async () => {
    const dd = ['--data-dir', dir];
    let r = await runCli(['devices', 'add', 'bad id', ...dd]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^host-broker: id: expected/);
    r = await runCli(['devices', 'add', 'x', ...dd, '--password', 'p']);
    assert.match(r.stderr, /username: a device with a password needs a username/);
    r = await runCli(['devices', 'add', 'x', ...dd, '--publish-accept', 'a/#/b']);
    assert.match(r.stderr, /publish\.accept\[0\]/);
    r = await runCli(['devices', 'disable', 'ghost', ...dd]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /device ghost does not exist/);
    r = await runCli(['start', '--port', '70000']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--port <n>.*expected a port number 0\.\.65535/);
  });

  it('devices cert writes cert, key (0600) and CA, pins the fingerprint; the hub accepts it over mutual TLS', async () => {
    const dd = ['--data-dir', dir];
    assert.equal((await runCli(['devices', 'add', 'tlsdev', ...dd, '--require-tls'])).code, 0);
    const out = path.join(dir, 'certs');
    const r = await runCli(['devices', 'cert', 'tlsdev', ...dd, '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.equal(fs.statSync(info.files.key).mode & 0o777, 0o600);
    const reg = new DeviceRegistry({ dataDir: dir });
    assert.equal(reg.get('tlsdev')!.certFingerprint, info.fingerprint256);
    reg.close();
    const hub = await startCli(['start', '--port', '0', '--tls-port', '0', ...dd, '--memory']);
    try {
      const tlsOpts = { key: fs.readFileSync(info.files.key), cert: fs.readFileSync(info.files.cert), ca: fs.readFileSync(info.files.ca), servername: 'localhost' };
      const c = await connect(`mqtts://127.0.0.1:${hub.ports.tls}`, { clientId: 'tlsdev', ...tlsOpts });
      c.end(true);
      await assert.rejects(connect(`mqtt://127.0.0.1:${hub.ports.tcp}`, { clientId: 'tlsdev' }), (e: any) => e.code === 5);
    } finally {
      assert.equal(await hub.stop(), 0);
    }
  });

  it('start: devices from the CLI connect (TCP and WebSocket); `devices disable` from another process kicks a connected one; SIGTERM exits 0', async () => {
    const dd = ['--data-dir', dir];
    assert.equal((await runCli(['devices', 'add', 'd1', ...dd, '--username', 'u1', '--password', 'p1'])).code, 0);
    const hub = await startCli(['--port', '0', '--ws-port', '0', '--ws-path', '/mqtt', '--control-port', '0', ...dd]);
    try {
      assert.deepEqual(Object.keys(hub.ports).sort(), ['control', 'tcp', 'ws']);
      (await connect(`ws://127.0.0.1:${hub.ports.ws}/mqtt`, { username: 'u1', password: 'p1' })).end(true);
      const url = `mqtt://127.0.0.1:${hub.ports.tcp}`;
      await assert.rejects(connect(url, { username: 'u1', password: 'wrong' }), (e: any) => e.code === 4);
      await assert.rejects(connect(url, {}), (e: any) => e.code === 5);
      const c = await connect(url, { clientId: 'd1-board', username: 'u1', password: 'p1' });
      const token = await hub.token();
      await assert.rejects(new ControlClient(`http://127.0.0.1:${hub.ports.control}`, { token: 'not-the-token' }).clients(), (e: any) => e.status === 401 && /is not this hub's/.test(e.message));
      const api = new ControlClient(`http://127.0.0.1:${hub.ports.control}`, { token });
      assert.deepEqual((await api.clients()).map((x) => [x.clientId, x.deviceId]), [['d1-board', 'd1']]);
      assert.deepEqual(await api.listRoutes(), [], 'routes can be managed even when the config has none');
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      assert.equal((await runCli(['devices', 'disable', 'd1', ...dd])).code, 0);
      await closed;
      await assert.rejects(connect(url, { username: 'u1', password: 'p1' }), (e: any) => e.code === 5);
    } finally {
      assert.equal(await hub.stop(), 0);
    }
    assert.ok(fs.existsSync(path.join(dir, 'hub.db')), 'the SQLite store lives in the data dir');
  });

  it('start --control-port: the token is printed at the first start only, with the console address; control-token reset makes a new one; --no-control-auth is refused off loopback', async () => {
    const dd = ['--data-dir', dir];
    const first = await startCli(['--port', '0', '--control-port', '0', '--memory', ...dd]);
    let token: string;
    try {
      token = await first.token();
      const listening = first.lines.find((l) => l.msg === 'listening');
      assert.equal(listening.console, `http://127.0.0.1:${first.ports.control}/`);
      assert.ok(!JSON.stringify(first.lines).includes(token), 'the token is not in the JSON log');
      assert.match(first.stderr(), /export HOST_BROKER_TOKEN=/);
    } finally { assert.equal(await first.stop(), 0); }
    const second = await startCli(['--port', '0', '--control-port', '0', '--memory', ...dd]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.doesNotMatch(second.stderr(), /shown only this once/);
      const url = `http://127.0.0.1:${second.ports.control}`;
      assert.equal((await new ControlClient(url, { token }).health()).ok, true);
      const reset = await runCli(['control-token', 'reset', ...dd]);
      assert.equal(reset.code, 0, reset.stderr);
      const fresh = reset.stdout.trim();
      assert.match(fresh, /^[\w-]{32}$/);
      await assert.rejects(new ControlClient(url, { token }).health(), (e: any) => e.status === 401);
      assert.equal((await new ControlClient(url, { token: fresh }).health()).ok, true);
    } finally { assert.equal(await second.stop(), 0); }
    const open = await runCli(['--port', '0', '--control-port', '0', '--control-host', '0.0.0.0', '--no-control-auth', '--memory', ...dd]);
    assert.equal(open.code, 1);
    assert.match(open.stderr, /control\.auth: false is allowed only on a loopback address; the control API on 0\.0\.0\.0 needs a token/);
  });

  it('start --config: devices, filters, limits and events from a JSON file; flags override its listeners', async () => {
    const cfgFile = path.join(dir, 'hub.json');
    fs.writeFileSync(cfgFile, JSON.stringify({
      listeners: { tcp: { port: 1 } },
      dataDir: 'data',
      devices: [{ id: 'cfgdev', username: 'cu', password: 'cp', publish: { accept: ['cfg/#'] } }, { id: 'ops', username: 'ops', password: 'ops', subscribe: { accept: ['$ops/ev/#'] } }],
      limits: { maxConnections: 50 },
      events: { prefix: '$ops/ev' },
      log: { level: 'warn' },
    }));
    const hub = await startCli(['--config', cfgFile, '--port', '0', '--log-level', 'info']);
    try {
      const url = `mqtt://127.0.0.1:${hub.ports.tcp}`;
      const ops = await connect(url, { username: 'ops', password: 'ops' });
      await ops.subscribeAsync('$ops/ev/#'); // hub events are read only by a device whose policy names them, wherever the prefix is
      const dev0 = await connect(url, { username: 'cu', password: 'cp' });
      await assert.rejects(dev0.subscribeAsync('$ops/ev/#'), /Subscribe error/, 'a device whose policy does not name them gets 0x80');
      dev0.end(true);
      const ev = new Promise<any>((r) => ops.on('message', (_t, p) => r(JSON.parse(p.toString()))));
      const dev = await connect(url, { username: 'cu', password: 'cp' });
      await dev.publishAsync('elsewhere', 'x', { qos: 1 });
      const e = await ev;
      assert.equal(e.kind, 'unauthorized_topic');
      dev.end(true);
      ops.end(true);
      assert.ok(fs.existsSync(path.join(dir, 'data', 'devices.db')), 'dataDir is relative to the config file');
    } finally {
      await hub.stop();
    }
  });

  it('a bad config file stops start with exit 1 and the file, field and expectation', async () => {
    const cfgFile = path.join(dir, 'bad.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ devices: [{ id: 'ok' }, { id: 'x', pasword: 'typo' }] }));
    const r = await runCli(['--config', cfgFile, '--data-dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.json: devices\[1\]\.pasword: unknown field/);
    fs.writeFileSync(cfgFile, '{ nope');
    assert.match((await runCli(['--config', cfgFile, '--data-dir', dir])).stderr, /bad\.json: not valid JSON/);
  });
});
