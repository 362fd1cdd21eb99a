// kill -9 of the hub mid-flow: the real `host-broker start` with a bridge to a
// Mosquitto "cloud", a device publishing QoS 1 as fast as it is acknowledged,
// the hub killed at random moments and started again on the same data dir.
// Every message the hub acknowledged to the device reaches the cloud, and the
// first arrivals keep each topic's order.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { startCli, type RunningCli } from '../cli/run-cli';
import { MOSQUITTO_SKIP_MESSAGE, startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { Peer, sleep, tempDir, until } from './fixtures';

const kill9 = (cli: RunningCli) => new Promise<void>((resolve) => {
  if (cli.proc.exitCode !== null || cli.proc.signalCode) return resolve();
  cli.proc.once('exit', () => resolve());
  cli.proc.kill('SIGKILL');
});

describe('bridges: kill -9 of the hub mid-flow', function () {
  this.timeout(120_000);
  let cloud: Mosquitto;
  let dir: string;
  let hub: RunningCli | undefined;

  before(async function () {
    const m = await startMosquitto('max_queued_messages 1000000');
    if (!m) { console.log(`      ${MOSQUITTO_SKIP_MESSAGE}`); return this.skip(); }
    cloud = m;
    dir = tempDir('bridge-kill9-');
  });
  after(async () => {
    if (hub) await kill9(hub);
    await cloud?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing it acknowledged to a device, over 3 kills', async () => {
    const config = path.join(dir, 'hub.json');
    fs.writeFileSync(config, JSON.stringify({
      listeners: { tcp: { port: 0 } }, allowAnonymous: true,
      bridges: [{ name: 'cloud', url: `mqtt://127.0.0.1:${cloud.port}`, clientId: 'k9-hub', reconnect: { initialMs: 50, maxMs: 500 },
        mappings: [{ direction: 'out', filter: 'load/#', remotePrefix: 'k9/' }] }],
    }));
    const cloudSub = await Peer.connect(`mqtt://127.0.0.1:${cloud.port}`, { clientId: 'k9-cloud', clean: false });
    await cloudSub.subscribe('k9/#', 1);
    const start = (port?: number) => startCli(['start', '--config', config, '--data-dir', path.join(dir, 'data'), ...(port ? ['--port', String(port)] : [])]);
    hub = await start();
    const port = hub.ports.tcp;

    // The device: resends what was not acknowledged after each reconnect (MQTT.js keeps its in-flight messages).
    const dev = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'k9-dev', clean: false, reconnectPeriod: 100, connectTimeout: 5000 });
    dev.on('error', () => undefined);
    const acknowledged = new Map<string, number[]>();
    let n = 0;
    let running = true;
    const publishing = (async () => {
      while (running) {
        if (!dev.connected) { await sleep(20); continue; }
        // A window of 20 in flight, as a device would.
        const batch: Promise<void>[] = [];
        for (let k = 0; k < 20; k++) {
          const i = n++;
          const topic = `load/${i % 3}`;
          batch.push(new Promise((resolve) => dev.publish(topic, String(i), { qos: 1 }, (err) => {
            if (!err) (acknowledged.get(topic) ?? acknowledged.set(topic, []).get(topic)!).push(i);
            resolve();
          })));
        }
        await Promise.race([Promise.all(batch), sleep(2000)]);
      }
    })();

    // Rows the dead hub left in its bridge queue (not yet acknowledged upstream), at each kill.
    const leftAtKill: number[] = [];
    for (let k = 0; k < 3; k++) {
      await until(() => [...acknowledged.values()].reduce((a, s) => a + s.length, 0) >= (k + 1) * 300, `load before kill ${k + 1}`, 30_000);
      await sleep(Math.floor(Math.random() * 200));
      await kill9(hub);
      const db = new Database(path.join(dir, 'data', 'hub.db'));
      leftAtKill.push((db.prepare('SELECT COUNT(*) AS n FROM bridge_out').get() as { n: number }).n);
      db.close();
      hub = await start(port);
    }
    await until(() => [...acknowledged.values()].reduce((a, s) => a + s.length, 0) >= 1200, 'load after the last restart', 30_000);
    running = false;
    await publishing;
    await dev.endAsync();

    const total = [...acknowledged.values()].reduce((a, s) => a + s.length, 0);
    const upstream = (topic: string) => cloudSub.on(`k9/${topic}`).map(Number);
    await until(() => [...acknowledged].every(([t, ids]) => new Set(upstream(t)).size >= new Set(ids).size), `all ${total} acknowledged in the cloud`, 60_000,
      () => [...acknowledged].map(([t, ids]) => `${t}: ${new Set(upstream(t)).size}/${new Set(ids).size}`).join(', '));
    for (const [topic, ids] of acknowledged) {
      const got = new Set(upstream(topic));
      const missing = ids.filter((i) => !got.has(i));
      assert.deepEqual(missing, [], `${topic}: acknowledged to the device, missing in the cloud`);
      const firsts = upstream(topic).filter((v, i, a) => a.indexOf(v) === i);
      assert.deepEqual(firsts, [...firsts].sort((a, b) => a - b), `${topic}: first arrivals in order`);
    }
    assert.ok(leftAtKill.some((x) => x > 0), `a kill left messages in the bridge queue (rows at each kill: ${leftAtKill.join(', ')})`);
    await cloudSub.end();
  });
});
