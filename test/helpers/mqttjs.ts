// An MQTT.js peer for tests: connected once, no automatic reconnect.
import mqtt, { IClientOptions, MqttClient } from 'mqtt';

/** Resolves on CONNACK 0; rejects with the connection error (a refused CONNACK included). */
export function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => { c.end(true); reject(e); });
  });
}
