// `host-broker backup` while the hub runs under QoS 1 load, `host-broker restore`
// into a fresh data dir, and a hub on the restored dir: devices, the CA, persistent
// sessions with their queued messages, retained messages and route queues are back.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import mqtt, { MqttClient } from 'mqtt';
import { inspectBackup } from '../../host-broker/backup';
import { ControlClient } from '../../host-broker/control/http-client';
import { runCli, startCli, type RunningCli } from '../cli/run-cli';

describe('backup and restore', function () {
  this.timeout(120000);
  let dir: string;
  const hubs: RunningCli[] = [];
  const clients: MqttClient[] = [];
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-backup-')); });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    for (const h of hubs.splice(0)) await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = async (dataDir: string) => {
    const cfg = path.join(dir, 'hub.json');
    if (!fs.existsSync(cfg)) {
      fs.writeFileSync(cfg, JSON.stringify({
        listeners: { tcp: { port: 0 }, tls: { port: 0 } }, control: { port: 0, token: 'backup-test-token' },
        limits: { maxQueuedPerClient: 1_000_000 }, metrics: { sysInterval: 0 },
        // A target that is never there: routed messages stay queued, and must survive too.
        routes: [{ name: 'archive', type: 'rest', filter: 'load/#', uri: 'http://127.0.0.1:1/never', delivery: { backoff: { initialMs: 600000, maxMs: 600000 }, maxQueue: 1_000_000 } }],
      }));
    }
    const hub = await startCli(['start', '--config', cfg, '--data-dir', dataDir]);
    hubs.push(hub);
    return hub;
  };
  const connect = (hub: RunningCli, opts: mqtt.IClientOptions, onMessage?: (topic: string, payload: Buffer) => void) => new Promise<{ c: MqttClient; sessionPresent: boolean }>((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${hub.ports.tcp}`, { reconnectPeriod: 0, ...opts });
    clients.push(c);
    if (onMessage) c.on('message', onMessage);
    c.once('connect', (ack) => resolve({ c, sessionPresent: ack.sessionPresent }));
    c.once('error', reject);
  });

  it('a backup taken under QoS 1 load restores into a fresh data dir with its sessions, queued messages, devices, CA and route queue', async () => {
    const a = path.join(dir, 'a');
    const dd = ['--data-dir', a];
    assert.equal((await runCli(['devices', 'add', 'sensor', ...dd, '--username', 'sensor', '--password', 'pw'])).code, 0);
    assert.equal((await runCli(['devices', 'add', 'keeper', ...dd, '--username', 'keeper', '--password', 'kp'])).code, 0);
    const hub = await start(a);
    // A persistent session that is away: every QoS 1 message is queued for it in the store.
    const keeper = await connect(hub, { clientId: 'keeper', clean: false, username: 'keeper', password: 'kp' });
    await keeper.c.subscribeAsync('load/#', { qos: 1 });
    await keeper.c.endAsync();
    const sensor = (await connect(hub, { clientId: 'sensor', username: 'sensor', password: 'pw' })).c;
    await sensor.publishAsync('status/sensor', 'online', { qos: 1, retain: true });

    // QoS 1 load: 8 publishes in flight at a time, each counted once its PUBACK is in.
    let next = 0;
    const acked: number[] = [];
    let loading = true;
    const worker = async () => {
      while (loading) {
        const n = next++;
        await sensor.publishAsync('load/t', String(n), { qos: 1 });
        acked.push(n);
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, worker));
    while (acked.length < 300) await new Promise((r) => setTimeout(r, 20));
    const backupFile = path.join(dir, 'hub-backup.tar.gz');
    const ackedBefore = acked.slice();
    const ackedAtStart = ackedBefore.length;
    const t0 = Date.now();
    const b = await runCli(['backup', ...dd, '--out', backupFile, '--json']);
    const ackedAtEnd = acked.length;
    const backupMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 300)); // and the load goes on after it
    loading = false;
    await load;
    assert.equal(b.code, 0, b.stderr);
    assert.ok(ackedAtEnd > ackedAtStart, `the load ran during the backup (${ackedAtStart} -> ${ackedAtEnd} acknowledged)`);
    assert.equal(fs.statSync(backupFile).mode & 0o777, 0o600, 'it holds the CA key and password hashes');
    const manifest = await inspectBackup(backupFile);
    assert.deepEqual(manifest.files.map((f) => f.name).sort(),
      ['ca/ca.cert.pem', 'ca/ca.key.pem', 'ca/server.cert.pem', 'ca/server.key.pem', 'devices.db', 'hub.db', 'routes.db']);
    const inBackup = manifest.counts.queuedMessages;
    console.log(`      ${ackedAtStart} QoS 1 messages acknowledged before the backup, ${ackedAtEnd - ackedAtStart} during it (${backupMs} ms, process start included), ${inBackup} queued in the copy`);
    assert.ok(inBackup >= ackedAtStart && inBackup <= next, `${inBackup} queued in the backup: at least the ${ackedAtStart} acknowledged before it started`);
    assert.equal(manifest.counts.devices, 2);
    assert.equal(manifest.counts.sessions, 1);
    assert.equal(manifest.counts.retainedMessages, 1);
    // Each database is one snapshot; routes.db is copied after hub.db, so its queue may hold later messages.
    assert.ok(manifest.counts.routeQueue >= inBackup + 1 && manifest.counts.routeQueue <= next + 1, `route queue ${manifest.counts.routeQueue}: the stored messages and the retained one, at least`);
    assert.deepEqual(JSON.parse(b.stdout).counts, manifest.counts);
    await hubs.pop()!.stop();
    for (const c of clients.splice(0)) c.end(true);

    // Restore into a fresh data dir and run a hub on it.
    const r = path.join(dir, 'restored');
    const res = await runCli(['restore', backupFile, '--data-dir', r]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`into ${r}: 2 devices, 1 persistent sessions \\(1 subscriptions, ${inBackup} queued messages\\), 1 retained messages`));
    for (const f of ['ca/ca.cert.pem', 'ca/ca.key.pem', 'ca/server.cert.pem']) {
      assert.ok(fs.readFileSync(path.join(r, f)).equals(fs.readFileSync(path.join(a, f))), `${f} is the same CA`);
    }
    const hub2 = await start(r);
    // The device logs in with the password it had; the keeper's session is there with every queued message, in order.
    const got: number[] = [];
    const back = await connect(hub2, { clientId: 'keeper', clean: false, username: 'keeper', password: 'kp' }, (t, p) => { if (t === 'load/t') got.push(Number(p)); });
    assert.equal(back.sessionPresent, true);
    const deadline = Date.now() + 30000;
    while (got.length < inBackup && Date.now() < deadline) await new Promise((res2) => setTimeout(res2, 50));
    assert.equal(got.length, inBackup);
    // Publishes were concurrent, so arrival order is the hub's; the set is exactly what it had stored.
    assert.equal(new Set(got).size, inBackup, 'no duplicates');
    const restored = new Set(got);
    for (const n of ackedBefore) assert.ok(restored.has(n), `message ${n}, acknowledged before the backup started, is there`);
    const retained = await connect(hub2, { username: 'sensor', password: 'pw' }, undefined);
    const status = new Promise<string>((res2) => retained.c.on('message', (t, p) => { if (t === 'status/sensor') res2(p.toString()); }));
    await retained.c.subscribeAsync('status/sensor');
    assert.equal(await status, 'online');
    const routes = await new ControlClient(`http://127.0.0.1:${hub2.ports.control}`, { token: 'backup-test-token' }).listRoutes();
    assert.equal(routes[0].queueDepth, manifest.counts.routeQueue);
    const tls = path.join(dir, 'tls');
    assert.equal((await runCli(['devices', 'cert', 'sensor', '--data-dir', r, '--out', tls])).code, 0, 'the restored CA issues certificates');
  });

  it('restore refuses to run against a live hub, and a data dir holding hub data unless --force (which moves it aside)', async () => {
    const a = path.join(dir, 'a');
    assert.equal((await runCli(['devices', 'add', 'd1', '--data-dir', a])).code, 0);
    const file = path.join(dir, 'b.tar.gz');
    assert.equal((await runCli(['backup', '--data-dir', a, '--out', file])).code, 0);
    const hub = await start(a);
    let r = await runCli(['restore', file, '--data-dir', a, '--force']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^host-broker: refusing to restore: data dir ${a} is in use by another host-broker process \\(pid ${hub.proc.pid}\\)`));
    assert.ok(fs.existsSync(path.join(a, 'devices.db')), 'nothing was touched');
    await hubs.pop()!.stop();
    r = await runCli(['restore', file, '--data-dir', a]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`data dir ${a} already holds hub data \\(.*devices\\.db.*\\); restore into an empty data dir, or pass --force`));
    r = await runCli(['restore', file, '--data-dir', a, '--force']);
    assert.equal(r.code, 0, r.stderr);
    const aside = /the files that were there are in (\S+)/.exec(r.stdout)![1];
    assert.ok(fs.existsSync(path.join(aside, 'devices.db')) && fs.existsSync(path.join(aside, 'hub.db')), 'the old files are kept');
  });

  it('run as root into a service\'s data dir, the restored files belong to the data dir\'s owner', async function () {
    if (process.getuid?.() !== 0) { console.log('      skipped: needs root (as `sudo host-broker restore` runs)'); this.skip(); }
    const a = path.join(dir, 'a');
    assert.equal((await runCli(['devices', 'add', 'd1', '--data-dir', a])).code, 0);
    assert.equal((await runCli(['devices', 'cert', 'd1', '--data-dir', a, '--out', path.join(dir, 'certs')])).code, 0, 'makes the hub CA');
    const file = path.join(dir, 'b.tar.gz');
    assert.equal((await runCli(['backup', '--data-dir', a, '--out', file])).code, 0);
    const svc = path.join(dir, 'svc');
    fs.mkdirSync(svc);
    fs.chownSync(svc, 65534, 65534);
    const r = await runCli(['restore', file, '--data-dir', svc]);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['devices.db', 'ca', 'ca/ca.key.pem', 'ca/ca.cert.pem']) assert.equal(fs.statSync(path.join(svc, f)).uid, 65534, f);
    assert.equal(fs.statSync(path.join(svc, 'ca/ca.key.pem')).mode & 0o777, 0o600);
  });

  it('a damaged or foreign file is refused before anything is changed', async () => {
    const a = path.join(dir, 'a');
    assert.equal((await runCli(['devices', 'add', 'd1', '--data-dir', a])).code, 0);
    const file = path.join(dir, 'b.tar.gz');
    assert.equal((await runCli(['backup', '--data-dir', a, '--out', file])).code, 0);
    const target = path.join(dir, 'fresh');
    fs.writeFileSync(path.join(dir, 'junk.tar.gz'), 'not a tarball');
    let r = await runCli(['restore', path.join(dir, 'junk.tar.gz'), '--data-dir', target]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /junk\.tar\.gz: not a readable backup/);
    // Same archive, one byte of devices.db changed: the checksum catches it.
    const x = path.join(dir, 'x');
    fs.mkdirSync(x);
    const tar = await import('tar');
    await tar.x({ file, cwd: x });
    const db = path.join(x, 'devices.db');
    const bytes = fs.readFileSync(db);
    bytes[bytes.length - 10] ^= 0xff;
    fs.writeFileSync(db, bytes);
    await tar.c({ gzip: true, file: path.join(dir, 'tampered.tar.gz'), cwd: x }, fs.readdirSync(x));
    r = await runCli(['restore', path.join(dir, 'tampered.tar.gz'), '--data-dir', target]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tampered\.tar\.gz: devices\.db is damaged \(size or SHA-256 differs from the manifest\)/);
    assert.deepEqual(fs.readdirSync(target).filter((f) => f !== 'hub.lock'), [], 'nothing was restored');
    r = await runCli(['backup', '--data-dir', path.join(dir, 'empty'), '--out', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /data dir .*empty: no hub data there/);
  });
});
