// `host-broker devices` changes the hub the user means, and says which: a
// running hub through its control API (found through --config, --control or the
// default address), or a data dir. Spawned as a user runs it.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DeviceRegistry } from '../../host-broker/security/device-registry';
import { freePort } from '../helpers/ports';
import { runCli, startCli, type RunningCli } from './run-cli';
import { connect } from '../helpers/mqttjs';

const TOKEN = 'cli-devices-token';
/** The hub's control token, as a user exports it after the hub's first start. */
const withToken = (env: Record<string, string> = {}) => ({ HOST_BROKER_TOKEN: TOKEN, ...env });

describe('host-broker devices: which hub it changes (spawned)', function () {
  this.timeout(120000);
  let dir: string;
  let hub: RunningCli;
  let controlPort: number;
  let cfgFile: string;
  let mqttUrl: string;
  /** Points the default control address at a port where nothing listens, so no other hub on this machine is found. */
  let nobody: Record<string, string>;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-devices-'));
    controlPort = await freePort();
    nobody = withToken({ HOST_BROKER_CONTROL: `http://127.0.0.1:${await freePort()}` });
    cfgFile = path.join(dir, 'hub.json');
    fs.writeFileSync(cfgFile, JSON.stringify({
      listeners: { tcp: { port: 0 } }, control: { port: controlPort, token: TOKEN }, dataDir: 'hub-data',
      devices: [{ id: 'declared', username: 'declared', password: 'from-file' }],
    }));
    hub = await startCli(['start', '--config', cfgFile]);
    mqttUrl = `mqtt://127.0.0.1:${hub.ports.tcp}`;
  });
  after(async () => {
    await hub?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const hubDir = () => path.join(dir, 'hub-data');
  const onHub = () => `changed: the running hub at http://127.0.0.1:${controlPort} (data dir ${hubDir()})`;

  it('--config: adds the device to the running hub (it logs in at once) and says so', async () => {
    const r = await runCli(['devices', 'add', 'dev1', '--config', cfgFile, '--username', 'dev1', '--password-stdin'], { input: 'first-pw\n', env: nobody });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^added dev1\tenabled\ttcp\+tls\tusername dev1 \+ password/m);
    assert.ok(r.stdout.includes(onHub()), r.stdout);
    const c = await connect(mqttUrl, { clientId: 'dev1', username: 'dev1', password: 'first-pw' });
    c.end(true);
  });

  it('devices passwd: the old password is refused, the new one works; the password is never printed', async () => {
    const r = await runCli(['devices', 'passwd', 'dev1', '--config', cfgFile], { input: 'second-pw\n', env: nobody });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^password of dev1 \(username dev1\) set/m);
    assert.ok(r.stdout.includes(onHub()));
    assert.ok(!(r.stdout + r.stderr).includes('second-pw'));
    await assert.rejects(connect(mqttUrl, { clientId: 'dev1', username: 'dev1', password: 'first-pw' }), /Bad username or password/);
    (await connect(mqttUrl, { clientId: 'dev1', username: 'dev1', password: 'second-pw' })).end(true);
  });

  it('--control <url> (explicit): disable kicks the connected device at once; --json keeps stdout JSON and says where on stderr', async () => {
    const c = await connect(mqttUrl, { clientId: 'dev1', username: 'dev1', password: 'second-pw' });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    const r = await runCli(['devices', 'disable', 'dev1', '--control', `http://127.0.0.1:${controlPort}`, '--token', TOKEN]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^dev1 disabled \(1 connected client kicked\)$/m);
    await closed;
    const list = await runCli(['devices', 'list', '--control', `http://127.0.0.1:${controlPort}`, '--json'], { env: withToken() });
    assert.deepEqual(JSON.parse(list.stdout).map((d: any) => [d.id, d.enabled]), [['declared', true], ['dev1', false]]);
    assert.ok(list.stderr.includes(`read: the running hub at http://127.0.0.1:${controlPort} (data dir ${hubDir()})`), list.stderr);
  });

  it('the default address (HOST_BROKER_CONTROL) finds the running hub when no data dir is asked for', async () => {
    const r = await runCli(['devices', 'enable', 'dev1'], { env: withToken({ HOST_BROKER_CONTROL: `http://127.0.0.1:${controlPort}` }), cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(onHub()), r.stdout);
  });

  it('a device declared in the --config file: changed on the hub, with a note that the file wins at the next start', async () => {
    const r = await runCli(['devices', 'passwd', 'declared', '--config', cfgFile, '--password', 'temporary'], { env: nobody });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /note: declared is declared in .*hub\.json; the fields given there are set again at every start/);
  });

  it('--data-dir of another directory: that data dir is changed, and the output says the running hub uses another one', async () => {
    const other = path.join(dir, 'elsewhere');
    const r = await runCli(['devices', 'add', 'lone', '--data-dir', other], { env: withToken({ HOST_BROKER_CONTROL: `http://127.0.0.1:${controlPort}` }) });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`changed: the data dir ${other} (the hub at http://127.0.0.1:${controlPort} runs on ${hubDir()}; no hub is running on it)`), r.stdout);
    const reg = new DeviceRegistry({ dataDir: other });
    try { assert.deepEqual(reg.list().map((d) => d.id), ['lone']); } finally { reg.close(); }
  });

  it('no hub answering: the data dir is changed and the output says so; an explicit --control that does not answer is an error', async () => {
    const lonely = path.join(dir, 'lonely');
    const r = await runCli(['devices', 'add', 'x', '--data-dir', lonely], { env: nobody });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`changed: the data dir ${lonely} (no hub answered at ${nobody.HOST_BROKER_CONTROL}; no hub is running on it)`), r.stdout);
    const bad = await runCli(['devices', 'list', '--control', nobody.HOST_BROKER_CONTROL]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /cannot reach the control API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it('the hub\'s token: without it the running hub refuses and the CLI says how to give it; with --data-dir of the hub\'s own data dir the change goes to the data dir, which the hub reads', async () => {
    const noToken = { HOST_BROKER_CONTROL: `http://127.0.0.1:${controlPort}`, HOST_BROKER_TOKEN: '' };
    const r = await runCli(['devices', 'list'], { env: noToken, cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a hub answers at http:\/\/127\.0\.0\.1:\d+ but refused the control API call: .*set HOST_BROKER_TOKEN \(or pass --token\)/);
    const d = await runCli(['devices', 'add', 'via-dir', '--data-dir', hubDir(), '--username', 'via-dir', '--password', 'vd-pw'], { env: noToken });
    assert.equal(d.code, 0, d.stderr);
    assert.ok(d.stdout.includes(`changed: the data dir ${hubDir()} (the hub at http://127.0.0.1:${controlPort} did not accept the token, so its data dir is unknown; the hub running on it sees the change within a second)`), d.stdout);
    (await connect(mqttUrl, { clientId: 'via-dir', username: 'via-dir', password: 'vd-pw' })).end(true);
  });

  it('errors name the field and never echo a password', async () => {
    const secret = 'hunter2-very-secret';
    for (const args of [
      ['devices', 'passwd', 'ghost', '--config', cfgFile, '--password', secret],
      ['devices', 'add', 'dev1', '--config', cfgFile, '--username', 'other', '--password', secret],
      ['devices', 'add', 'nouser', '--config', cfgFile, '--password', secret],
      ['devices', 'add', 'both', '--data-dir', dir, '--password', secret, '--password-stdin'],
    ]) {
      const r = await runCli(args, { env: nobody, input: `${secret}\n` });
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^host-broker: /);
      assert.ok(!(r.stdout + r.stderr).includes(secret), `${args.join(' ')} printed the password: ${r.stderr}`);
    }
  });
});
