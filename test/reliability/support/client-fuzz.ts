// The firmware client (minified bundle on the simulated board) fed mutated
// server packets by a scripted peer over real sockets. Each case is one
// connection: CONNACK, then the mutant. A packet the client must refuse ends in
// an error event and a closed link; in every case the client reconnects, never
// prints an Uncaught, and its memory comes back to where it started.
import { createBoard, type Board } from '../../../boards/sim';
import { Peer, type PeerConn } from '../../firmware/helpers/peer';
import { bundleSource } from '../../firmware/helpers/bundles';
import { fuzzCase, type Mutation } from './mutate';

/** The client's maxPacket in this harness (small, so 'oversize' is cheap). */
const MAX = 1024;
/** Mutations that are fatal to a correct client: a malformed fixed header or type. */
const FATAL: Mutation[] = ['wrongflags', 'wrongtype', 'fivebytelength'];

export interface ClientFuzzResult { cases: number; failures: string[]; errorsSeen: number; memory: { baseline: number; after: number }; uncaught: string[] }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function clientFuzzRun(seed: number, count: number): Promise<ClientFuzzResult> {
  let current = -1;
  const peer = await new Peer((c: PeerConn, p: any) => {
    if (p.cmd === 'connect') c.send({ cmd: 'connack', returnCode: 0, sessionPresent: false });
    else if (p.cmd === 'pingreq') c.send({ cmd: 'pingresp' });
  }).start();
  let board: Board | null = null;
  const failures: string[] = [];
  try {
    board = createBoard({ board: 'esp32' });
    board.addModule('mqtt-client', bundleSource('esp32'));
    board.eval(`
      var errors = 0; var closes = 0; var conns = 0; var msgs = 0;
      var c = require("mqtt-client").create({ host: "127.0.0.1", port: ${peer.port}, net: require("net"), clientId: "fuzz-dev",
        keepalive: 0, minBackoff: 2, maxBackoff: 5, maxPacket: ${MAX} });
      c.on("error", function () { errors++; });
      c.on("close", function () { closes++; });
      c.on("connect", function () { conns++; });
      c.on("message", function () { msgs++; });
      c.connect();
    `);
    const b = board;
    const ev = (code: string) => b.eval(code) as number;
    const until = async (cond: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) return false;
        await sleep(2);
      }
      return true;
    };
    if (!(await until(() => ev('conns') === 1, 5000))) throw new Error('the client never connected to the scripted peer');
    const baseline = b.memory().usage;
    for (let i = 0; i < count; i++) {
      current = i;
      const c = fuzzCase(seed, i, 'toClient', MAX);
      const conn = peer.last;
      const errorsBefore = ev('errors');
      const closesBefore = ev('closes');
      const n = peer.conns.length;
      conn.raw(c.bytes);
      // A refused packet closes the link from the client's side; otherwise we cut it to move on.
      const closedByClient = await until(() => ev('closes') > closesBefore, FATAL.includes(c.mutation) ? 3000 : 20);
      if (FATAL.includes(c.mutation)) {
        if (!closedByClient) failures.push(`case ${i} (${c.mutation}, ${c.bytes.subarray(0, 32).toString('hex')}): the client kept the link after a malformed packet`);
        else if (ev('errors') === errorsBefore) failures.push(`case ${i} (${c.mutation}): closed without an error event`);
      }
      if (!closedByClient) conn.drop();
      if (!(await until(() => peer.conns.length > n && ev('conns') > ev('closes'), 5000))) {
        failures.push(`case ${i} (${c.mutation}): no reconnect (peer conns ${peer.conns.length}, was ${n}; client connects ${ev("conns")}, closes ${ev("closes")})`);
        break;
      }
      if (b.errors.length) { failures.push(`case ${i} (${c.mutation}, ${c.bytes.toString('hex').slice(0, 64)}): ${b.errors.join(' | ')}`); break; }
      if (failures.length >= 10) break;
    }
    await sleep(20);
    return { cases: current + 1, failures, errorsSeen: ev('errors'), memory: { baseline, after: b.memory().usage }, uncaught: [...b.errors] };
  } finally {
    board?.destroy();
    await peer.stop();
  }
}
