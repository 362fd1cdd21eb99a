// Helpers for the metrics tests: read a Prometheus scrape, SUBACK codes, waiting.
import type { MqttClient } from 'mqtt';

/** Prometheus text -> "name{labels}" -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** The SUBACK return codes for one SUBSCRIBE (MQTT.js rejects on 0x80; this reads them either way). */
export async function suback(c: MqttClient, filter: string | string[]): Promise<number[]> {
  try {
    return (await c.subscribeAsync(filter, { qos: 0 })).map((g) => g.qos);
  } catch (err: any) {
    if (err?.packet?.granted) return err.packet.granted.map((g: number | { qos: number }) => (typeof g === 'number' ? g : g.qos));
    throw err;
  }
}

export async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

