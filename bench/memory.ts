// Benchmark 2: firmware memory on the real interpreter. Needs ESPRUINO_BIN (an
// Espruino build for Linux); skipped with a message otherwise. The client bundle
// runs in it against our broker on 127.0.0.1, through a TCP relay this process
// controls so that it can cut the link for the reconnect phase.
// process.memory().usage (after its GC) is read: empty, module loaded, connected,
// after 100 QoS 1 publishes, after 50 link losses and automatic reconnects.
import { spawn, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { startPeer } from './brokers/peers';
import { ROOT } from './lib/proc';
import { ratio } from './lib/stats';
import { fmtRatio } from './lib/table';
import type { BenchOptions, BenchResult } from './lib/types';

/** Espruino's MQTT module against a local mosquitto (espruino-facts.md), vars above an empty runtime. */
export const MEMORY_BASELINE = {
  esp8266: { loaded: 602, connected: 777, tinyConnected: 393 },
  esp32: { loaded: 548, connected: 718, tinyConnected: 367 },
  provenance: 'EspruinoDocs modules/MQTT.js on Espruino 2v29 Linux builds sized like an ESP8266 (1600 vars) / ESP32 (16383 vars), process.memory().usage after GC, against mosquitto; /work/shared/reference/espruino-facts.md',
};

export interface MemoryConfig { bundles: string[]; publishes: number; reconnects: number; timeoutMs: number }

export function memoryConfig(quick: boolean): MemoryConfig {
  return { bundles: ['esp8266', 'esp32'], publishes: 100, reconnects: quick ? 20 : 50, timeoutMs: 120000 };
}

/**
 * The script file the interpreter starts with: as little as possible, since on
 * an ESP8266-sized build (1600 vars) every var of harness is one the module
 * cannot use while it loads. It prints "@M {...}" readings (process.memory()
 * collects garbage first) and keeps a timer so the interpreter stays up.
 */
export const BOOT_SCRIPT = 'var S,c,o=function(p,x){var m=process.memory();console.log("@M "+JSON.stringify({phase:p,usage:m.usage,total:m.total,x:x}))};\n'
  + 'setInterval(function(){},1000);setTimeout(function(){o("empty");console.log("@READY")},20);\n';

/**
 * Console lines that load the module: its source appended to S in 256-byte
 * pieces, then Modules.addCached(name, S). One 5 KB line (or a script file
 * carrying the source) runs an ESP8266-sized build out of memory, since the
 * line and the string it holds both live while the module evaluates.
 */
export function upload(source: string): string {
  const lines = ['echo(0);S="";\n'];
  for (let i = 0; i < source.length; i += 256) lines.push(`S+=${JSON.stringify(source.slice(i, i + 256))};\n`);
  lines.push('Modules.addCached("mqtt-client",S);S=undefined;setTimeout(function(){require("mqtt-client");o("loaded");console.log("@LOADED")},20);\n');
  return lines.join('');
}

/**
 * The test itself, sent once the module is loaded (and read as "harness" before
 * it starts, so its own cost can be taken out): connect, 100 QoS 1 publishes one
 * after another, then reconnects; "@CUT" asks the bench to cut the link.
 */
export function harness(port: number, publishes: number, reconnects: number): string {
  return [
    'var n=0,ph=1;',
    'var P=function(i){if(i==' + publishes + '){ph=2;return setTimeout(function(){o("published");console.log("@CUT")},50)}'
      + 'c.publish("bench/mem","reading "+i,{qos:1},function(e){if(e)console.log("@E publish "+e.message);P(i+1)})};',
    'var G=function(){c=require("mqtt-client").create({net:require("net"),host:"127.0.0.1",port:' + port + ',clientId:"mem-bench",keepalive:60,minBackoff:10,maxBackoff:50});'
      + 'c.on("error",function(e){if(ph!=2)console.log("@E "+e.message)});'
      + 'c.on("connect",function(){n++;if(ph==1)return setTimeout(function(){o("connected");P(0)},50);'
      + 'if(n-1<' + reconnects + ')return console.log("@CUT");ph=3;setTimeout(function(){o("reconnected",n-1);c.end();setTimeout(function(){quit()},50)},50)});'
      + 'c.connect()};',
    'setTimeout(function(){o("harness");G()},20);',
  ].join('\n') + '\n';
}

/** A TCP relay to the broker; cut() drops every link through it, as a lost Wi-Fi would. */
function relay(target: number): Promise<{ port: number; cut(): void; close(): void }> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((a) => {
    const b = net.connect(target, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [a, b];
    pairs.add(pair);
    a.pipe(b);
    b.pipe(a);
    const done = () => { a.destroy(); b.destroy(); pairs.delete(pair); };
    a.on('error', done).on('close', done);
    b.on('error', done).on('close', done);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: (server.address() as net.AddressInfo).port,
    cut: () => { for (const [a, b] of pairs) { a.destroy(); b.destroy(); } pairs.clear(); },
    close: () => { for (const [a, b] of pairs) { a.destroy(); b.destroy(); } server.close(); },
  })));
}

export interface MemoryRun { bundle: string; phases: { phase: string; usage: number; total: number; delta: number; x?: number }[]; output: string; error?: string }

/** Runs one script in the interpreter with stdin a FIFO opened read/write (it reads console input from it). */
async function runInterpreter(bin: string, script: string, onLine: (l: string, send: (s: string) => void) => void, timeoutMs: number): Promise<{ output: string; error?: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-espruino-'));
  const file = path.join(dir, 'bench.js');
  fs.writeFileSync(file, script);
  const fifo = path.join(dir, 'stdin');
  execFileSync('mkfifo', [fifo]);
  const fd = fs.openSync(fifo, 'r+');
  let output = '';
  try {
    return await new Promise((resolve) => {
      const p = spawn(bin, [file], { stdio: [fd, 'pipe', 'pipe'] });
      let pending = '';
      const take = (d: Buffer) => {
        output += d;
        pending += d;
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const l of lines) onLine(l.replace(/\r$/, ''), (s) => fs.writeSync(fd, s));
      };
      p.stdout!.on('data', take);
      p.stderr!.on('data', take);
      const t = setTimeout(() => { p.kill('SIGKILL'); }, timeoutMs);
      p.on('exit', (code, sig) => {
        clearTimeout(t);
        const bad = /Uncaught|MEMORY/.exec(output);
        const error = bad ? `interpreter printed "${bad[0]}": ${output.slice(Math.max(0, bad.index - 100), bad.index + 200).trim()}`
          : sig ? `killed (${sig}) after ${timeoutMs} ms` : code ? `exit code ${code}` : undefined;
        resolve({ output, error });
      });
    });
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function runMemoryBench(opts: BenchOptions, cfg = memoryConfig(opts.quick)): Promise<BenchResult> {
  const bin = process.env.ESPRUINO_BIN;
  if (!bin) return { name: 'memory', skipped: 'ESPRUINO_BIN is not set (path to an Espruino interpreter built for Linux)', tables: [], data: {} };
  if (!fs.existsSync(bin)) return { name: 'memory', skipped: `ESPRUINO_BIN=${bin} does not exist`, tables: [], data: {} };
  const broker = await startPeer('ours');
  const link = await relay(broker.port);
  const runs: MemoryRun[] = [];
  try {
    for (const bundle of cfg.bundles) {
      const modulePath = path.join(ROOT, 'dist', bundle, 'mqtt-client.js');
      if (!fs.existsSync(modulePath)) { runs.push({ bundle, phases: [], output: '', error: `${modulePath} missing: run npm run build` }); continue; }
      opts.log(`memory: ${bundle} bundle in ${path.basename(bin)}`);
      const phases: MemoryRun['phases'] = [];
      const lines = upload(fs.readFileSync(modulePath, 'latin1'));
      let base = NaN;
      let harnessCost = 0;
      const r = await runInterpreter(bin, BOOT_SCRIPT, (line, send) => {
        if (line.includes('@READY')) send(lines);
        if (line.includes('@LOADED')) send(harness(link.port, cfg.publishes, cfg.reconnects));
        if (line.includes('@CUT')) setTimeout(() => link.cut(), 20);
        const m = /@M (\{.*\})/.exec(line);
        if (m) {
          const j = JSON.parse(m[1]);
          // Deltas above the empty runtime, without the harness's own code (read between "loaded" and "harness").
          if (j.phase === 'empty') base = j.usage;
          if (j.phase === 'harness') harnessCost = j.usage - phases[phases.length - 1].usage;
          phases.push({ phase: j.phase, usage: j.usage, total: j.total, delta: j.usage - base - harnessCost, x: j.x });
        }
      }, cfg.timeoutMs);
      const errs = r.output.split('\n').filter((l) => l.includes('@E '));
      const want = ['empty', 'loaded', 'harness', 'connected', 'published', 'reconnected'];
      const missing = want.filter((w) => !phases.some((p) => p.phase === w));
      runs.push({ bundle, phases, output: r.output.slice(-3000),
        error: r.error ?? (errs.length ? errs.join('; ') : missing.length ? `phases not reached: ${missing.join(', ')}` : undefined) });
    }
  } finally {
    link.close();
    await broker.stop();
  }
  const total = runs.flatMap((r) => r.phases).find((p) => p.total)?.total ?? 0;
  const sized = total <= 2000 ? 'esp8266' : 'esp32';
  const base = MEMORY_BASELINE[sized];
  const rows = [];
  for (const r of runs) {
    for (const p of r.phases) {
      const b = p.phase === 'loaded' ? base.loaded : p.phase === 'connected' ? base.connected : NaN;
      rows.push([r.bundle, p.phase + (p.x !== undefined && p.x !== null ? ` (${p.x})` : ''), p.usage, p.delta, Number.isFinite(b) ? b : '', fmtRatio(ratio(p.delta, b))]);
    }
    if (r.error) rows.push([r.bundle, 'ERROR', '', '', '', r.error.slice(0, 100)]);
  }
  return {
    name: 'memory',
    tables: [{
      title: `firmware memory in ${bin} (${total} vars; vars used, process.memory().usage after GC)`,
      header: ['bundle', 'phase', 'usage', 'delta vs empty', 'Espruino MQTT delta', 'ours/baseline'],
      rows,
      notes: [
        `baseline: ${sized}-sized figures (module loaded +${base.loaded}, connected +${base.connected}; tinyMQTT connected +${base.tinyConnected}); ${MEMORY_BASELINE.provenance}`,
        total > 2000 && total !== 16383 ? `this interpreter has ${total} vars: the ESP32-sized baseline is an approximation` : '',
        'delta = usage minus the empty runtime minus the test harness\'s own code (read as "harness", before the client is created)',
        `published = after ${cfg.publishes} QoS 1 publishes, each acknowledged; reconnected = after ${cfg.reconnects} links cut by a relay and re-established by the client's own reconnect`,
        'deterministic: one run per bundle (rounds do not apply); broker: our host broker on 127.0.0.1',
      ].filter(Boolean),
    }],
    data: { interpreter: bin, total, baseline: MEMORY_BASELINE, runs },
  };
}
