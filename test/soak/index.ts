// npm run soak [-- options]: the long versions of test/reliability.
//   --fuzz N          mutated packets for the firmware parser and for the broker's
//                     connection handling (in-process stream), N each (default 1,000,000)
//   --tcp-fuzz N      of those for the broker, how many more over real sockets (default 20,000)
//   --client-fuzz N   mutated packets for the client on the simulator (default 2,000)
//   --disconnects N   abrupt disconnects of the client mid QoS 1/2 flow (default 1,000)
//   --kills N         kill -9 of the broker under QoS 1/2 load (default 20)
//   --seed S          seed for everything (default: from the clock; printed)
//   --only a,b        run only these parts: codec, broker, client-fuzz, client-faults, kill9
// Prints counts per part and every failing case with its seed and index
// (re-run one with --seed S); exits 1 if anything failed.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCodec } from '../firmware/helpers/bundles';
import { codecCase } from '../reliability/support/codec-fuzz';
import { fuzzBroker, runBrokerFuzz } from '../reliability/support/broker-fuzz';
import { clientFuzzRun } from '../reliability/support/client-fuzz';
import { clientFaultRun, MEMORY_SLACK } from '../reliability/support/client-faults';
import { kill9Run } from '../reliability/support/kill9';

const PARTS = ['codec', 'broker', 'client-fuzz', 'client-faults', 'kill9'];

function parseArgs(argv: string[]) {
  const o = { fuzz: 1_000_000, tcpFuzz: 20_000, clientFuzz: 2_000, disconnects: 1_000, kills: 20, seed: Date.now() % 0x7fffffff, only: PARTS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    const num = (name: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a whole number >= 0, got ${JSON.stringify(v)}`);
      i++;
      return n;
    };
    if (a === '--fuzz') o.fuzz = num(a);
    else if (a === '--tcp-fuzz') o.tcpFuzz = num(a);
    else if (a === '--client-fuzz') o.clientFuzz = num(a);
    else if (a === '--disconnects') o.disconnects = num(a);
    else if (a === '--kills') o.kills = num(a);
    else if (a === '--seed') o.seed = num(a);
    else if (a === '--only') {
      o.only = (v ?? '').split(',');
      for (const p of o.only) if (!PARTS.includes(p)) throw new Error(`--only: expected some of ${PARTS.join(',')}, got ${JSON.stringify(p)}`);
      i++;
    } else throw new Error(`${a}: unknown option (see the comment at the top of test/soak/index.ts)`);
  }
  return o;
}

const out = (s: string) => process.stdout.write(s + '\n');

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  out(`soak: seed ${o.seed}`);
  const failures: string[] = [];
  let total = 0;
  const t0 = Date.now();
  const secs = (t: number) => `${((Date.now() - t) / 1000).toFixed(1)} s`;

  if (o.only.includes('codec')) {
    const t = Date.now();
    const codec = loadCodec();
    let n = 0;
    for (; n < o.fuzz; n++) {
      const f = codecCase(codec, o.seed, n);
      if (f) failures.push(`codec: seed ${f.seed} case ${f.index} (${f.mutation}, ${f.hex}): ${f.problem}`);
      if (n % 100_000 === 99_999) out(`  codec: ${n + 1} cases`);
    }
    total += n;
    out(`codec (firmware parser): ${n} cases, ${secs(t)}`);
  }

  if (o.only.includes('broker')) {
    const t = Date.now();
    const fb = await fuzzBroker();
    try {
      let refused = 0;
      const step = 50_000;
      for (let from = 0; from < o.fuzz; from += step) {
        const r = await runBrokerFuzz(fb, o.seed, from, Math.min(step, o.fuzz - from), 'stream', 32);
        refused += r.refused;
        for (const f of r.failures) failures.push(`broker/stream: seed ${f.seed} case ${f.index} (${f.mutation}, ${f.hex}): ${f.problem}`);
        out(`  broker/stream: ${from + r.cases} cases`);
      }
      // Different case indexes over TCP, after the stream ones.
      const r = await runBrokerFuzz(fb, o.seed, o.fuzz, o.tcpFuzz, 'tcp', 16);
      refused += r.refused;
      for (const f of r.failures) failures.push(`broker/tcp: seed ${f.seed} case ${f.index} (${f.mutation}, ${f.hex}): ${f.problem}`);
      total += o.fuzz + r.cases;
      const left = fb.broker.clients().length;
      if (left) failures.push(`broker: ${left} fuzz connections still open at the end`);
      out(`broker (connection handling): ${o.fuzz} cases in-process + ${r.cases} over TCP, ${refused} refused with a hub event, ${secs(t)}`);
    } finally { await fb.close(); }
  }

  if (o.only.includes('client-fuzz') && o.clientFuzz > 0) {
    const t = Date.now();
    const r = await clientFuzzRun(o.seed, o.clientFuzz);
    total += r.cases;
    for (const f of r.failures) failures.push(`client-fuzz: seed ${o.seed} ${f}`);
    if (r.memory.after > r.memory.baseline + 8) failures.push(`client-fuzz: board memory ${r.memory.after} vars, baseline ${r.memory.baseline}`);
    out(`client (simulator, scripted peer): ${r.cases} cases, ${r.errorsSeen} error events, memory ${r.memory.baseline} -> ${r.memory.after} vars, ${secs(t)}`);
  }

  if (o.only.includes('client-faults') && o.disconnects > 0) {
    const t = Date.now();
    const r = await clientFaultRun(o.disconnects, o.seed, (s) => out(`  client-faults: ${s}`));
    for (const dir of ['up', 'down'] as const) {
      const d = r[dir];
      if (d.missing.length) failures.push(`client-faults ${dir}: lost ${JSON.stringify(d.missing)}`);
      if (d.qos2Twice.length) failures.push(`client-faults ${dir}: QoS 2 twice ${JSON.stringify(d.qos2Twice)}`);
      if (d.outOfOrder.length) failures.push(`client-faults ${dir}: out of order ${JSON.stringify(d.outOfOrder)}`);
    }
    if (r.uncaught.length) failures.push(`client-faults: Uncaught ${r.uncaught.join(' | ')}`);
    if (r.memory.after > r.memory.baseline + MEMORY_SLACK) failures.push(`client-faults: board memory ${r.memory.after} vars, baseline ${r.memory.baseline}`);
    out(`client faults: ${r.disconnects} disconnects, up ${r.up.received}/${r.up.sent}, down ${r.down.received}/${r.down.sent} messages, memory ${r.memory.baseline} -> ${r.memory.after} vars, ${secs(t)}`);
  }

  if (o.only.includes('kill9') && o.kills > 0) {
    const t = Date.now();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-k9-'));
    try {
      const r = await kill9Run(dir, o.kills, o.seed, (s) => out(`  kill9: ${s}`));
      if (r.missing.length) failures.push(`kill9: acknowledged but lost ${JSON.stringify(r.missing)}`);
      if (r.qos2Twice.length) failures.push(`kill9: QoS 2 delivered twice ${JSON.stringify(r.qos2Twice)}`);
      out(`broker kill -9: ${r.kills} kills, ${r.published} published, ${r.acknowledged} acknowledged, ${r.received} delivered, ${r.duplicatesQos1} QoS 1 duplicates (allowed), ${secs(t)}`);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  }

  out(`soak: ${total} fuzz cases in all, ${failures.length} failures, seed ${o.seed}, ${secs(t0)}`);
  for (const f of failures.slice(0, 50)) out(`FAIL ${f}`);
  return failures.length ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => { process.stderr.write(`soak: ${err?.stack ?? err}\n`); process.exit(2); });
