// Abrupt disconnects at random points of QoS 1 and QoS 2 flows, for the
// firmware client (the minified bundle on the simulated board) with a
// persistent session on the host broker. Faults come from both sides: the
// broker's HIL fault rules (disconnect on the next PUBLISH/PUBACK/PUBREC/
// PUBREL/PUBCOMP in or out) and the simulator's link drop (TCP reset).
// Traffic flows both ways: the board publishes up/1 (QoS 1) and up/2 (QoS 2),
// an MQTT.js peer publishes down/1 and down/2 to the board.
import mqtt from 'mqtt';
import { createBoard, type Board } from '../../../boards/sim';
import { Broker } from '../../../host-broker/broker';
import { Control } from '../../../host-broker/control/control';
import { bundleSource } from '../../firmware/helpers/bundles';
import { rng } from './mutate';

const FLOW_PACKETS = ['publish', 'puback', 'pubrec', 'pubrel', 'pubcomp'] as const;

export interface ClientFaultResult {
  disconnects: number;
  up: { sent: number; received: number; missing: number[]; qos2Twice: number[]; outOfOrder: string[] };
  down: { sent: number; received: number; missing: number[]; qos2Twice: number[]; outOfOrder: string[] };
  memory: { baseline: number; after: number };
  uncaught: string[];
  refusedPublishes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Checks one direction: QoS 1 at least once, QoS 2 exactly once, first deliveries in order per topic. */
function judge(sent: Map<string, number>, got: [string, number][]) {
  const seen = new Map<string, number>();
  const lastFirst = new Map<string, number>();
  const outOfOrder: string[] = [];
  for (const [topic, n] of got) {
    const key = `${topic}:${n}`;
    const count = (seen.get(key) ?? 0) + 1;
    seen.set(key, count);
    if (count === 1) {
      if ((lastFirst.get(topic) ?? -1) > n) outOfOrder.push(`${topic} ${n} after ${lastFirst.get(topic)}`);
      lastFirst.set(topic, n);
    }
  }
  const missing: number[] = [];
  const qos2Twice: number[] = [];
  let total = 0;
  for (const [topic, count] of sent) {
    for (let n = 0; n < count; n++) {
      total++;
      const c = seen.get(`${topic}:${n}`) ?? 0;
      if (c === 0) missing.push(n);
      if (topic.endsWith('/2') && c > 1) qos2Twice.push(n);
    }
  }
  return { sent: total, received: seen.size, missing: missing.slice(0, 20), qos2Twice: qos2Twice.slice(0, 20), outOfOrder: outOfOrder.slice(0, 20) };
}

/** Vars the board may differ by at rest (a timer id, a socket's chunk). */
export const MEMORY_SLACK = 8;

export async function clientFaultRun(disconnects: number, seed: number, log: (s: string) => void = () => undefined): Promise<ClientFaultResult> {
  const r = rng(seed);
  const broker = new Broker();
  const control = new Control(broker);
  const { tcp: port } = await broker.listen({ tcp: { port: 0 } });
  let board: Board | null = null;
  let peer: mqtt.MqttClient | null = null;
  try {
    peer = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'soak-peer', clean: false, reconnectPeriod: 0 });
    const upGot: [string, number][] = [];
    peer.on('message', (t, p) => upGot.push([t, Number(p.toString())]));
    await peer.subscribeAsync('up/#', { qos: 2 });

    board = createBoard({ board: 'esp32' });
    board.addModule('mqtt-client', bundleSource('esp32'));
    board.eval(`
      var got = []; var done = []; var closes = 0; var conns = 0; var refused = 0;
      var c = require("mqtt-client").create({ host: "127.0.0.1", port: ${port}, net: require("net"), clientId: "soak-dev",
        clean: false, keepalive: 5, minBackoff: 5, maxBackoff: 20 });
      c.on("message", function (t, p) { got.push([t, +p]); });
      c.on("close", function () { closes++; });
      c.on("connect", function () { conns++; });
      c.on("error", function () {});
      function up(t, n, q) { c.publish(t, "" + n, { qos: q }, function (err) { if (err) refused++; else done.push(n); }); }
      c.connect();
      c.subscribe({ "down/1": 1, "down/2": 2 }, {}, function (err) { if (err) refused++; });
    `);
    const b = board;
    const ev = (code: string) => b.eval(code);
    const drain = (): [string, number][] => JSON.parse(ev('var x = got; got = []; JSON.stringify(x)'));
    const downGot: [string, number][] = [];
    const until = async (what: string, cond: () => boolean, ms = 20000) => {
      const end = Date.now() + ms;
      while (!cond()) {
        downGot.push(...drain());
        if (b.errors.length) throw new Error(`board: ${b.errors.join('\n')}`);
        if (Date.now() > end) {
          throw new Error(`timed out waiting for ${what} (board: ${ev('conns')} connects, ${ev('closes')} closes, ${b.openSockets()} open sockets, ` +
            `output ${JSON.stringify(b.output.slice(-5))}; broker clients ${JSON.stringify(broker.clients().map((c) => c.clientId))})`);
        }
        await sleep(5);
      }
    };
    await until('the first connection', () => ev('conns') >= 1 && broker.sessions().some((s) => s.clientId === 'soak-dev' && s.subscriptions.length === 2));

    const upSent = new Map<string, number>([['up/1', 0], ['up/2', 0]]);
    const downSent = new Map<string, number>([['down/1', 0], ['down/2', 0]]);
    const upDone = () => ev('done.length') as number;
    const upTotal = () => upSent.get('up/1')! + upSent.get('up/2')!;
    const sendUp = () => {
      const qos = r() < 0.5 ? 1 : 2;
      const t = `up/${qos}`;
      const n = upSent.get(t)!;
      upSent.set(t, n + 1);
      ev(`up(${JSON.stringify(t)}, ${n}, ${qos})`);
    };
    const sendDown = () => {
      const qos = r() < 0.5 ? 1 : 2;
      const t = `down/${qos}`;
      const n = downSent.get(t)!;
      downSent.set(t, n + 1);
      peer!.publish(t, String(n), { qos: qos as 1 | 2 });
    };
    // A quiet baseline: connected, subscribed, one flow each way done.
    sendUp(); sendDown();
    await until('the first flows', () => upDone() === 1 && downGot.length >= 1 && upGot.length >= 1);
    await sleep(50);
    downGot.push(...drain());
    const baseline = b.memory().usage;

    let closes = ev('closes') as number;
    const target = closes + disconnects;
    while (closes < target) {
      // A few flows in both directions, the board's outbox kept below its limits.
      const k = 1 + Math.floor(r() * 4);
      for (let i = 0; i < k; i++) {
        if (upTotal() - upDone() < 6) sendUp();
        sendDown();
      }
      const before = closes;
      if (r() < 0.6) {
        control.addFault({ clientId: 'soak-dev', direction: r() < 0.5 ? 'in' : 'out', cmd: FLOW_PACKETS[Math.floor(r() * FLOW_PACKETS.length)], action: 'disconnect' });
        await sleep(Math.floor(r() * 15));
        if ((ev('closes') as number) === before) b.faults.dropLinks(); // the rule did not hit: cut the link anyway
      } else {
        await sleep(Math.floor(r() * 10));
        b.faults.dropLinks();
      }
      await until('the drop', () => (ev('closes') as number) > before, 5000);
      control.clearFaults();
      await until('a reconnect', () => (ev('conns') as number) > (ev('closes') as number), 10000);
      closes = ev('closes') as number;
      if (closes % 100 === 0) log(`${closes} disconnects`);
    }
    // Drain: everything in flight completes.
    await until('every up flow to complete', () => upDone() + (ev('refused') as number) >= upTotal(), 30000);
    const downTotal = downSent.get('down/1')! + downSent.get('down/2')!;
    await until('every down message', () => new Set(downGot.map(([t, n]) => `${t}:${n}`)).size >= downTotal && new Set(upGot.map(([t, n]) => `${t}:${n}`)).size >= upTotal(), 30000).catch(() => undefined);
    await sleep(100);
    downGot.push(...drain());
    ev('done = []');
    // The last QoS 2 exchanges (PUBREL, PUBCOMP) may still be on their way on a loaded machine: a
    // leak never comes back, so wait a little for the board to be at rest before measuring.
    await until('the board at rest', () => b.memory().usage <= baseline + MEMORY_SLACK, 3000).catch(() => undefined);
    const after = b.memory().usage;
    return {
      disconnects: closes - (target - disconnects),
      up: judge(upSent, upGot),
      down: judge(downSent, downGot),
      memory: { baseline, after },
      uncaught: [...b.errors],
      refusedPublishes: ev('refused') as number,
    };
  } finally {
    board?.destroy();
    if (peer) await peer.endAsync(true);
    control.close();
    await broker.close();
  }
}
