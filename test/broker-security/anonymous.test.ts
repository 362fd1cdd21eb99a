// Anonymous access with a user name, over real sockets: when anonymous access is
// on, a client whose user name belongs to no registered device connects as
// anonymous (as Mosquitto does: many clients always send one); a registered
// user name with a wrong password is still refused.
import { strict as assert } from 'assert';
import type { Packet } from 'mqtt-packet';
import { RawClient, until } from '../broker/support';
import { connect, endAll, Hub, refusedWith, startHub } from './hub-fixture';

describe('device security: anonymous access with a user name', function () {
  this.timeout(20000);
  let hub: Hub;
  let url: string;
  before(async () => {
    hub = await startHub({ allowAnonymous: true });
    url = `mqtt://127.0.0.1:${hub.ports.tcp}`;
    hub.registry.add({ id: 'd1', username: 'u1', password: 'p1' });
  });
  after(async () => { await endAll(); await hub.close(); });

  it('an unknown user name (with any password) connects as anonymous and is served', async () => {
    const c = await connect(url, { clientId: 'stranger', username: 'someone', password: 'whatever' });
    const got: string[] = [];
    c.on('message', (t) => got.push(t));
    await c.subscribeAsync('open/#', { qos: 1 });
    await c.publishAsync('open/x', 'hi', { qos: 1 });
    await until(() => got.length === 1, 'the echo');
    assert.equal(hub.broker.clients().find((x) => x.clientId === 'stranger')?.deviceId, undefined, 'connected as no device');
  });

  it('an empty user name, and a password holding U+0000, connect as anonymous (CONNACK 0)', async () => {
    for (const [username, password] of [['', undefined], ['p', Buffer.from('top\u0000\u0000')]] as const) {
      const c = await RawClient.connect(hub.ports.tcp, { clientId: `raw-${username || 'empty'}`, username, ...(password ? { password } : {}) } as any);
      c.send({ cmd: 'pingreq' } as Packet);
      await c.next('pingresp');
      c.destroy();
    }
  });

  it('a registered user name with a wrong password is still refused: CONNACK 4', async () => {
    const n = hub.events.length;
    assert.equal(await refusedWith(url, { clientId: 'guess', username: 'u1', password: 'nope' }), 4);
    assert.ok(hub.events.slice(n).some((e) => e.kind === 'authentication_failure' && /wrong password for device d1/.test(e.message)));
  });
});
