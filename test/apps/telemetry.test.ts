// The telemetry app (dist/<board>/telemetry.js, minified, unmodified) on simulated
// boards against the real host broker over 127.0.0.1, checked through the
// broker's control API and an MQTT.js subscriber.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import mqtt from 'mqtt';
import type { Board } from '../../boards/sim';
import type { MessageJson } from '../../host-broker/control/http-client';
import { ensureBuilt } from '../../tools/hil/build';
import { LocalHub, startLocalHub } from '../../tools/hil/hub';
import { startTelemetryBoard, TelemetryConfig } from '../../tools/hil/sim-app';

const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 15000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

for (const boardName of ['esp32', 'esp8266']) {
  describe(`telemetry app on a simulated ${boardName}`, function () {
    this.timeout(60000);
    let hub: LocalHub;
    let tmp: string;
    const boards: Board[] = [];
    let n = 0;

    before(async () => {
      ensureBuilt([boardName]);
      hub = await startLocalHub({ persistent: true });
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'telemetry-test-'));
    });
    after(async () => {
      boards.forEach((b) => b.destroy());
      await hub.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    });
    afterEach(async () => {
      for (const b of boards) assert.deepEqual(b.errors, [], `board printed: ${b.errors.join('\n')}`);
      boards.splice(0).forEach((b) => b.destroy());
      await hub.control.clearFaults();
    });

    const start = (config: Partial<TelemetryConfig>, storageDir?: string): { board: Board; id: string } => {
      const id = config.id ?? `${boardName}-t${++n}-${process.pid}`;
      const board = startTelemetryBoard({
        board: boardName, storageDir,
        config: { host: '127.0.0.1', port: hub.port, interval: 200, keepalive: 5, ...config, id },
      });
      boards.push(board);
      return { board, id };
    };
    const messages = async (filter: string, since = 0): Promise<MessageJson[]> =>
      (await hub.control.messages({ filter, since })).messages;
    const telemetry = async (id: string, since = 0) =>
      (await messages(`devices/${id}/telemetry`, since)).map((m) => ({ ...JSON.parse(m.payload), qos: m.qos }));
    const lastSeq = async () => (await hub.control.messages({ filter: 'none/none' })).lastSeq;

    it('publishes JSON telemetry at QoS 1 and a retained "online" on its status topic', async () => {
      const since = await lastSeq();
      const { id } = start({});
      const m = await hub.control.waitForMessage(`devices/${id}/telemetry`, { since, timeoutMs: 10000 });
      assert.equal(m.qos, 1);
      const r = JSON.parse(m.payload);
      assert.equal(r.id, id);
      assert.equal(r.seq, 1);
      assert.equal(typeof r.temp, 'number');
      assert.ok(r.temp > -40 && r.temp < 125, `temp ${r.temp}`);
      assert.equal(typeof r.free, 'number'); // the simulator's estimate of free JsVars
      assert.equal(r.lost, 0);
      // A late subscriber gets the retained status.
      const sub = await mqtt.connectAsync(hub.url, { reconnectPeriod: 0 });
      try {
        const got = new Promise<[string, boolean]>((resolve) => sub.on('message', (_t, p, pk) => resolve([p.toString(), pk.retain])));
        await sub.subscribeAsync(`devices/${id}/status`, { qos: 1 });
        assert.deepEqual(await got, ['online', true]);
      } finally { await sub.endAsync(); }
    });

    it('the broker publishes its retained "offline" Will when the link is lost, and it is back "online" after reconnecting', async () => {
      const { id } = start({});
      const since0 = await lastSeq();
      await hub.control.waitForMessage(`devices/${id}/status`, { since: since0, timeoutMs: 10000 });
      const since = await lastSeq();
      await hub.control.disconnect(id, { abrupt: true });
      const will = await hub.control.waitForMessage(`devices/${id}/status`, { since, timeoutMs: 10000 });
      assert.equal(will.payload, 'offline');
      assert.equal(will.retain, true);
      assert.equal(will.fromClientId, id);
      const back = await hub.control.waitForMessage(`devices/${id}/status`, { since: will.seq, timeoutMs: 20000 });
      assert.equal(back.payload, 'online');
    });

    it('answers ping and changes its interval on command; refuses a bad command with an error reply', async () => {
      const { id } = start({ interval: 60000 });
      const s0 = await lastSeq();
      await hub.control.waitForMessage(`devices/${id}/status`, { since: s0, timeoutMs: 10000 });
      let since = await lastSeq();
      await hub.control.publish({ topic: `devices/${id}/commands`, payload: '{"cmd":"ping","id":42}', qos: 1 });
      const pong = JSON.parse((await hub.control.waitForMessage(`devices/${id}/reply`, { since, timeoutMs: 10000 })).payload);
      assert.equal(pong.re, 'ping');
      assert.equal(pong.pong, 42);
      assert.equal(pong.seq, 0, 'no reading yet at a 60 s interval');

      since = await lastSeq();
      await hub.control.publish({ topic: `devices/${id}/commands`, payload: 'not json', qos: 1 });
      const bad = JSON.parse((await hub.control.waitForMessage(`devices/${id}/reply`, { since, timeoutMs: 10000 })).payload);
      assert.match(bad.error, /JSON object/);

      since = await lastSeq();
      await hub.control.publish({ topic: `devices/${id}/commands`, payload: '{"cmd":"interval","ms":5}', qos: 1 });
      const refused = JSON.parse((await hub.control.waitForMessage(`devices/${id}/reply`, { since, timeoutMs: 10000 })).payload);
      assert.equal(refused.re, 'interval');
      assert.match(refused.error, /ms: expected 100\.\.86400000/);

      since = await lastSeq();
      await hub.control.publish({ topic: `devices/${id}/commands`, payload: '{"cmd":"interval","ms":150}', qos: 1 });
      const ok = JSON.parse((await hub.control.waitForMessage(`devices/${id}/reply`, { since, timeoutMs: 10000 })).payload);
      assert.deepEqual(ok, { interval: 150, re: 'interval' });
      await until('5 readings at the new interval', async () => (await telemetry(id, since)).length >= 5);
    });

    it('buffers readings in Storage while the broker is unreachable and flushes them in order after reconnecting', async () => {
      const since = await lastSeq();
      const { board, id } = start({ interval: 100 });
      await hub.control.waitForMessage(`devices/${id}/telemetry`, { since, timeoutMs: 10000 });
      await hub.control.stopListener('tcp');
      try {
        await until('4 readings buffered in flash', () => board.flash!.list().filter((f) => /^tm\d/.test(f)).length >= 4);
      } finally {
        await hub.control.startListener('tcp');
      }
      await until('the flash buffer to be flushed', () => board.flash!.list().filter((f) => /^tm\d/.test(f)).length === 0);
      const before = (await telemetry(id, since)).length;
      await until('more readings after the flush', async () => (await telemetry(id, since)).length > before + 2);
      const got = await telemetry(id, since);
      assert.ok(got.every((r) => r.qos === 1));
      // QoS 1 may repeat one that was in flight when the link went; the first arrivals are 1, 2, 3, ... with no gap.
      const firsts: number[] = [];
      for (const r of got) if (!firsts.includes(r.seq)) firsts.push(r.seq);
      assert.deepEqual(firsts, firsts.map((_, i) => i + 1), `arrival order: ${got.map((r) => r.seq).join(',')}`);
      assert.ok(got.every((r) => r.lost === 0));
    });

    it('keeps buffered readings across a reboot and sends them, oldest first, when it comes back', async () => {
      const dir = path.join(tmp, `reboot-${boardName}`);
      const id = `${boardName}-reboot-${process.pid}`;
      const since = await lastSeq();
      const first = start({ id, interval: 100 }, dir);
      await hub.control.waitForMessage(`devices/${id}/telemetry`, { since, timeoutMs: 10000 });
      await hub.control.stopListener('tcp');
      let buffered: number;
      try {
        await until('3 readings buffered in flash', () => first.board.flash!.list().filter((f) => /^tm\d/.test(f)).length >= 3);
        first.board.destroy(); // power off: RAM is gone, flash stays
        buffered = fs.readdirSync(dir).length - 1; // minus the boot counter
        assert.ok(buffered >= 3, `${buffered} buffered`);
        start({ id, interval: 100 }, dir); // power on
      } finally {
        await hub.control.startListener('tcp');
      }
      await until('readings from the second boot', async () => (await telemetry(id, since)).some((r) => r.boot === 2 && r.seq >= 2));
      const got = await telemetry(id, since);
      const boot1 = got.filter((r) => r.boot === 1).map((r) => r.seq);
      const lastOfBoot1 = got.map((r) => r.boot).lastIndexOf(1);
      const firstOfBoot2 = got.findIndex((r) => r.boot === 2);
      assert.ok(lastOfBoot1 < firstOfBoot2, `boot 1 readings all come before boot 2's: ${got.map((r) => `${r.boot}.${r.seq}`).join(',')}`);
      const uniq = [...new Set(boot1)];
      assert.deepEqual(uniq, uniq.map((_, i) => i + 1), `boot 1 sequence: ${boot1.join(',')}`);
      assert.ok(uniq.length >= buffered!, `all ${buffered!} buffered readings arrived (got ${uniq.length} from boot 1)`);
    });
  });
}
