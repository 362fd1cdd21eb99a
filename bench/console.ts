// `--only console`: what the hub console's watch (host-broker/console/watch.ts)
// costs the broker. QoS 0 telemetry-like JSON PUBLISHes (50 topics, pre-encoded)
// over a real TCP socket into the broker, with and without a HubWatch attached;
// rounds alternate. The watch keeps each topic's last value and samples JSON for
// the plots (at most every 100 ms per topic), so the baseline is the same broker.
import * as net from 'net';
import * as mqttPacket from 'mqtt-packet';
import { Broker } from '../host-broker/broker';
import { HubWatch } from '../host-broker/console/watch';
import type { BenchOptions, BenchResult } from './lib/types';

async function once(withWatch: boolean, n: number, sampleEveryMs?: number): Promise<number> {
  const broker = new Broker({ limits: { maxConnections: 10 } });
  const watch = withWatch ? new HubWatch(broker, sampleEveryMs === undefined ? {} : { sampleEveryMs }) : undefined;
  const { tcp } = await broker.listen({ tcp: { port: 0, host: '127.0.0.1' } });
  const sock = net.connect(tcp!, '127.0.0.1');
  try {
    await new Promise<void>((r, j) => { sock.once('connect', () => r()); sock.once('error', j); });
    const connack = new Promise<void>((r) => sock.once('data', () => r()));
    sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'bench-pub', clean: true, keepalive: 0 } as mqttPacket.IConnectPacket));
    await connack;
    const frames = Array.from({ length: 50 }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic: `devices/esp32-${i}/telemetry`, qos: 0, dup: false, retain: false,
      payload: Buffer.from(JSON.stringify({ id: `esp32-${i}`, boot: 1, seq: i, time: 1796187554, temp: 20 + i / 10, free: 16122, lost: 0 })) } as mqttPacket.IPublishPacket));
    const chunk = Buffer.concat(Array.from({ length: 1000 }, (_, i) => frames[i % 50]));
    let seen = 0;
    const done = new Promise<void>((r) => broker.on('message', () => { if (++seen === n) r(); }));
    const t0 = process.hrtime.bigint();
    for (let sent = 0; sent < n; sent += 1000) {
      if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
    }
    await done;
    return n / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    sock.destroy();
    watch?.close();
    await broker.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runConsoleBench(opts: BenchOptions): Promise<BenchResult> {
  const n = opts.quick ? 50_000 : 200_000;
  await once(false, 20_000); await once(true, 20_000); // warm up
  const base: number[] = [];
  const watched: number[] = [];
  const everyMsg: number[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const order = r % 2 ? [true, false] : [false, true];
    for (const w of order) (w ? watched : base).push(await once(w, n));
    everyMsg.push(await once(true, n, 0));
    opts.log(`round ${r + 1}: without ${Math.round(base[r])}/s, with ${Math.round(watched[r])}/s`);
  }
  const b = median(base);
  const rows = [
    ['broker alone (baseline)', Math.round(b), '1.00x'],
    ['with the console watch', Math.round(median(watched)), `${(median(watched) / b).toFixed(2)}x`],
    ['watch parsing every message (sampleEveryMs 0)', Math.round(median(everyMsg)), `${(median(everyMsg) / b).toFixed(2)}x`],
  ];
  return {
    name: 'console',
    tables: [{
      title: `console watch cost: ${n} QoS 0 JSON PUBLISHes over one TCP socket, 50 topics (median of ${opts.rounds} rounds)`,
      header: ['broker', 'msg/s', 'vs baseline'],
      rows,
      notes: ['baseline: the same broker without the watch, alternating rounds in this run'],
    }],
    data: { n, rounds: opts.rounds, base, watched, everyMsg },
  };
}
