// The device endpoints of the control API (what `host-broker devices` uses
// against a running hub), on a hub built as users run it (start-hub): add,
// read, change (a password, a pin, enabled), remove; bad input is refused with
// the field named, and a change that locks a device out kicks it at once.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { validateConfig } from '../../host-broker/config';
import { ControlApiError, ControlClient } from '../../host-broker/control/http-client';
import { hashPassword } from '../../host-broker/security/password';
import { RunningHub, startHub } from '../../host-broker/start-hub';
import { connect, endAll } from '../broker-security/hub-fixture';
import { raw, until } from './fixture';

const TOKEN = 'devices-test-token';

describe('control: device endpoints', function () {
  this.timeout(20000);
  let dir: string;
  let hub: RunningHub;
  let api: ControlClient;
  let url: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-dev-'));
    hub = await startHub(validateConfig({ listeners: { tcp: { port: 0 } }, control: { port: 0, token: TOKEN }, dataDir: dir, memory: true }));
    api = new ControlClient(hub.controlServer!.url, { token: TOKEN });
    url = `mqtt://127.0.0.1:${hub.ports.tcp}`;
  });
  after(async () => { await endAll(); await hub.close(); fs.rmSync(dir, { recursive: true, force: true }); });

  const status = async (p: Promise<unknown>): Promise<[number, string]> => {
    try { await p; } catch (err) { if (err instanceof ControlApiError) return [err.status, err.message]; throw err; }
    return [200, 'ok'];
  };

  it('GET /health names the data dir', async () => {
    assert.equal((await api.health()).dataDir, dir);
  });

  it('POST /devices adds a device (with a password hash: the password never travels); the device logs in at once', async () => {
    const d = await api.addDevice({ id: 'd1', username: 'u1', passwordHash: hashPassword('p1'), subscribe: { reject: ['secret/#'] } });
    assert.deepEqual([d.id, d.username, d.hasPassword, d.subscribe], ['d1', 'u1', true, { reject: ['secret/#'] }]);
    assert.equal((d as any).passwordHash, undefined, 'no hash in the answer');
    const c = await connect(url, { clientId: 'd1', username: 'u1', password: 'p1' });
    c.end(true);
    assert.deepEqual((await api.device('d1')).id, 'd1');
  });

  it('refuses bad input naming the field (400), an id in use (409), an unknown device (404), unknown fields', async () => {
    assert.deepEqual(await status(api.addDevice({ id: 'bad id' })), [400, 'id: expected 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, got "bad id"']);
    assert.deepEqual(await status(api.addDevice({ id: 'd1' })), [409, 'id: device d1 exists']);
    assert.match((await status(api.addDevice({ id: 'x', publish: { accept: ['a/#/b'] } })))[1], /^publish\.accept\[0\]: filter: .*'#'/);
    assert.match((await status(api.addDevice({ id: 'x', pasword: 'typo' } as any)))[1], /^device\.pasword: unknown field/);
    assert.match((await status(api.addDevice({ id: 'x', requireTls: 'yes' } as any)))[1], /^requireTls: expected true or false/, 'the console form\'s requireTls');
    assert.match((await status(api.addDevice({ id: 'x', passwordHash: 'plain' })))[1], /^passwordHash: expected "scrypt\$N\$r\$p\$salt\$key"/);
    assert.match((await status(api.addDevice({ id: 'x2', username: 'u1' })))[1], /username: already used by another device/);
    assert.deepEqual(await status(api.device('ghost')), [404, 'device ghost does not exist']);
    assert.deepEqual(await status(api.updateDevice('ghost', { name: 'x' })), [404, 'device ghost does not exist']);
    assert.deepEqual(await status(api.removeDevice('ghost')), [404, 'device ghost does not exist']);
    assert.match((await status(api.updateDevice('d1', { id: 'other' } as any)))[1], /^device\.id: unknown field/);
    assert.equal((await raw(hub.controlServer!.url, 'PATCH', '/devices/d1', '[1]')).status, 401, 'the device endpoints are behind the token');
    assert.deepEqual(await status(new ControlClient(hub.controlServer!.url, { token: 'not-the-token' }).addDevice({ id: 'x' })), [401, 'authorization: wrong token (the token given (--token or HOST_BROKER_TOKEN) is not this hub\'s)']);
  });

  it('PATCH /devices/:id changes a password: the old one is refused, the new one works', async () => {
    await api.updateDevice('d1', { passwordHash: hashPassword('p2') });
    await assert.rejects(connect(url, { clientId: 'd1', username: 'u1', password: 'p1' }), /Bad username or password/);
    const c = await connect(url, { clientId: 'd1', username: 'u1', password: 'p2' });
    c.end(true);
  });

  it('PATCH enabled: false and DELETE kick the device\'s connected clients at once', async () => {
    let c = await connect(url, { clientId: 'd1', username: 'u1', password: 'p2' });
    const r = await api.updateDevice('d1', { enabled: false });
    assert.deepEqual([r.enabled, r.kicked], [false, 1]);
    await until(() => !c.connected, 'the kick');
    await api.updateDevice('d1', { enabled: true });
    c = await connect(url, { clientId: 'd1', username: 'u1', password: 'p2' });
    assert.deepEqual(await api.removeDevice('d1'), { device: 'd1', removed: true, kicked: 1 });
    await until(() => !c.connected, 'the kick');
    assert.deepEqual(await api.devices(), []);
  });
});
