// The before() hook of the suites that run the client in a real Espruino
// interpreter against mosquitto: both are needed; without either, the suite is
// skipped with a message saying how to enable it.
import { ESPRUINO_BIN_SKIP_MESSAGE, espruinoBin } from '../../../boards/espruino-bin';
import { startMosquitto, Mosquitto, MOSQUITTO_SKIP_MESSAGE } from '../../helpers/mosquitto';

/** ESPRUINO_BIN and a running mosquitto, or `hook` (the before() hook's this) skips its suite. */
export async function espruinoAndMosquitto(hook: Mocha.Context): Promise<{ bin: string; mosq: Mosquitto }> {
  const bin = espruinoBin();
  if (!bin) {
    console.log(`      ${ESPRUINO_BIN_SKIP_MESSAGE}`);
    return hook.skip();
  }
  const mosq = await startMosquitto();
  if (!mosq) {
    console.log(`      ${MOSQUITTO_SKIP_MESSAGE}`);
    return hook.skip();
  }
  return { bin, mosq };
}
