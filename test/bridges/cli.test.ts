// `host-broker bridges list|add|remove|status` and the control API's /bridges,
// against a spawned hub (the real CLI) bridged to a Mosquitto; and a bad
// bridge in the config file stops the hub from starting with a clear error.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { ControlApiError, ControlClient } from '../../host-broker/control/http-client';
import { runCli, startCli, type RunningCli } from '../cli/run-cli';
import { startControlledHub } from '../control/fixture';
import { MOSQUITTO_SKIP_MESSAGE, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { freePort } from '../helpers/ports';
import { parseMetrics } from '../metrics/support';
import { FAST, Peer, tempDir, until } from './fixtures';

/** until() for conditions that ask the control API. */
async function poll(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('host-broker bridges (spawned hub, control API, CLI)', function () {
  this.timeout(60_000);
  let cloud: Mosquitto;
  let dir: string;
  let hub: RunningCli;
  let ctl: string[];
  let api: ControlClient;
  let events: Peer;

  const bridgeCfg = (name: string, extra: Record<string, unknown> = {}) => ({
    name, url: `mqtt://127.0.0.1:${cloud.port}`, clientId: `cli-${name}`, ...FAST,
    mappings: [{ direction: 'out', filter: 'sensors/#', remotePrefix: `${name}/` }], ...extra,
  });
  const bridges = (...args: string[]) => runCli(['bridges', ...args, ...ctl]);

  before(async function () {
    const m = await startMosquitto();
    if (!m) { console.log(`      ${MOSQUITTO_SKIP_MESSAGE}`); return this.skip(); }
    cloud = m;
    dir = tempDir('hb-bridges-');
    const cfg = path.join(dir, 'hub.json');
    // The hub's events are read only by a device whose policy names them (the monitor recipe).
    const ops = { id: 'ops', username: 'ops', password: 'ops-pw', subscribe: { accept: ['$hub/events/#'] } };
    fs.writeFileSync(cfg, JSON.stringify({ devices: [ops], bridges: [bridgeCfg('from-config')] }));
    hub = await startCli(['--config', cfg, '--port', '0', '--control-port', '0', '--allow-anonymous', '--data-dir', dir]);
    const token = await hub.token();
    ctl = ['--control', `http://127.0.0.1:${hub.ports.control}`, '--token', token];
    api = new ControlClient(`http://127.0.0.1:${hub.ports.control}`, { token });
    events = await Peer.connect(`mqtt://127.0.0.1:${hub.ports.tcp}`, { username: 'ops', password: 'ops-pw' });
    await events.subscribe('$hub/events/#', 0);
  });
  after(async () => {
    await events?.end();
    if (hub) assert.equal(await hub.stop(), 0);
    await cloud?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--help lists the bridges commands', async () => {
    const help = await runCli(['bridges', '--help']);
    assert.equal(help.code, 0);
    for (const sub of ['list', 'status', 'add', 'remove']) assert.match(help.stdout, new RegExp(`^  ${sub}\\b`, 'm'), sub);
    assert.match((await runCli(['--help'])).stdout, /\bbridges\b/);
  });

  it('list and status show the bridge from the config file: state, connected since, queued, sent, acknowledged, round trip', async () => {
    await poll(async () => (await api.getBridge('from-config')).state === 'connected', 'connected');
    const dev = await Peer.connect(`mqtt://127.0.0.1:${hub.ports.tcp}`);
    try { for (let i = 0; i < 5; i++) await dev.publish('sensors/t', String(i), 1); } finally { await dev.end(); }
    await poll(async () => (await api.getBridge('from-config')).stats.acknowledged === 5, '5 acknowledged upstream');

    const list = await bridges('list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^from-config\tconnected since \S+Z\tmqtt:\/\/127\.0\.0\.1:\d+\tqueued 0\tsent 5\tacknowledged 5\trtt [\d.]+ ms$/m);
    const status = await bridges('status', 'from-config');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^bridge from-config: connected$/m);
    assert.match(status.stdout, /^ {2}connected since \S+Z \(\d+ s ago\)$/m);
    assert.match(status.stdout, /^ {2}queued +0 messages \(0 bytes of 268435456\), 0 in flight$/m);
    assert.match(status.stdout, /^ {2}sent +5 \(\+0 resent after reconnects\), acknowledged 5$/m);
    assert.match(status.stdout, /^ {2}round trip +[\d.]+ ms$/m);
    const json = JSON.parse((await bridges('list', '--json')).stdout);
    assert.equal(json[0].name, 'from-config');
    assert.equal(json[0].config.mappings[0].remotePrefix, 'from-config/');
  });

  it('add and remove at run time; a bad config, a name in use or an unknown name is a clear error', async () => {
    const closed = await freePort();
    const added = await bridges('add', JSON.stringify(bridgeCfg('nowhere', { url: `mqtt://127.0.0.1:${closed}`, username: 'u', password: 'secret' })));
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^added nowhere\t(connecting|waiting)/);
    // The failure is a hub event on MQTT too.
    await until(() => events.got.some((m) => m.topic === '$hub/events/warning/bridge/nowhere'), 'the bridge_down event on $hub/events');
    const ev = JSON.parse(events.got.find((m) => m.topic === '$hub/events/warning/bridge/nowhere')!.payload);
    assert.equal(ev.kind, 'bridge_down');
    assert.match(ev.message, /ECONNREFUSED/);
    const status = await bridges('status', 'nowhere');
    assert.match(status.stdout, /^bridge nowhere: (waiting|connecting)$/m);
    assert.match(status.stdout, /last error +\S+Z \(\d+ s ago\): connection refused by 127\.0\.0\.1:\d+/);
    assert.doesNotMatch((await bridges('list', '--json')).stdout, /secret/, 'the password is never shown');

    const dup = await bridges('add', JSON.stringify(bridgeCfg('nowhere')));
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /^host-broker: bridge\.name: bridge "nowhere" exists; remove it first/);
    const bad = await bridges('add', JSON.stringify(bridgeCfg('bad', { url: 'http://example' })));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^host-broker: bridge\.url: expected an mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/ URL, got "http:\/\/example"/);
    await assert.rejects(api.addBridge({ name: 'x', url: 'mqtt://h', mappings: [{ direction: 'sideways', filter: '#' }] }),
      (err: any) => err instanceof ControlApiError && err.status === 400 && /bridge\.mappings\[0\]\.direction/.test(err.message));

    // Its backlog is a metric (issue 15's hub_backlog_messages, kind bridge).
    const dev = await Peer.connect(`mqtt://127.0.0.1:${hub.ports.tcp}`);
    try { for (let i = 0; i < 3; i++) await dev.publish('sensors/m', String(i), 1); } finally { await dev.end(); }
    const metrics = parseMetrics(await new Promise<string>((resolve, reject) => {
      http.get(`http://127.0.0.1:${hub.ports.control}/metrics`, { headers: { authorization: `Bearer ${ctl[3]}` } }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    }));
    assert.equal(metrics.get('hub_backlog_messages{kind="bridge",name="nowhere"}'), 3);

    const removed = await bridges('remove', 'nowhere');
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^removed nowhere; 3 queued messages discarded$/m);
    const unknown = await bridges('remove', 'nowhere');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no bridge named "nowhere"/);
    await assert.rejects(api.getBridge('nowhere'), (err: any) => err.status === 404);
  });

  it('without the token the hub refuses: exit 1 saying how to give it', async () => {
    const r = await runCli(['bridges', 'list', '--control', ctl[1]], { env: { HOST_BROKER_TOKEN: '' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^host-broker: authentication required.*set HOST_BROKER_TOKEN \(or pass --token\)/);
  });

  it('a hub whose controls have no bridges answers 404', async () => {
    const h = await startControlledHub();
    try {
      await assert.rejects(new ControlClient(h.http.url).listBridges(), (err: any) => err.status === 404 && /bridges are not enabled/.test(err.message));
    } finally { await h.close(); }
  });

  it('a bad bridge in the config file: the hub does not start, and says which field', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ bridges: [{ name: 'b', url: 'mqtts://h:8883', tls: { certFile: 'x.pem' }, mappings: [{ direction: 'out', filter: '#' }] }] }));
    const r = await runCli(['start', '--config', bad, '--port', '0', '--data-dir', path.join(dir, 'other')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.json: bridges\[0\]\.tls\.keyFile: give certFile and keyFile together/);
    const missing = path.join(dir, 'missing.json');
    fs.writeFileSync(missing, JSON.stringify({ bridges: [{ name: 'b', url: 'mqtts://h:8883', tls: { caFile: 'nope.pem' }, mappings: [{ direction: 'out', filter: '#' }] }] }));
    const r2 = await runCli(['start', '--config', missing, '--port', '0', '--data-dir', path.join(dir, 'other')]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /bridges\[0\]\.tls\.caFile: cannot read .*nope\.pem \(ENOENT\)/);
  });
});
