// Simulated boards read their own temperatures: seeded per board, plausible,
// repeatable; and the telemetry app on two boards publishes different ones.
import { strict as assert } from 'assert';
import { createBoard } from '../../boards/sim';
import { seededTemperature, temperatureModel } from '../../boards/sim/sensors';
import { ensureBuilt } from '../../tools/hil/build';
import { startLocalHub } from '../../tools/hil/hub';
import { startTelemetryBoard } from '../../tools/hil/sim-app';

/** Readings every `stepMs` on a fake clock. */
function readings(seed: string, n: number, stepMs = 1000): number[] {
  let t = 1_700_000_000_000;
  const read = seededTemperature(seed, { now: () => t });
  return Array.from({ length: n }, () => { t += stepMs; return read(); });
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('sim: seeded sensor readings', () => {
  it('the same seed and clock give the same readings; another seed other ones', () => {
    assert.deepEqual(readings('esp32-a', 50), readings('esp32-a', 50));
    assert.notDeepEqual(readings('esp32-a', 50), readings('esp32-b', 50));
  });

  it('are plausible room temperatures: in 10..35 °C, no jumps over 1.5 °C between readings a second apart, never constant', () => {
    for (const seed of ['a', 'b', 'c', 'esp8266-x-1', 'garage']) {
      const xs = readings(seed, 600);
      assert.ok(xs.every((x) => x > 10 && x < 35), `${seed}: ${Math.min(...xs)}..${Math.max(...xs)}`);
      for (let i = 1; i < xs.length; i++) assert.ok(Math.abs(xs[i] - xs[i - 1]) < 1.5, `${seed}: ${xs[i - 1]} -> ${xs[i]}`);
      assert.ok(new Set(xs).size > 100, `${seed}: only ${new Set(xs).size} distinct readings`);
    }
  });

  it('a fleet differs: ten boards have ten different levels, spread over more than 3 °C', () => {
    const means = Array.from({ length: 10 }, (_, i) => mean(readings(`esp32-fleet-${i + 1}`, 300)));
    assert.equal(new Set(means.map((m) => m.toFixed(2))).size, 10);
    assert.ok(Math.max(...means) - Math.min(...means) > 3, means.join(', '));
    const bases = Array.from({ length: 10 }, (_, i) => temperatureModel(`esp32-fleet-${i + 1}`).base);
    assert.ok(bases.every((b) => b >= 18 && b < 27));
  });

  it('boards made without a seed still differ from each other', () => {
    const a = createBoard({ board: 'esp32' });
    const b = createBoard({ board: 'esp32' });
    try {
      const ra = Array.from({ length: 5 }, () => a.eval('E.getTemperature()') as number);
      const rb = Array.from({ length: 5 }, () => b.eval('E.getTemperature()') as number);
      assert.notDeepEqual(ra, rb);
    } finally { a.destroy(); b.destroy(); }
  });

  it('the telemetry app on two simulated boards publishes each board\'s own temperatures', async function () {
    this.timeout(30000);
    ensureBuilt(['esp32']);
    const hub = await startLocalHub({});
    const ids = [`esp32-seed-a-${process.pid}`, `esp32-seed-b-${process.pid}`];
    const boards = ids.map((id) => startTelemetryBoard({ board: 'esp32', config: { id, host: '127.0.0.1', port: hub.port, interval: 100 } }));
    try {
      const temps = async (id: string) => (await hub.control.messages({ filter: `devices/${id}/telemetry` })).messages.map((m) => JSON.parse(m.payload).temp as number);
      const end = Date.now() + 20000;
      while ((await temps(ids[0])).length < 8 || (await temps(ids[1])).length < 8) {
        if (Date.now() > end) throw new Error('no telemetry from both boards');
        await new Promise((r) => setTimeout(r, 100));
      }
      const [a, b] = [await temps(ids[0]), await temps(ids[1])];
      assert.notDeepEqual(a.slice(0, 8), b.slice(0, 8));
      const base = (id: string) => temperatureModel(id).base;
      // Each board's readings sit near its own seeded level (within swing + drift + noise).
      for (const [id, xs] of [[ids[0], a], [ids[1], b]] as const) assert.ok(Math.abs(mean(xs) - base(id)) < 6, `${id}: mean ${mean(xs)}, base ${base(id)}`);
      for (const bd of boards) assert.deepEqual(bd.errors, []);
    } finally {
      boards.forEach((bd) => bd.destroy());
      await hub.close();
    }
  });
});
