// Benchmark 3: codec speed on Node. Ours is the minified firmware codec
// (dist/test/codec.js, binary strings in and out, as on the board) against
// mqtt-packet (Buffers). Decoding feeds both the same stream cut into 536-byte
// chunks, the largest piece an Espruino socket delivers on Linux.
import * as fs from 'fs';
import * as path from 'path';
import * as mqtt from 'mqtt-packet';
import { ROOT } from './lib/proc';
import { median, ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';

const CHUNK = 536;
const TOPIC = 'site/7/device-42/telemetry';

interface Case { name: string; what: string; ours: () => number; theirs: () => number }

/** Runs fn (which does `n` operations per call) for about ms, returns operations per second. */
function opsPerSec(fn: () => number, ms: number): number {
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    ops += fn();
    t = performance.now();
  }
  return (ops * 1000) / (t - t0);
}

function chunks<T extends { length: number }>(whole: T, slice: (a: number, b: number) => T): T[] {
  const out: T[] = [];
  for (let i = 0; i < whole.length; i += CHUNK) out.push(slice(i, Math.min(whole.length, i + CHUNK)));
  return out;
}

export function codecCases(codec: any): Case[] {
  const small = Buffer.from('{"t":21.5,"h":40,"battery":3.71}');
  const big = Buffer.alloc(4096);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 255;
  const cases: Case[] = [];

  for (const [label, payload] of [['small', small], ['4KB', big]] as const) {
    const bin = payload.toString('latin1');
    cases.push({
      name: `encode PUBLISH ${label}`, what: `QoS 1, ${payload.length} B payload`,
      // What the client's publish() does: fixed header + topic + packet id + payload.
      ours: () => { for (let i = 1; i <= 100; i++) codec.packet(0x32, codec.str(TOPIC) + codec.u16(i) + bin); return 100; },
      theirs: () => { for (let i = 1; i <= 100; i++) mqtt.generate({ cmd: 'publish', topic: TOPIC, payload, qos: 1, messageId: i, retain: false, dup: false }); return 100; },
    });
    // 100 packets back to back, delivered in 536-byte chunks.
    const one = mqtt.generate({ cmd: 'publish', topic: TOPIC, payload, qos: 1, messageId: 7, retain: false, dup: false });
    cases.push(decodeCase(`decode PUBLISH ${label}`, `QoS 1, ${payload.length} B payload, 100 per stream`, codec, Buffer.concat(Array(100).fill(one)), 100));
  }

  // A client's mixed inbound stream: CONNACK, PUBLISH at each QoS, acks, SUBACK, PINGRESP.
  const inbound: mqtt.Packet[] = [{ cmd: 'connack', returnCode: 0, sessionPresent: false }];
  for (let i = 1; i <= 20; i++) {
    inbound.push({ cmd: 'publish', topic: `${TOPIC}/${i % 5}`, payload: small, qos: (i % 3) as 0 | 1 | 2, messageId: i % 3 ? i : undefined, retain: false, dup: false });
    inbound.push({ cmd: i % 2 ? 'puback' : 'pubrec', messageId: i });
    if (i % 2 === 0) inbound.push({ cmd: 'pubcomp', messageId: i });
    if (i % 3 === 2) inbound.push({ cmd: 'pubrel', messageId: i });
    if (i % 5 === 0) inbound.push({ cmd: 'suback', messageId: i, granted: [1, 0] }, { cmd: 'pingresp' });
  }
  const stream = Buffer.concat(inbound.map((p) => mqtt.generate(p)));
  cases.push(decodeCase('decode mixed', `${inbound.length} packets of 8 kinds per stream`, codec, stream, inbound.length));

  // A client's mixed outbound: CONNECT, SUBSCRIBE, PUBLISH at QoS 0 and 1, PUBACK, PINGREQ.
  const binSmall = small.toString('latin1');
  const subs = [['cmd/dev-42/#', 1], ['site/7/+/alarm', 0]];
  cases.push({
    name: 'encode mixed', what: 'CONNECT, SUBSCRIBE, 10 PUBLISH, 5 PUBACK, PINGREQ',
    ours: () => {
      // As the client builds them (session/client.ts): CONNECT with user name and password, the acks.
      codec.packet(0x10, codec.str('MQTT') + codec.chr(4, 0xc0) + codec.u16(60) + codec.str('device-42') + codec.str('dev') + codec.str('secret'));
      codec.subscribe(codec.SUBSCRIBE, 1, subs);
      for (let i = 1; i <= 10; i++) codec.packet(0x30 | (i & 1) << 1, codec.str(TOPIC) + (i & 1 ? codec.u16(i) : '') + binSmall);
      for (let i = 1; i <= 5; i++) codec.packet(codec.PUBACK, codec.u16(i));
      codec.packet(codec.PINGREQ, '');
      return 18;
    },
    theirs: () => {
      mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'device-42', username: 'dev', password: Buffer.from('secret'), clean: false, keepalive: 60 });
      mqtt.generate({ cmd: 'subscribe', messageId: 1, subscriptions: subs.map(([topic, qos]) => ({ topic: topic as string, qos: qos as 0 | 1 })) });
      for (let i = 1; i <= 10; i++) mqtt.generate({ cmd: 'publish', topic: TOPIC, payload: small, qos: (i & 1) as 0 | 1, messageId: i & 1 ? i : undefined, retain: false, dup: false });
      for (let i = 1; i <= 5; i++) mqtt.generate({ cmd: 'puback', messageId: i });
      mqtt.generate({ cmd: 'pingreq' });
      return 18;
    },
  });
  return cases;
}

/** Both decoders over the same stream; each checks it saw every packet, so nothing is skipped unnoticed. */
function decodeCase(name: string, what: string, codec: any, stream: Buffer, packets: number): Case {
  const bufChunks = chunks(stream, (a, b) => stream.subarray(a, b));
  const binary = stream.toString('latin1');
  const strChunks = chunks(binary, (a, b) => binary.substring(a, b));
  let seen = 0;
  const push = codec.parser(1 << 20, (h: number, b: string) => {
    // What the client does per packet: the topic of a PUBLISH (decoded from UTF-8), the id of an ack.
    if (h >> 4 === 3) codec.fromUtf8(b.substr(2, codec.u16at(b, 0)));
    else if (b.length >= 2) codec.u16at(b, 0);
    seen++;
  }, (msg: string) => { throw new Error(`our parser refused the bench stream: ${msg}`); });
  const parser = mqtt.parser({ protocolVersion: 4 });
  parser.on('packet', () => { seen++; });
  parser.on('error', (e) => { throw e; });
  const check = (who: string) => {
    if (seen !== packets) throw new Error(`${name}: ${who} decoded ${seen} packets, expected ${packets}`);
    seen = 0;
    return packets;
  };
  return {
    name, what,
    ours: () => { for (const c of strChunks) push(c); return check('ours'); },
    theirs: () => { for (const c of bufChunks) parser.parse(c); return check('mqtt-packet'); },
  };
}

export function loadCodec(distDir = path.join(ROOT, 'dist')): any | null {
  const file = path.join(distDir, 'test', 'codec.js');
  if (!fs.existsSync(file)) return null;
  // The parser asks Espruino's process.memory() before keeping a big packet: plenty here.
  (process as any).memory ??= () => ({ free: 1e9, usage: 0, total: 1e9, blocksize: 16 });
  return require(file);
}

export async function runCodecBench(opts: BenchOptions, msPerRun = opts.quick ? 150 : 400): Promise<BenchResult> {
  const codec = loadCodec();
  if (!codec) return { name: 'codec', skipped: 'dist/test/codec.js missing: run `npm run build` first', tables: [], data: {} };
  const cases = codecCases(codec);
  const results = cases.map((c) => ({ name: c.name, what: c.what, ours: [] as number[], theirs: [] as number[] }));
  for (const c of cases) { opsPerSec(c.ours, 20); opsPerSec(c.theirs, 20); } // JIT warm-up
  for (let r = 0; r < opts.rounds; r++) {
    cases.forEach((c, i) => {
      // Alternate who goes first each round.
      if (r % 2) { results[i].theirs.push(opsPerSec(c.theirs, msPerRun)); results[i].ours.push(opsPerSec(c.ours, msPerRun)); } else { results[i].ours.push(opsPerSec(c.ours, msPerRun)); results[i].theirs.push(opsPerSec(c.theirs, msPerRun)); }
    });
    opts.log(`codec round ${r + 1}/${opts.rounds} done`);
  }
  const rows = results.map((x) => {
    const o = median(x.ours);
    const t = median(x.theirs);
    return { name: x.name, what: x.what, oursOpsPerSec: o, mqttPacketOpsPerSec: t, ratio: ratio(o, t), rounds: x };
  });
  return {
    name: 'codec',
    tables: [{
      title: `codec speed on Node ${process.version} (packets/s, medians of ${opts.rounds} rounds of ${msPerRun} ms)`,
      header: ['case', 'ours pkt/s', 'mqtt-packet pkt/s', 'ours/mqtt-packet', 'what'],
      rows: rows.map((r) => [r.name, r.oursOpsPerSec, r.mqttPacketOpsPerSec, fmtRatio(r.ratio), r.what]),
      notes: ['ours = dist/test/codec.js (minified firmware codec, binary strings); mqtt-packet 9 (Buffers); > 1.00x = ours faster',
        'decode counts are checked every call; ours also reads each PUBLISH\'s fields as the client does'],
    }],
    data: rows,
  };
}
