// The client's RAM in a real Espruino interpreter (ESPRUINO_BIN), against the
// budget Espruino's own MQTT module sets (espruino-facts.md): +777 vars connected on
// an ESP8266-sized build (1600 vars), +718 on an ESP32-sized one. A budget check on
// a deterministic count (process.memory().usage after its GC), not a timing assert.
// Skipped, with how to enable it, when ESPRUINO_BIN is unset.
import { strict as assert } from 'assert';
import { Mosquitto } from '../helpers/mosquitto';
import { espruinoAndMosquitto } from './helpers/espruino-suite';
import { bundleSource } from './helpers/bundles';
import { delta, interpreterTotal, measureMemory, MemoryResult } from './helpers/espruino-memory';

/** Espruino's MQTT module, vars above the empty runtime (espruino-facts.md). */
const BASELINE = { esp8266: { loaded: 602, connected: 777 }, esp32: { loaded: 548, connected: 718 } };

function table(rows: [string, MemoryResult][]): string {
  const phases = ['loaded', 'created', 'connected', 'published10', 'published', 'reconnected2', 'reconnected'];
  return [['run', ...phases].join('\t'), ...rows.map(([name, r]) => [name, ...phases.map((p) => '+' + delta(r, p))].join('\t'))].join('\n');
}

describe('firmware client RAM in a real Espruino interpreter (ESPRUINO_BIN)', function () {
  this.timeout(300000);
  let bin: string;
  let mosq: Mosquitto | null = null;
  let total = 0;
  let sized: 'esp8266' | 'esp32';
  const runs: [string, MemoryResult][] = [];

  before(async function () {
    ({ bin, mosq } = await espruinoAndMosquitto(this));
    total = await interpreterTotal(bin);
    sized = total <= 2000 ? 'esp8266' : 'esp32';
  });
  after(async () => {
    if (runs.length) console.log(`      vars above the empty runtime, ${sized} bundle in ${bin} (${total} vars):\n` + table(runs).replace(/^/gm, '      '));
    if (mosq) await mosq.stop();
  });

  for (const pretokenise of [false, true]) {
    const how = pretokenise ? 'pretokenised' : 'plain';
    it(`${how}: connected below the Espruino MQTT module's budget; 100 QoS 1 publishes and 20 reconnects leave no growth`, async () => {
      const r = await measureMemory({ bin, source: bundleSource(sized), port: mosq!.port, pretokenise, publishes: 100, reconnects: 20 });
      runs.push([how, r]);
      assert.equal(r.error, undefined, r.error);
      const budget = BASELINE[sized].connected;
      assert.ok(delta(r, 'connected') < budget, `connected +${delta(r, 'connected')} vars, budget (Espruino's MQTT module) +${budget}`);
      // Growth, not one-time state: the reading after 10 publishes and after 100 match,
      // as do the readings after 2 reconnects and after 20.
      assert.ok(Math.abs(delta(r, 'published') - delta(r, 'published10')) <= 2, `publishes 10 -> 100: +${delta(r, 'published10')} -> +${delta(r, 'published')}`);
      assert.ok(Math.abs(delta(r, 'reconnected') - delta(r, 'reconnected2')) <= 2, `reconnects 2 -> 20: +${delta(r, 'reconnected2')} -> +${delta(r, 'reconnected')}`);
      assert.ok(delta(r, 'reconnected') - delta(r, 'connected') <= 12, `after it all +${delta(r, 'reconnected')} vs connected +${delta(r, 'connected')}`);
    });
  }
});
