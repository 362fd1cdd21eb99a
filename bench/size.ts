// Benchmark 1: firmware size per board profile, against Espruino's own MQTT module.
// That module's code must not ship here, so its size is a recorded constant with
// its provenance (see BASELINE below); sizes are bytes of the files as built.
import * as fs from 'fs';
import * as path from 'path';
import { listBoards } from '../boards/profiles';
import { ROOT } from './lib/proc';
import { ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';

/** Measured once, recorded here; the module itself is not part of this project. */
export const BASELINE = {
  espruinoMqtt: {
    bytes: 5114,
    unminifiedBytes: 12830,
    provenance: 'EspruinoDocs modules/MQTT.js minified with `terser -c -m --toplevel` (12,830 -> 5,114 bytes); /work/shared/reference/espruino-facts.md',
  },
  tinyMqtt: {
    bytes: 1614,
    unminifiedBytes: 3098,
    provenance: 'EspruinoDocs modules/tinyMQTT.js, same terser flags (3,098 -> 1,614 bytes); QoS 0 only, messages <= 127 bytes',
  },
};

export interface SizeRow { board: string; file: string; bytes: number | null; vsEspruinoMqtt: number; vsTinyMqtt: number }

export function measureSizes(distDir = path.join(ROOT, 'dist')): SizeRow[] {
  const rows: SizeRow[] = [];
  for (const board of listBoards()) {
    for (const file of ['mqtt-client.js', 'telemetry.js']) {
      const p = path.join(distDir, board, file);
      const bytes = fs.existsSync(p) ? fs.statSync(p).size : null;
      rows.push({
        board, file, bytes,
        vsEspruinoMqtt: bytes === null ? NaN : ratio(bytes, BASELINE.espruinoMqtt.bytes),
        vsTinyMqtt: bytes === null ? NaN : ratio(bytes, BASELINE.tinyMqtt.bytes),
      });
    }
  }
  return rows;
}

export async function runSizeBench(_opts: BenchOptions, distDir?: string): Promise<BenchResult> {
  const rows = measureSizes(distDir);
  const clients = rows.filter((r) => r.file === 'mqtt-client.js');
  if (clients.every((r) => r.bytes === null)) {
    return { name: 'size', skipped: 'dist/ has no bundles: run `npm run build` first', tables: [], data: { rows } };
  }
  const goal = BASELINE.espruinoMqtt.bytes;
  const notes = [
    `Espruino MQTT: ${BASELINE.espruinoMqtt.provenance}`,
    `tinyMQTT: ${BASELINE.tinyMqtt.provenance}`,
    'baselines are recorded constants (the modules cannot ship here); ratio < 1.00x = ours is smaller',
  ];
  for (const r of clients) {
    if (r.bytes !== null && r.bytes > goal) notes.push(`GOAL MISSED: ${r.board} client is ${r.bytes - goal} bytes over ${goal}`);
  }
  for (const r of rows.filter((x) => x.file === 'telemetry.js' && x.bytes === null)) notes.push(`${r.board}/telemetry.js not built (firmware/apps/telemetry missing)`);
  return {
    name: 'size',
    tables: [{
      title: 'firmware size (bytes as built, minified)',
      header: ['board', 'file', 'bytes', 'vs Espruino MQTT 5,114 B', 'vs tinyMQTT 1,614 B'],
      rows: [
        ...rows.filter((r) => r.bytes !== null).map((r) => [r.board, r.file, r.bytes, fmtRatio(r.vsEspruinoMqtt), fmtRatio(r.vsTinyMqtt)]),
        ['espruino', 'MQTT.js (recorded)', BASELINE.espruinoMqtt.bytes, fmtRatio(1), fmtRatio(ratio(BASELINE.espruinoMqtt.bytes, BASELINE.tinyMqtt.bytes))],
        ['espruino', 'tinyMQTT.js (recorded)', BASELINE.tinyMqtt.bytes, fmtRatio(ratio(BASELINE.tinyMqtt.bytes, goal)), fmtRatio(1)],
      ],
      notes,
    }],
    data: { rows, baseline: BASELINE },
  };
}
