// The authentication/authorization decisions on their own, before any socket:
// the same hooks are exercised over real connections in the broker tests.
import { strict as assert } from 'assert';
import type { ClientInfo, ConnectRequest } from '../../host-broker/hooks';
import { DeviceRegistry } from '../../host-broker/security/device-registry';
import { DeviceSecurity } from '../../host-broker/security/device-security';

let nextConn = 1;
function client(over: Partial<ClientInfo> = {}): ClientInfo {
  return { connId: nextConn++, clientId: 'c', remoteAddress: '127.0.0.1', listener: 'tcp', ...over };
}
function connect(over: Partial<ConnectRequest> & { client?: ClientInfo } = {}): ConnectRequest {
  const c = over.client ?? client({ clientId: over.clientId ?? 'c' });
  return { clientId: c.clientId, keepalive: 60, clean: true, ...over, client: c };
}
const pw = (s: string) => Buffer.from(s);

describe('security/device-security: decisions', () => {
  let reg: DeviceRegistry;
  let sec: DeviceSecurity;
  const kicked: string[] = [];
  beforeEach(() => {
    reg = new DeviceRegistry({ file: ':memory:' });
    reg.add({ id: 'd1', username: 'u1', password: 'p1', publish: { accept: ['d1/#'] }, subscribe: { reject: ['secret/#'] } });
    reg.add({ id: 'strict', username: 'us', password: 'ps', allowInsecure: false });
    reg.add({ id: 'certonly', allowInsecure: false });
    sec = new DeviceSecurity({ registry: reg, watchIntervalMs: 0, broker: { disconnect: (id: string) => kicked.push(id) } });
    kicked.length = 0;
  });
  afterEach(() => { sec.stop(); reg.close(); });

  it('accepts the right username/password and names the device', async () => {
    assert.deepEqual(await sec.authenticate(connect({ username: 'u1', password: pw('p1') })), { ok: true, deviceId: 'd1' });
  });

  it('CONNACK 4 for a wrong password or unknown user; 5 without credentials (anonymous off)', async () => {
    const wrong = await sec.authenticate(connect({ username: 'u1', password: pw('nope') }));
    assert.deepEqual([wrong.ok, (wrong as any).returnCode, (wrong as any).event], [false, 4, 'authentication_failure']);
    const unknown = await sec.authenticate(connect({ username: 'ghost', password: pw('x') }));
    assert.equal((unknown as any).returnCode, 4);
    const none = await sec.authenticate(connect({}));
    assert.deepEqual([(none as any).returnCode, (none as any).event], [5, 'authentication_failure']);
  });

  it('anonymous access on: no credentials, or a user name that names no device (empty, with any password), connects as anonymous; a registered name still needs its password', async () => {
    sec.allowAnonymous = true;
    assert.deepEqual(await sec.authenticate(connect({})), { ok: true });
    for (const [username, password] of [['ghost', pw('x')], ['', undefined], ['p', Buffer.from('top\u0000\u0000')], ['ghost', undefined]] as const) {
      assert.deepEqual(await sec.authenticate(connect({ username, ...(password ? { password } : {}) })), { ok: true }, `user name ${JSON.stringify(username)}`);
    }
    const wrong = await sec.authenticate(connect({ username: 'u1', password: pw('nope') }));
    assert.deepEqual([wrong.ok, (wrong as any).returnCode, (wrong as any).deviceId], [false, 4, 'd1'], 'anonymous access does not excuse a wrong password');
    const missing = await sec.authenticate(connect({ username: 'u1' }));
    assert.equal((missing as any).returnCode, 4, 'nor a missing one');
    assert.deepEqual(await sec.authenticate(connect({ username: 'u1', password: pw('p1') })), { ok: true, deviceId: 'd1' });
    const owned = await sec.authenticate(connect({ clientId: 'd1', username: 'ghost', password: pw('x') }));
    assert.equal((owned as any).returnCode, 5, 'an anonymous client still cannot take a device\'s client id');
  });

  it('refuses a disabled device with device_disabled', async () => {
    reg.setEnabled('d1', false);
    const r = await sec.authenticate(connect({ username: 'u1', password: pw('p1') }));
    assert.deepEqual([(r as any).returnCode, (r as any).event], [5, 'device_disabled']);
  });

  it('tls_required for an allowInsecure:false device without its certificate, even with the right password', async () => {
    const r = await sec.authenticate(connect({ username: 'us', password: pw('ps') }));
    assert.deepEqual([(r as any).returnCode, (r as any).event], [5, 'tls_required']);
    const r2 = await sec.authenticate(connect({ client: client({ listener: 'tls' }), username: 'us', password: pw('ps') }));
    assert.equal((r2 as any).event, 'tls_required', 'TLS without a client certificate is not enough');
  });

  it('accepts a hub-CA-verified certificate by CN; refuses an unverified one', async () => {
    const ok = await sec.authenticate(connect({ client: client({ listener: 'tls', clientId: 'certonly', tls: { authorized: true, subjectCN: 'certonly' } }) }));
    assert.deepEqual(ok, { ok: true, deviceId: 'certonly' });
    const bad = await sec.authenticate(connect({ client: client({ listener: 'tls', tls: { authorized: false, subjectCN: 'certonly' } }) }));
    assert.deepEqual([(bad as any).returnCode, (bad as any).event], [5, 'authentication_failure']);
    assert.match((bad as any).reason, /not issued by the hub CA/);
  });

  it('a client id that names another registered device is refused (no session takeover)', async () => {
    const r = await sec.authenticate(connect({ clientId: 'strict', username: 'u1', password: pw('p1') }));
    assert.deepEqual([(r as any).returnCode, (r as any).event], [5, 'authentication_failure']);
    assert.match((r as any).reason, /belongs to device strict/);
  });

  it('publish: device policy, and no client may publish to $ topics; the Will is judged the same', () => {
    const c = client({ deviceId: 'd1' });
    assert.equal(sec.authorizePublish(c, 'd1/temp', false), true);
    assert.equal(sec.authorizePublish(c, 'd2/temp', false), false);
    assert.equal(sec.authorizePublish(c, 'd2/status', true), false);
    assert.equal(sec.authorizePublish(client(), '$hub/events/error/device/x', false), false);
    assert.equal(sec.authorizePublish(client(), 'any/topic', false), true, 'no policy: anything but $');
  });

  it('subscribe: device policy; a disabled or removed device may do nothing', () => {
    const c = client({ deviceId: 'd1' });
    assert.equal(sec.authorizeSubscribe(c, 'public/#'), true);
    assert.equal(sec.authorizeSubscribe(c, 'secret/x'), false);
    assert.equal(sec.authorizeSubscribe(c, '#'), true, 'overlaps secret/#: granted, and checked per message');
    assert.equal(sec.authorizeDelivery(c, 'public/x'), true);
    assert.equal(sec.authorizeDelivery(c, 'secret/x'), false);
    assert.equal(sec.authorizeSubscribe(c, '$hub/events/#'), false, 'no policy names $hub');
    assert.equal(sec.authorizeDelivery(c, '$hub/events/warning/device/d2'), false);
    reg.setEnabled('d1', false);
    assert.equal(sec.authorizeSubscribe(c, 'public/#'), false, 'the cache notices the change');
    reg.setEnabled('d1', true);
    reg.remove('d1');
    assert.equal(sec.authorizePublish(c, 'd1/x', false), false);
  });

  it('defaults apply to anonymous clients and devices without their own policy', () => {
    const s2 = new DeviceSecurity({ registry: reg, watchIntervalMs: 0, defaults: { subscribe: { accept: ['public/#'] } } });
    assert.equal(s2.authorizeSubscribe(client(), 'public/a'), true);
    assert.equal(s2.authorizeSubscribe(client(), 'private/a'), false);
    assert.equal(s2.authorizeSubscribe(client({ deviceId: 'strict' }), 'private/a'), false);
    assert.equal(s2.authorizeSubscribe(client({ deviceId: 'd1' }), 'private/a'), true, 'd1 has its own subscribe policy');
  });

  it('disable() kicks the connected clients of that device only; kickUnwelcome() catches outside changes', () => {
    sec.clientConnected(client({ clientId: 'a', deviceId: 'd1' }));
    sec.clientConnected(client({ clientId: 'b', deviceId: 'strict' }));
    assert.equal(sec.disable('d1'), 1);
    assert.deepEqual(kicked, ['a']);
    assert.equal(reg.get('d1')!.enabled, false);
    reg.remove('strict');
    assert.equal(sec.kickUnwelcome(), 1);
    assert.deepEqual(kicked, ['a', 'b']);
  });
});
