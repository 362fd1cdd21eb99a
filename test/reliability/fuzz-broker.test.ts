// The broker's connection handling under fuzz, over real sockets: a fixed-seed
// sample of mutated packets (truncated, cut short, oversized, bit-flipped, wrong
// flags, invalid UTF-8, U+0000, huge or 5-byte remaining length, reserved types,
// junk), each after a valid CONNECT. `npm run soak` runs the long version.
import { strict as assert } from 'assert';
import mqtt from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { RawClient } from '../broker/support';
import { fuzzBroker, runBrokerFuzz, type FuzzBroker } from './support/broker-fuzz';

const SEED = 0x6f00d;
const CASES = 1500;

describe('reliability: broker connection handling under fuzz (fixed seed, real sockets)', function () {
  this.timeout(60000);
  let fb: FuzzBroker;
  before(async () => { fb = await fuzzBroker(); });
  after(async () => { await fb.close(); });

  it(`${CASES} mutated packets: every connection closed, every refusal with a hub event (published over MQTT), no handler failure; others served`, async () => {
    const monitor = await mqtt.connectAsync(`mqtt://127.0.0.1:${fb.port}`, { clientId: 'monitor', reconnectPeriod: 0 });
    const published = new Set<string>();
    monitor.on('message', (_t, payload) => published.add(JSON.parse(payload.toString()).objectId));
    await monitor.subscribeAsync('$hub/events/#');
    const bystander = await RawClient.connect(fb.port, { clientId: 'bystander' });

    const run = await runBrokerFuzz(fb, SEED, 0, CASES, 'tcp', 8);
    assert.deepEqual(run.failures.map((f) => `seed ${f.seed} case ${f.index} (${f.mutation}, ${f.hex}): ${f.problem}`), []);
    assert.equal(run.cases, CASES);
    assert.ok(run.refused > CASES / 2, `most mutants are refused (${run.refused} of ${CASES})`);

    bystander.send({ cmd: 'pingreq' } as Packet);
    await bystander.next('pingresp');
    assert.equal(bystander.closed, false, 'a well-behaved client stays connected through the fuzzing');
    // Hub events reach MQTT subscribers too (QoS 0, so wait for the stream to settle).
    const deadline = Date.now() + 5000;
    while (published.size < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok([...published].filter((id) => id.startsWith('fz-')).length >= 50, `hub events on $hub/events/# (got ${published.size})`);
    assert.deepEqual(fb.broker.clients().map((c) => c.clientId).sort(), ['bystander', 'monitor'], 'no fuzz connection left open');
    assert.deepEqual(fb.broker.sessions().map((s) => s.clientId).sort(), ['bystander', 'monitor'], 'no session left behind');
    await monitor.endAsync();
    bystander.destroy();
  });
});
