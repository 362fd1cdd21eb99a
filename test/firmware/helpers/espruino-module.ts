// Espruino's own MQTT module (EspruinoDocs modules/MQTT.js), the baseline the
// client's RAM is measured against in the same run. It is not part of this
// repository: a user points at a copy with ESPRUINO_MQTT_MODULE, and it is
// minified here the way the baseline figures were taken (terser -c -m --toplevel).
import * as fs from 'fs';
import { minify } from 'terser';

export const ESPRUINO_MQTT_MODULE_SKIP_MESSAGE =
  "ESPRUINO_MQTT_MODULE is not set: Espruino's own MQTT module is not measured in this run. To measure it, " +
  'point it at modules/MQTT.js of the EspruinoDocs repository (github.com/espruino/EspruinoDocs): ESPRUINO_MQTT_MODULE=/path/to/EspruinoDocs/modules/MQTT.js';

export interface EspruinoModule { file: string; source: string; bytes: number }

/** The module minified, or null when ESPRUINO_MQTT_MODULE is unset. A set but unreadable path is an error, not a skip. */
export async function espruinoMqttModule(env: NodeJS.ProcessEnv = process.env): Promise<EspruinoModule | null> {
  const file = env.ESPRUINO_MQTT_MODULE;
  if (!file) return null;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e: any) {
    throw new Error(`ESPRUINO_MQTT_MODULE=${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message} (expected EspruinoDocs modules/MQTT.js)`, { cause: e });
  }
  if (!/exports\.create\s*=/.test(text)) throw new Error(`ESPRUINO_MQTT_MODULE=${file}: no exports.create: is it EspruinoDocs modules/MQTT.js?`);
  const r = await minify(text, { compress: true, mangle: true, toplevel: true });
  if (!r.code) throw new Error(`ESPRUINO_MQTT_MODULE=${file}: terser produced nothing`);
  return { file, source: r.code, bytes: Buffer.byteLength(r.code) };
}

/**
 * Espruino's module measured with this harness (test/firmware/helpers/espruino-memory.ts),
 * for runs without ESPRUINO_MQTT_MODULE: vars above the empty runtime.
 */
export const RECORDED_BASELINE = {
  esp8266: { flash: { loaded: 217, connected: 361 }, console: { loaded: 571, connected: 735 } },
  /** The stock 64-bit Linux build (16-byte vars), standing in for an ESP32-sized one. */
  esp32: { flash: { loaded: 194, connected: 316 }, console: { loaded: 355, connected: 486 } },
  provenance: 'EspruinoDocs modules/MQTT.js at 60ae9bb, terser -c -m --toplevel (5,114 B), Espruino 2v29 (c5ff787): a 32-bit build with 1600 vars (ESP8266-sized) and the stock 64-bit Linux build, against mosquitto 2.0.11, measured 2026-12-02',
};
