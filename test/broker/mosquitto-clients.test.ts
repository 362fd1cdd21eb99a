// Interoperability with the Debian mosquitto-clients (mosquitto_pub / mosquitto_sub).
import { strict as assert } from 'assert';
import { execFile, spawn } from 'child_process';
import * as fs from 'fs';
import { startBroker, mqttClient, type Running } from './support';

const PUB = '/usr/bin/mosquitto_pub';
const SUB = '/usr/bin/mosquitto_sub';

function run(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 10000 }, (err, stdout, stderr) => (err ? reject(new Error(`${bin} ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

describe('broker with mosquitto_pub / mosquitto_sub', function () {
  let r: Running;
  before(function () {
    if (!fs.existsSync(PUB) || !fs.existsSync(SUB)) {
      console.log('    mosquitto-clients is not installed: skipping (apt-get install mosquitto-clients; .ci/run does this)');
      this.skip();
    }
  });
  beforeEach(async () => { r = await startBroker(); });
  afterEach(async () => { await r.broker.close(); });

  for (const qos of ['0', '1', '2']) {
    it(`mosquitto_pub -q ${qos} reaches mosquitto_sub -q ${qos}`, async () => {
      const sub = spawn(SUB, ['-h', '127.0.0.1', '-p', String(r.port), '-t', 'mq/#', '-q', qos, '-C', '1', '-v', '-i', `msub${qos}`]);
      let out = '';
      sub.stdout.on('data', (d) => { out += d; });
      const done = new Promise<number>((res) => sub.on('close', (code) => res(code ?? -1)));
      while (!r.broker.clients().some((c) => c.clientId === `msub${qos}`) || r.broker.sessions().find((s) => s.clientId === `msub${qos}`)?.subscriptions.length !== 1) {
        await new Promise((res) => setTimeout(res, 20));
      }
      await run(PUB, ['-h', '127.0.0.1', '-p', String(r.port), '-t', 'mq/x', '-q', qos, '-m', `hello ${qos}`]);
      assert.equal(await done, 0);
      assert.equal(out.trim(), `mq/x hello ${qos}`);
    });
  }

  it('mosquitto_sub gets a retained message published by MQTT.js; mosquitto_pub -r -n clears it', async () => {
    const js = await mqttClient(r.url, { clientId: 'js' });
    await js.publishAsync('mq/ret', 'kept', { qos: 1, retain: true });
    const out = await run(SUB, ['-h', '127.0.0.1', '-p', String(r.port), '-t', 'mq/ret', '-C', '1', '-W', '5']);
    assert.equal(out.trim(), 'kept');
    await run(PUB, ['-h', '127.0.0.1', '-p', String(r.port), '-t', 'mq/ret', '-r', '-n']);
    // --retained-only with a short timeout: nothing retained is left, so it exits on the timeout with no output.
    const none = await run(SUB, ['-h', '127.0.0.1', '-p', String(r.port), '-t', 'mq/ret', '--retained-only', '-W', '1']).catch((e) => String(e.message));
    assert.doesNotMatch(none, /kept/);
    await js.endAsync();
  });

  it('mosquitto_sub -c (persistent session) gets the QoS 1 messages sent while it was away', async () => {
    const common = ['-h', '127.0.0.1', '-p', String(r.port), '-t', 'mq/s', '-q', '1', '-c', '-i', 'msess'];
    // First run: creates the session and subscription, then leaves after 1 s without messages.
    await run(SUB, [...common, '-W', '1']).catch(() => undefined);
    assert.equal(r.broker.sessions().find((s) => s.clientId === 'msess')?.subscriptions.length, 1);
    for (const m of ['a', 'b', 'c']) await run(PUB, ['-h', '127.0.0.1', '-p', String(r.port), '-t', 'mq/s', '-q', '1', '-m', m]);
    const out = await run(SUB, [...common, '-C', '3', '-W', '5']);
    assert.deepEqual(out.trim().split('\n'), ['a', 'b', 'c']);
  });
});
