// `host-broker service install|uninstall`: the unit is checked by systemd's own
// verifier where systemd is installed, and its exact ExecStart is run (as an
// unprivileged user when we are root, with systemd's bare environment) against
// a temporary config and data dir on 127.0.0.1. Nothing is installed into this
// machine's /etc: files go under a temporary --root, or to stdout with --print.
import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import mqtt from 'mqtt';
import { validateConfig } from '../../host-broker/config';
import { fdLimitWarning, openFileLimit } from '../../host-broker/fd-limit';
import { checkServiceOptions, defaultServiceOptions, execArg, renderUnit, splitExecStart, UNIT_MARK } from '../../host-broker/service';
import { BIN, runCli } from './run-cli';

/** `Key=value` lines of a unit (last one wins), and every ExecStart. */
function unitKeys(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && /^[A-Z]/.test(line)) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

const hasSystemdAnalyze = !spawnSync('systemd-analyze', ['--version']).error;

describe('service: host-broker as a systemd unit', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-service-'));
    fs.chmodSync(dir, 0o755); // the unprivileged run below must reach its config and data dir
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('install --root writes the unit, the sysusers line and a starter config, runs no systemctl; the unit has what the issue asks', async () => {
    const root = path.join(dir, 'root');
    const r = await runCli(['service', 'install', '--root', root, '--name', 'hub']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /not run \(--root\): systemd-sysusers \/etc\/sysusers\.d\/hub\.conf/);
    assert.match(r.stdout, /not run \(--root\): systemctl enable --now hub\.service/);
    const unitFile = path.join(root, 'etc/systemd/system/hub.service');
    const unit = fs.readFileSync(unitFile, 'utf8');
    assert.ok(unit.startsWith(UNIT_MARK));
    const k = unitKeys(unit);
    assert.equal(k.get('User'), 'hub');
    assert.equal(k.get('StateDirectory'), 'hub');
    assert.deepEqual(splitExecStart(k.get('ExecStart')!).slice(2), ['start', '--config', '/etc/hub/hub.json', '--data-dir', '/var/lib/hub']);
    assert.equal(k.get('Restart'), 'on-failure');
    assert.equal(k.get('NoNewPrivileges'), 'yes');
    assert.equal(k.get('ProtectSystem'), 'strict');
    assert.equal(k.get('ReadWritePaths'), '/var/lib/hub');
    assert.equal(k.get('LimitNOFILE'), '1256', '1000 connections (the default limit) + 256');
    assert.equal(k.get('CapabilityBoundingSet'), '', 'no capabilities for ports from 1024 up');
    assert.equal(fs.readFileSync(path.join(root, 'etc/sysusers.d/hub.conf'), 'utf8').split('\n')[1], 'u hub - "MQTT hub (host-broker hub)" /var/lib/hub');
    const cfgFile = path.join(root, 'etc/hub/hub.json');
    assert.equal(fs.statSync(cfgFile).mode & 0o777, 0o640);
    const cfg = validateConfig(JSON.parse(fs.readFileSync(cfgFile, 'utf8')));
    assert.deepEqual(cfg.listeners, { tcp: { port: 1883, host: '0.0.0.0' } });
    assert.deepEqual(cfg.control, { port: 8081, host: '127.0.0.1' });

    // A second install keeps the config the user edited, and sizes the unit from it.
    fs.writeFileSync(cfgFile, JSON.stringify({ listeners: { tcp: { port: 883 } }, limits: { maxConnections: 5000 }, log: { file: '/var/log/hub/hub.log' } }));
    assert.equal((await runCli(['service', 'install', '--root', root, '--name', 'hub'])).code, 0);
    const k2 = unitKeys(fs.readFileSync(unitFile, 'utf8'));
    assert.equal(k2.get('LimitNOFILE'), '5256');
    assert.equal(k2.get('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE', 'port 883 needs it');
    assert.equal(k2.get('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
    assert.equal(k2.get('ReadWritePaths'), '/var/lib/hub /var/log/hub');
    assert.equal(JSON.parse(fs.readFileSync(cfgFile, 'utf8')).limits.maxConnections, 5000, 'not overwritten');

    // uninstall removes what install wrote, keeps config and data, and only ever removes its own units.
    const u = await runCli(['service', 'uninstall', '--root', root, '--name', 'hub']);
    assert.equal(u.code, 0, u.stderr);
    assert.ok(!fs.existsSync(unitFile) && !fs.existsSync(path.join(root, 'etc/sysusers.d/hub.conf')));
    assert.ok(fs.existsSync(cfgFile));
    assert.match(u.stdout, /kept \/etc\/hub\/hub\.json, \/var\/lib\/hub, user hub/);
    fs.writeFileSync(unitFile, '[Unit]\nDescription=someone else\n');
    const foreign = await runCli(['service', 'uninstall', '--root', root, '--name', 'hub']);
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /was not written by `host-broker service install`/);
    assert.ok(fs.existsSync(unitFile));
  });

  it('systemd-analyze verify accepts the unit (where systemd is installed)', async function () {
    if (!hasSystemdAnalyze) { console.log('      skipped: systemd-analyze not found (Debian package systemd)'); this.skip(); }
    const root = path.join(dir, 'root');
    assert.equal((await runCli(['service', 'install', '--root', root])).code, 0);
    const unitFile = path.join(root, 'etc/systemd/system/host-broker.service');
    const v = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stderr.trim(), '', 'no warnings either');
    // The verifier does catch mistakes: a misspelt key, and a missing binary.
    fs.writeFileSync(unitFile, fs.readFileSync(unitFile, 'utf8').replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes').replace(process.execPath, '/nonexistent/node'));
    const bad = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
    assert.match(bad.stderr, /Unknown key 'NoNewPrivilege'/);
    assert.match(bad.stderr, /\/nonexistent\/node is not executable/);
  });

  it('the exact ExecStart of the unit runs the hub (as an unprivileged user, with systemd\'s bare environment), and SIGTERM stops it cleanly', async () => {
    const cfgFile = path.join(dir, 'etc', 'hub.json');
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(path.dirname(cfgFile), { recursive: true });
    fs.mkdirSync(dataDir, { mode: 0o777 });
    fs.chmodSync(dataDir, 0o777);
    fs.writeFileSync(cfgFile, JSON.stringify({ listeners: { tcp: { port: 0, host: '127.0.0.1' } }, control: { port: 0, token: 'svc-test-token' }, allowAnonymous: true }));
    const p = await runCli(['service', 'install', '--print', '--config', cfgFile, '--data-dir', dataDir]);
    assert.equal(p.code, 0, p.stderr);
    const k = unitKeys(p.stdout);
    assert.equal(k.get('ReadWritePaths'), dataDir);
    assert.equal(k.get('StateDirectory'), undefined, 'not /var/lib/<name>: no StateDirectory');
    const argv = splitExecStart(k.get('ExecStart')!);
    assert.deepEqual(argv.slice(0, 2), [process.execPath, path.resolve(__dirname, '../../bin/host-broker.cjs')]);
    // systemd gives a service a bare environment, its unit's Environment= and JOURNAL_STREAM; the user is not root.
    const asRoot = process.getuid?.() === 0 && !spawnSync('setpriv', ['--version']).error;
    const cmd = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv] : argv;
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', NODE_ENV: k.get('Environment')!.replace(/^NODE_ENV=/, '') };
    const hub = spawn(cmd[0], cmd.slice(1), { cwd: dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    hub.stdout.on('data', (d) => { out += d; });
    hub.stderr.on('data', (d) => { err += d; });
    const exited = new Promise<number | null>((r) => hub.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 30000;
      while (!/"msg":"listening"/.test(out)) {
        if (Date.now() > deadline || hub.exitCode !== null) throw new Error(`no "listening": ${out} ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const ports = JSON.parse(out.split('\n').find((l) => l.includes('"listening"'))!).ports;
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.tcp}`, { reconnectPeriod: 0 });
      await c.publishAsync('svc/check', 'ok', { qos: 1 });
      await c.endAsync();
      const metrics = await (await fetch(`http://127.0.0.1:${ports.control}/metrics`, { headers: { authorization: 'Bearer svc-test-token' } })).text();
      assert.match(metrics, /^hub_messages_received_total\{qos="1"\} 1$/m);
      assert.ok(fs.existsSync(path.join(dataDir, 'hub.db')));
      if (asRoot) assert.equal(fs.statSync(path.join(dataDir, 'hub.db')).uid, 65534, 'it ran as the unprivileged user');
    } finally {
      hub.kill('SIGTERM'); // systemd's KillSignal
    }
    assert.equal(await exited, 0, err);
  });

  it('refuses what the service could not run: code, config or data under /home, bad names, relative paths', () => {
    const o = defaultServiceOptions('hub');
    assert.throws(() => checkServiceOptions({ ...o, bin: '/home/pi/espruino-mqtt-hub/bin/host-broker.cjs' }),
      /^Error: host-broker \/home\/pi\/espruino-mqtt-hub\/bin\/host-broker\.cjs is under \/home, which the service cannot read .*under \/opt/);
    assert.throws(() => checkServiceOptions({ ...o, node: '/root/.nvm/versions/node/v20.19.0/bin/node' }), /^Error: node \/root\/.* is under \/root.*not nvm/);
    assert.throws(() => checkServiceOptions({ ...o, dataDir: '/home/pi/hub-data' }), /^Error: --data-dir \/home\/pi\/hub-data is under \/home/);
    assert.throws(() => checkServiceOptions({ ...o, name: 'Hub!' }), /^Error: --name: expected 1-31 of a-z 0-9 -/);
    assert.throws(() => checkServiceOptions({ ...o, configFile: 'hub.json' }), /^Error: --config: expected an absolute path/);
    assert.throws(() => renderUnit({ ...o, dataDir: '/home/x' }, validateConfig({})), /under \/home/);
  });

  it('a hub whose open-file limit is below limits.maxConnections + 256 says so at start, naming LimitNOFILE', async () => {
    const limits = path.join(dir, 'limits');
    fs.writeFileSync(limits, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n');
    assert.equal(openFileLimit(limits), 1024);
    assert.equal(fdLimitWarning(768, 1024), undefined);
    assert.match(fdLimitWarning(1000, 1024)!, /limits\.maxConnections is 1000 but this process may open only 1024 files .* raise it to 1256 \(LimitNOFILE=/);
    // The real thing: a shell limit of 512 under the default 1000 connections.
    const hub = spawn('bash', ['-c', 'ulimit -n 512 && exec "$0" "$@"', process.execPath, BIN, 'start', '--port', '0', '--data-dir', path.join(dir, 'd'), '--allow-anonymous']);
    let out = '';
    hub.stdout.on('data', (d) => { out += d; });
    const exited = new Promise((r) => hub.once('exit', r));
    const deadline = Date.now() + 30000;
    while (!out.includes('"listening"') && Date.now() < deadline && hub.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    hub.kill('SIGTERM');
    await exited;
    const warn = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.level === 40);
    assert.ok(warn, out);
    assert.match(warn.msg, /may open only 512 files/);
    assert.equal(warn.maxConnections, 1000);
  });

  it('ExecStart arguments with spaces, quotes, % and $ survive systemd\'s parsing', () => {
    const args = ['/opt/my hub/bin/host-broker.cjs', 'a"b', '50%', '$HOME', 'plain'];
    assert.deepEqual(splitExecStart(args.map(execArg).join(' ')), args);
    assert.equal(execArg('/opt/hub/x'), '/opt/hub/x');
  });
});
