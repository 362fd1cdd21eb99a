// Benchmark 2: firmware memory on the real interpreter (ESPRUINO_BIN, an Espruino
// build for Linux); skipped with how to enable it otherwise. Measured exactly as the
// firmware memory test does (test/firmware/espruino.memory.test.ts), with its helper,
// on both paths a board gets code by: from flash (the module a Storage file,
// require()d) and from RAM (typed at the console in acknowledged pieces). The client
// runs against mosquitto on 127.0.0.1 through a relay that cuts the link for the
// reconnect phase; process.memory().usage (after its GC) above the empty runtime.
// Espruino's own MQTT module is measured the same way in the same run when
// ESPRUINO_MQTT_MODULE points at it (EspruinoDocs modules/MQTT.js), else its
// recorded figures are shown, marked as such.
import { espruinoBin, ESPRUINO_BIN_SKIP_MESSAGE, interpreterInfo } from '../boards/espruino-bin';
import { startMosquitto, MOSQUITTO_SKIP_MESSAGE } from '../test/helpers/mosquitto';
import { bundleSource } from '../test/firmware/helpers/bundles';
import { delta, measureMemory, type MemoryResult } from '../test/firmware/helpers/espruino-memory';
import { ESPRUINO_MQTT_MODULE_SKIP_MESSAGE, espruinoMqttModule, RECORDED_BASELINE } from '../test/firmware/helpers/espruino-module';
import { ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { Cell } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';

export interface MemoryConfig {
  /** Bundle to load; default: the one sized like the interpreter (esp8266 for ~1600 vars, else esp32), as the test does. */
  bundle?: string;
  publishes: number;
  reconnects: number;
  timeoutMs: number;
}

export function memoryConfig(quick: boolean): MemoryConfig {
  return { publishes: 100, reconnects: quick ? 20 : 50, timeoutMs: 300000 };
}

type Path = 'flash' | 'console';
const PATHS: [Path, string][] = [['flash', 'from flash'], ['console', 'from RAM']];

export interface MemoryRun { path: Path; who: 'ours' | 'espruino'; bundle: string; result: MemoryResult }

/** The table's rows: phase name in the helper, and how the table says it. */
const PHASES: [string, (c: MemoryConfig) => string, boolean][] = [
  ['loaded', () => 'module loaded', true],
  ['created', () => 'client created', true],
  ['connected', () => 'connected', true],
  ['published', (c) => `after ${c.publishes} QoS 1 publishes`, false],
  ['reconnected', (c) => `after ${c.reconnects} reconnects`, false],
];

export async function runMemoryBench(opts: BenchOptions, cfg = memoryConfig(opts.quick)): Promise<BenchResult> {
  const bin = espruinoBin();
  if (!bin) return { name: 'memory', skipped: ESPRUINO_BIN_SKIP_MESSAGE, tables: [], data: {} };
  const mosq = await startMosquitto();
  if (!mosq) return { name: 'memory', skipped: MOSQUITTO_SKIP_MESSAGE, tables: [], data: {} };
  const info = await interpreterInfo(bin);
  const sized = info.total <= 2000 ? 'esp8266' : 'esp32';
  const bundle = cfg.bundle ?? sized;
  const source = bundleSource(bundle);
  const theirs = await espruinoMqttModule();
  const runs: MemoryRun[] = [];
  try {
    for (const [path] of PATHS) {
      // Alternating who goes first is not needed: the counts are deterministic.
      opts.log(`memory: ${bundle} bundle ${path}, in ${bin} (${info.total} vars)`);
      runs.push({ path, who: 'ours', bundle, result: await measureMemory({ bin, source, port: mosq.port, upload: path, publishes: cfg.publishes, reconnects: cfg.reconnects, timeoutMs: cfg.timeoutMs }) });
      if (theirs) {
        opts.log(`memory: Espruino's MQTT module ${path}`);
        runs.push({ path, who: 'espruino', bundle: 'MQTT.js', result: await measureMemory({ bin, source: theirs.source, port: mosq.port, upload: path, api: 'espruino', timeoutMs: cfg.timeoutMs }) });
      }
    }
  } finally {
    await mosq.stop();
  }
  const fmt = (x: number) => (Number.isFinite(x) ? `+${x}` : '-');
  const run = (path: Path, who: MemoryRun['who']) => runs.find((r) => r.path === path && r.who === who);
  const base = (path: Path, phase: string) => {
    const r = run(path, 'espruino');
    if (r) return delta(r.result, phase);
    const rec = RECORDED_BASELINE[sized][path] as Record<string, number>;
    return rec[phase] ?? NaN;
  };
  const rows: Cell[][] = [];
  for (const [path, label] of PATHS) {
    for (const [phase, name, compared] of PHASES) {
      const ours = delta(run(path, 'ours')!.result, phase);
      const b = compared ? base(path, phase) : NaN;
      rows.push([`${label}: ${name(cfg)}`, fmt(ours), compared ? fmt(b) : '', fmtRatio(ratio(ours, b))]);
    }
  }
  for (const r of runs) if (r.result.error) rows.push([`ERROR (${r.who}, ${r.path})`, '', '', r.result.error.slice(0, 160)]);
  const ours = runs.filter((r) => r.who === 'ours');
  const growth = ours.map((r) => `${r.path}: +${delta(r.result, 'published10')} after 10 publishes -> +${delta(r.result, 'published')} after ${cfg.publishes}; `
    + `+${delta(r.result, 'reconnected2')} after 2 reconnects -> +${delta(r.result, 'reconnected')} after ${cfg.reconnects}`);
  return {
    name: 'memory',
    tables: [{
      title: `firmware memory: dist/${bundle}/mqtt-client.js in ${bin} (${info.total} vars: ${sized === 'esp8266' ? 'ESP8266' : 'ESP32'}-sized), vars above the empty runtime`,
      header: ['path: phase', 'ours', "Espruino's MQTT module", 'ours/module'],
      rows,
      notes: [
        theirs ? `Espruino's MQTT module: ${theirs.file}, terser -c -m --toplevel (${theirs.bytes} B), measured in this run the same way`
          : `Espruino's MQTT module: recorded figures (${RECORDED_BASELINE.provenance}); ${ESPRUINO_MQTT_MODULE_SKIP_MESSAGE}`,
        'from flash: the module written to Storage in a first run, require()d in a second in the same folder (the fake flash ./espruino.flash); its functions keep their code in flash, as on a flashed board',
        'from RAM: the module typed at the console as Modules.addCached in acknowledged 200-byte pieces (pasting into the IDE); its functions\' code is in RAM',
        'method and code: test/firmware/helpers/espruino-memory.ts (the firmware memory test\'s): every harness function created before the "empty" reading, process.memory().usage (GC first) minus the empty reading; the same options and listeners for both clients (its API for Espruino\'s module)',
        `no growth: ${growth.join('; ')}`,
        'deterministic: one run per path (rounds do not apply); mosquitto on 127.0.0.1, links cut by a relay and re-established by the client\'s own reconnect',
      ],
    }],
    data: { interpreter: bin, total: info.total, sized, bundle, baseline: theirs ? 'measured' : RECORDED_BASELINE, config: cfg,
      runs: runs.map((r) => ({ path: r.path, who: r.who, bundle: r.bundle, phases: r.result.phases, error: r.result.error, failures: r.result.failures })) },
  };
}
