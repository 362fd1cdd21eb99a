// A refused CONNECT that is about a known device (disabled, TLS required, wrong
// password) files its hub event under that device, on
// $hub/events/<severity>/device/<id>; one about no device stays under the client.
import { strict as assert } from 'assert';
import { MqttClient } from 'mqtt';
import { connect, endAll, Hub, nextMessage, refusedWith, startHub } from './hub-fixture';

describe('refused CONNECT: hub events filed under the device', function () {
  this.timeout(20000);
  let hub: Hub;
  let tcp: string;
  let watcher: MqttClient;

  const eventOf = (kind: string) => nextMessage(watcher, (topic, body) => topic.startsWith('$hub/events/') && JSON.parse(body).kind === kind);

  before(async () => {
    hub = await startHub();
    tcp = `mqtt://127.0.0.1:${hub.ports.tcp}`;
    hub.registry.add({ id: 'ops', username: 'ops', password: 'ops-pw', subscribe: { accept: ['$hub/events/#'] } }); // the monitor recipe: $hub/... only when granted
    hub.registry.add({ id: 'off-dev', username: 'uoff', password: 'poff', enabled: false });
    hub.registry.add({ id: 'tls-dev', username: 'utls', password: 'ptls', allowInsecure: false });
    hub.registry.add({ id: 'pw-dev', username: 'upw', password: 'right' });
    watcher = await connect(tcp, { clientId: 'ops', username: 'ops', password: 'ops-pw' });
    await watcher.subscribeAsync('$hub/events/#', { qos: 0 });
  });
  after(async () => { await endAll(); await hub.close(); });

  const cases: [string, string, { username: string; password: string }, number][] = [
    ['device_disabled', 'off-dev', { username: 'uoff', password: 'poff' }, 5],
    ['tls_required', 'tls-dev', { username: 'utls', password: 'ptls' }, 5],
    ['authentication_failure', 'pw-dev', { username: 'upw', password: 'wrong' }, 4],
  ];
  for (const [kind, id, creds, code] of cases) {
    it(`${kind}: on $hub/events/warning/device/${id}, not under the client id`, async () => {
      const ev = eventOf(kind);
      assert.equal(await refusedWith(tcp, { clientId: `board-of-${id}`, ...creds }), code);
      const { topic, body } = await ev;
      assert.equal(topic, `$hub/events/warning/device/${id}`);
      const e = JSON.parse(body);
      assert.deepEqual([e.objectType, e.objectId, e.packet.cmd], ['device', id, 'connect']);
    });
  }

  it('a refusal about no device (unknown username) stays under the client id', async () => {
    const ev = eventOf('authentication_failure');
    assert.equal(await refusedWith(tcp, { clientId: 'stranger', username: 'ghost', password: 'x' }), 4);
    const { topic, body } = await ev;
    assert.equal(topic, '$hub/events/warning/client/stranger');
    assert.equal(JSON.parse(body).objectType, 'client');
  });
});
