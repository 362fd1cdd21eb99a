// The HIL scenario list (tools/hil/scenarios.ts) on a simulated ESP32 and ESP8266,
// and in the real Espruino interpreter when ESPRUINO_BIN is set. Each scenario
// is checked through the host broker's control API only.
import { strict as assert } from 'assert';
import { HilResult, runHil, selectScenarios } from '../../tools/hil/run';
import { SCENARIOS } from '../../tools/hil/scenarios';

const modes: { mode: 'sim' | 'espruino'; board?: string }[] = [
  { mode: 'sim', board: 'esp32' },
  { mode: 'sim', board: 'esp8266' },
  { mode: 'espruino' },
];

for (const m of modes) {
  describe(`HIL scenarios, mode ${m.mode}${m.board ? ` (${m.board})` : ''}`, function () {
    this.timeout(300000);
    let results: HilResult[] = [];

    before(async function () {
      results = await runHil({ mode: m.mode, board: m.board });
      const skipped = results.filter((r) => r.status === 'skip');
      if (skipped.length === results.length) {
        console.log(`      skipped: ${skipped[0].detail}`);
        this.skip();
      }
    });

    for (const s of SCENARIOS) {
      it(`${s.name}: ${s.title}`, () => {
        const r = results.find((x) => x.scenario === s.name);
        assert.ok(r, `no result for ${s.name}`);
        assert.equal(r.status, 'pass', r.detail);
      });
    }
  });
}

describe('HIL runner', () => {
  it('refuses an unknown scenario name, listing the known ones', () => {
    assert.throws(() => selectScenarios(['connect', 'nope']), /--only: unknown scenario nope \(expected some of: connect, qos-up/);
    assert.deepEqual(selectScenarios(['will', 'large']).map((s) => s.name), ['will', 'large']);
  });

  it('serial mode without a port skips every scenario, saying what is needed', async () => {
    const r = await runHil({ mode: 'serial', board: 'esp32' });
    assert.equal(r.length, SCENARIOS.length);
    assert.ok(r.every((x) => x.status === 'skip' && /needs --port/.test(x.detail)));
    const r2 = await runHil({ mode: 'serial', board: 'esp32', port: '/dev/does-not-exist' });
    assert.ok(r2.every((x) => x.status === 'skip' && /serial port \/dev\/does-not-exist does not exist/.test(x.detail)));
  });
});
