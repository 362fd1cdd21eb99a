// The client's RAM in a real Espruino interpreter (ESPRUINO_BIN), on both paths a
// board gets code by: from flash (the module a Storage file, require()d: what a
// flashed board runs) and from RAM (the module typed at the console: pasting into
// the IDE). The budget is Espruino's own MQTT module, measured the same way in the
// same run when ESPRUINO_MQTT_MODULE points at it, else its recorded figures.
// A budget check on deterministic counts (process.memory().usage after its GC),
// not a timing assert. Skipped, with how to enable it, when ESPRUINO_BIN is unset.
import { strict as assert } from 'assert';
import { interpreterInfo } from '../../boards/espruino-bin';
import { Mosquitto } from '../helpers/mosquitto';
import { espruinoAndMosquitto } from './helpers/espruino-suite';
import { bundleSource } from './helpers/bundles';
import { delta, measureMemory, MemoryResult } from './helpers/espruino-memory';
import { ESPRUINO_MQTT_MODULE_SKIP_MESSAGE, espruinoMqttModule, RECORDED_BASELINE } from './helpers/espruino-module';

type Path = 'flash' | 'console';
const PATHS: Path[] = ['flash', 'console'];

function table(rows: [string, MemoryResult][]): string {
  const phases = ['loaded', 'created', 'connected', 'published10', 'published', 'reconnected2', 'reconnected'];
  return [['run', ...phases].join('\t'), ...rows.map(([name, r]) => [name, ...phases.map((p) => '+' + delta(r, p))].join('\t'))].join('\n');
}

describe('firmware client RAM in a real Espruino interpreter (ESPRUINO_BIN), against Espruino\'s MQTT module', function () {
  this.timeout(300000);
  let bin: string;
  let mosq: Mosquitto | null = null;
  let board: string;
  let total = 0;
  const baseline: Record<Path, { loaded: number; connected: number; how: string }> = {} as any;
  const runs: [string, MemoryResult][] = [];

  before(async function () {
    ({ bin, mosq } = await espruinoAndMosquitto(this));
    const info = await interpreterInfo(bin);
    total = info.total;
    // The bundle sized like the interpreter (a unicode build still measures an ESP bundle).
    board = total <= 2000 ? 'esp8266' : 'esp32';
    const mod = await espruinoMqttModule();
    if (!mod) console.log(`      ${ESPRUINO_MQTT_MODULE_SKIP_MESSAGE}; using its recorded figures`);
    for (const path of PATHS) {
      if (mod) {
        const r = await measureMemory({ bin, source: mod.source, port: mosq!.port, upload: path, api: 'espruino' });
        assert.equal(r.error, undefined, `Espruino's module, ${path}: ${r.error}`);
        runs.push([`Espruino MQTT module, ${path}`, r]);
        baseline[path] = { loaded: delta(r, 'loaded'), connected: delta(r, 'connected'), how: 'measured in this run' };
      } else {
        const rec = RECORDED_BASELINE[total <= 2000 ? 'esp8266' : 'esp32'][path];
        baseline[path] = { ...rec, how: `recorded (${RECORDED_BASELINE.provenance})` };
      }
    }
  });
  after(async () => {
    if (runs.length) console.log(`      vars above the empty runtime, ${board} bundle in ${bin} (${total} vars):\n` + table(runs).replace(/^/gm, '      '));
    if (mosq) await mosq.stop();
  });

  for (const path of PATHS) {
    const how = path === 'flash' ? 'from flash (Storage, require())' : 'from RAM (typed at the console)';
    it(`${how}: connected (and on an ESP8266-sized interpreter, loaded) below Espruino's MQTT module; 100 QoS 1 publishes and 20 reconnects leave no growth`, async () => {
      const r = await measureMemory({ bin, source: bundleSource(board), port: mosq!.port, upload: path, publishes: 100, reconnects: 20 });
      runs.push([`ours, ${path}`, r]);
      assert.equal(r.error, undefined, r.error);
      const b = baseline[path];
      // The targets are the ESP8266's (issue 10); elsewhere loading is reported, not asserted.
      if (board === 'esp8266') assert.ok(delta(r, 'loaded') < b.loaded, `loaded +${delta(r, 'loaded')} vars, Espruino's module +${b.loaded} (${b.how})`);
      assert.ok(delta(r, 'connected') < b.connected, `connected +${delta(r, 'connected')} vars, Espruino's module +${b.connected} (${b.how})`);
      // Growth, not one-time state: the reading after 10 publishes and after 100 match,
      // as do the readings after 2 reconnects and after 20.
      assert.ok(Math.abs(delta(r, 'published') - delta(r, 'published10')) <= 2, `publishes 10 -> 100: +${delta(r, 'published10')} -> +${delta(r, 'published')}`);
      assert.ok(Math.abs(delta(r, 'reconnected') - delta(r, 'reconnected2')) <= 2, `reconnects 2 -> 20: +${delta(r, 'reconnected2')} -> +${delta(r, 'reconnected')}`);
      assert.ok(delta(r, 'reconnected') - delta(r, 'connected') <= 12, `after it all +${delta(r, 'reconnected')} vs connected +${delta(r, 'connected')}`);
    });
  }
});
