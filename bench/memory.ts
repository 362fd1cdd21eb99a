// Benchmark 2: firmware memory on the real interpreter (ESPRUINO_BIN, an Espruino
// build for Linux); skipped with how to enable it otherwise. Measured exactly as the
// firmware team's test does (test/firmware/espruino.memory.test.ts), with its helper:
// the module typed at the console in acknowledged pieces, the client against
// mosquitto on 127.0.0.1 through a relay that cuts the link for the reconnect phase,
// process.memory().usage (after its GC) above the empty runtime. So the bench's
// figures and the test's are the same figures; the bench adds the baseline ratio.
import { espruinoBin, ESPRUINO_BIN_SKIP_MESSAGE } from '../boards/espruino-bin';
import { startMosquitto, MOSQUITTO_SKIP_MESSAGE } from '../test/helpers/mosquitto';
import { bundleSource } from '../test/firmware/helpers/bundles';
import { delta, interpreterTotal, measureMemory, type MemoryResult } from '../test/firmware/helpers/espruino-memory';
import { ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { Cell } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';

/** Espruino's MQTT module against a local mosquitto (espruino-facts.md), vars above an empty runtime. */
export const MEMORY_BASELINE = {
  esp8266: { loaded: 602, connected: 777, tinyConnected: 393 },
  esp32: { loaded: 548, connected: 718, tinyConnected: 367 },
  provenance: 'EspruinoDocs modules/MQTT.js on Espruino 2v29 Linux builds sized like an ESP8266 (1600 vars) / ESP32 (16383 vars), process.memory().usage after GC, against mosquitto; /work/shared/reference/espruino-facts.md',
};

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

export interface MemoryRun { mode: 'plain' | 'pretokenised'; bundle: string; result: MemoryResult }

/** The table's rows: phase name in the helper, and how the table says it. */
const PHASES: [string, (c: MemoryConfig) => string, keyof typeof MEMORY_BASELINE.esp8266 | null][] = [
  ['loaded', () => 'module loaded', 'loaded'],
  ['created', () => 'client created', null],
  ['connected', () => 'connected', 'connected'],
  ['published', (c) => `after ${c.publishes} QoS 1 publishes`, null],
  ['reconnected', (c) => `after ${c.reconnects} reconnects`, null],
];

export async function runMemoryBench(opts: BenchOptions, cfg = memoryConfig(opts.quick)): Promise<BenchResult> {
  const bin = espruinoBin();
  if (!bin) return { name: 'memory', skipped: ESPRUINO_BIN_SKIP_MESSAGE, tables: [], data: {} };
  const mosq = await startMosquitto();
  if (!mosq) return { name: 'memory', skipped: MOSQUITTO_SKIP_MESSAGE, tables: [], data: {} };
  const total = await interpreterTotal(bin);
  const sized = total <= 2000 ? 'esp8266' : 'esp32';
  const bundle = cfg.bundle ?? sized;
  const source = bundleSource(bundle);
  const runs: MemoryRun[] = [];
  try {
    for (const mode of ['plain', 'pretokenised'] as const) {
      opts.log(`memory: ${bundle} bundle, ${mode}, in ${bin} (${total} vars)`);
      const result = await measureMemory({ bin, source, port: mosq.port, pretokenise: mode === 'pretokenised',
        publishes: cfg.publishes, reconnects: cfg.reconnects, timeoutMs: cfg.timeoutMs });
      runs.push({ mode, bundle, result });
    }
  } finally {
    await mosq.stop();
  }
  const base = MEMORY_BASELINE[sized];
  const fmt = (x: number) => (Number.isFinite(x) ? `+${x}` : '-');
  const rows: Cell[][] = PHASES.map(([phase, label, key]) => {
    const b = key ? base[key] : NaN;
    const [plain, pre] = runs.map((r) => delta(r.result, phase));
    return [label(cfg), fmt(plain), fmt(pre), key ? `+${b}` : '', fmtRatio(ratio(plain, b)), fmtRatio(ratio(pre, b))];
  });
  for (const r of runs) if (r.result.error) rows.push([`ERROR (${r.mode})`, '', '', '', '', r.result.error.slice(0, 160)]);
  const growth = runs.map((r) => `${r.mode}: +${delta(r.result, 'published10')} after 10 publishes -> +${delta(r.result, 'published')} after ${cfg.publishes}; `
    + `+${delta(r.result, 'reconnected2')} after 2 reconnects -> +${delta(r.result, 'reconnected')} after ${cfg.reconnects}`);
  return {
    name: 'memory',
    tables: [{
      title: `firmware memory: dist/${bundle}/mqtt-client.js in ${bin} (process.memory().total ${total} vars: ${sized === 'esp8266' ? 'ESP8266' : 'ESP32'}-sized), vars above the empty runtime`,
      header: ['phase', 'ours plain', 'ours pretokenised', 'Espruino MQTT module', 'plain/module', 'pretokenised/module'],
      rows,
      notes: [
        `baseline: the ${sized === 'esp8266' ? 'ESP8266' : 'ESP32'}-sized figures (this interpreter's total is ${total} vars; <= 2000 counts as ESP8266-sized): loaded +${base.loaded}, connected +${base.connected} (tinyMQTT connected +${base.tinyConnected}); ${MEMORY_BASELINE.provenance}`,
        total > 2000 && total !== 16383 ? `this interpreter has ${total} vars, not 16383: the ESP32-sized baseline is an approximation` : '',
        'method and code: test/firmware/helpers/espruino-memory.ts (the firmware memory test\'s): module typed at the console as Modules.addCached in acknowledged 200-byte pieces, every harness function created before the "empty" reading, process.memory().usage (GC first) minus the empty reading',
        'pretokenised = E.setFlags({pretokenise:1}) before the module is loaded',
        `no growth: ${growth.join('; ')}`,
        `broker: mosquitto on 127.0.0.1 (as for the baseline), links cut by a relay and re-established by the client's own reconnect; deterministic: one run per mode (rounds do not apply)`,
      ].filter(Boolean),
    }],
    data: { interpreter: bin, total, sized, bundle, baseline: MEMORY_BASELINE, config: cfg,
      runs: runs.map((r) => ({ mode: r.mode, bundle: r.bundle, phases: r.result.phases, error: r.result.error, failures: r.result.failures })) },
  };
}
