// Measures a client's RAM in a real Espruino interpreter (ESPRUINO_BIN):
// process.memory().usage (which runs a GC first) above the empty runtime, the
// client connected to a broker on 127.0.0.1. Two ways to load the module, as
// boards get code:
//   - 'flash': written to Storage (a first run in the same folder), then
//     require()d: functions keep their code in flash, as on a flashed board;
//   - 'console': typed at the console as Modules.addCached(name, text), as pasting
//     into the IDE does: the code text is in RAM (the RAM path).
// The same harness measures Espruino's own MQTT module (EspruinoDocs
// modules/MQTT.js) through its own API, for a baseline from the same run. The
// board script's own functions are all created before the "empty" reading, so
// only the module and the client are counted.
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { EspruinoSession, runEspruino, startEspruino } from '../../../boards/espruino-bin';
import { storageWrites } from '../../../tools/image';

export interface MemoryPhase { phase: string; usage: number; total: number; delta: number }

export interface MemoryOptions {
  /** The minified module text. */
  source: string;
  /** Broker port on 127.0.0.1. */
  port: number;
  bin?: string;
  pretokenise?: boolean;
  /**
   * 'flash': the module is a Storage file, require()d (a flashed board); 'console': the module
   * text is typed at the console as Modules.addCached("mqtt-client", "<text>") (the Espruino IDE's
   * way: the RAM path); 'file': the app file holds it as a function (espruino-tools' way to RAM,
   * see composeApp). Default 'console'.
   */
  upload?: 'console' | 'file' | 'flash';
  /** Whose API the module has: ours (default) or Espruino's MQTT module (measured up to connected). */
  api?: 'ours' | 'espruino';
  publishes?: number;
  reconnects?: number;
  timeoutMs?: number;
  /** Extra client options (JS source, after the fixed ones). */
  extra?: string;
}

export interface MemoryResult { phases: MemoryPhase[]; lines: string[]; failures: string[]; error?: string }

/** A TCP relay to the broker; cut() drops every link through it, as lost Wi-Fi would. */
export function relay(target: number): Promise<{ port: number; cut(): void; close(): void }> {
  const pairs = new Set<net.Socket[]>();
  const server = net.createServer((a) => {
    const b = net.connect(target, '127.0.0.1');
    const pair = [a, b];
    pairs.add(pair);
    a.pipe(b);
    b.pipe(a);
    const done = () => { a.destroy(); b.destroy(); pairs.delete(pair); };
    a.on('error', done).on('close', done);
    b.on('error', done).on('close', done);
  });
  const cutAll = () => { for (const p of pairs) p.forEach((s) => s.destroy()); pairs.clear(); };
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: (server.address() as net.AddressInfo).port,
    cut: cutAll,
    close: () => { cutAll(); server.close(); },
  })));
}

/** A JS string literal of ASCII only: a control char or DEL typed at the console would edit the line. */
export function jsString(s: string): string {
  return '"' + s.replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' || c === '\\' ? '\\' + c : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'))) + '"';
}

/**
 * Types a module at the console as Modules.addCached(name, text), the text in pieces
 * appended to one string (needs a global `src`) so that the console line never holds
 * the whole text next to it: a 1600-var build cannot hold it twice. Each piece waits
 * for the one before to be taken: typed all at once they overflow the interpreter's
 * input queue and arrive garbled. Then runs `then`.
 */
export async function typeModule(s: EspruinoSession, name: string, source: string, then: string): Promise<void> {
  const step = 200;
  s.send('echo(0);src=""');
  for (let i = 0, k = 0; i < source.length; i += step, k++) {
    s.send(`src+=${jsString(source.slice(i, i + step))};console.log("@K${k}")`);
    await s.waitFor(new RegExp(`^@K${k}$`), 10000);
  }
  s.send(`Modules.addCached(${JSON.stringify(name)}, src);src=0;${then}`);
}

/** The phases each API's script reaches. */
export const PHASES = {
  ours: ['empty', 'loaded', 'created', 'connected', 'published10', 'published', 'reconnected2', 'reconnected'],
  espruino: ['empty', 'loaded', 'created', 'connected'],
};

/**
 * The board script for Espruino's MQTT module: require("MQTT").create(server, options),
 * its 'connected' event; measured up to connected (it does not call publishes back).
 */
export function espruinoModuleScript(port: number): string {
  return `
var c, mod, phase = 0;
function out(p) { var m = process.memory(); console.log("@M " + p + " " + m.usage + " " + m.total); }
function later(f) { setTimeout(f, 30); }
function onErr(e) { console.log("@E " + (e && e.message || e)); }
function onConnect() { if (phase == 1) { phase = 2; later(connected); } }
function connected() { out("connected"); c.disconnect(); later(quit); }
function create() { c = mod.create("127.0.0.1", { port: ${port}, client_id: "mem", keep_alive: 60 }); later(created); }
function created() { out("created"); c.on("error", onErr); c.on("connected", onConnect); phase = 1; c.connect(); }
function loaded() { out("loaded"); later(create); }
function go() { later(function () { mod = require("mqtt-client"); later(loaded); }); }
setInterval(function () {}, 1000);
later(function () { out("empty"); console.log("@READY"); });
`;
}

/** The board script: plain ES5, every function created at load so none is counted in a phase. */
export function memoryScript(port: number, publishes: number, reconnects: number, extra: string): string {
  return `
var c, n = 0, up = 0, phase = 0, mod, src, net = require("net");
function out(p) { var m = process.memory(); console.log("@M " + p + " " + m.usage + " " + m.total); }
function later(f) { setTimeout(f, 30); }
function onErr(e) { if (phase < 3) console.log("@E " + (e && e.message)); }
function onPub(err) { if (err) console.log("@E publish " + err.message); n++; if (n == 10) return later(early); pub(); }
function early() { out("published10"); pub(); }
function pub() {
  if (n < ${publishes}) return c.publish("mem/q1", "reading " + n, { qos: 1 }, onPub);
  phase = 3; n = 0; later(published);
}
function published() { out("published"); console.log("@CUT"); }
function onConnect() {
  up++;
  if (phase == 1) { phase = 2; return later(connected); }
  if (++n == 2) return later(twice);
  if (n < ${reconnects}) return console.log("@CUT");
  later(reconnected);
}
function twice() { out("reconnected2"); console.log("@CUT"); }
function connected() { out("connected"); pub(); }
function reconnected() { out("reconnected"); c.end(); later(quit); }
function create() {
  c = mod.create({ net: net, host: "127.0.0.1", port: ${port}, clientId: "mem", keepalive: 60, minBackoff: 10, maxBackoff: 40${extra ? ', ' + extra : ''} });
  later(created);
}
function created() { out("created"); c.on("error", onErr); c.on("connect", onConnect); phase = 1; c.connect(); }
function loaded() { out("loaded"); later(create); }
function go() { later(function () { mod = require("mqtt-client"); later(loaded); }); }
setInterval(function () {}, 1000);
later(function () { out("empty"); console.log("@READY"); });
`;
}

/**
 * Runs the scenario; phases: empty, loaded, created, connected, published10 (after 10
 * QoS 1 publishes), published (after all), reconnected2 (after 2 links cut and
 * re-established by the client), reconnected (after all). `publishes` >= 10, `reconnects` >= 3.
 */
export async function measureMemory(o: MemoryOptions): Promise<MemoryResult> {
  const publishes = o.publishes ?? 100;
  const reconnects = o.reconnects ?? 20;
  const api = o.api ?? 'ours';
  const link = await relay(o.port);
  const upload = o.upload ?? 'console';
  const viaFile = upload === 'file';
  // 'file': the module is in the app file; 'flash': in Storage; go() is called once the empty reading is taken.
  let script = api === 'espruino' ? espruinoModuleScript(link.port) : memoryScript(link.port, publishes, reconnects, o.extra ?? '');
  const dir = upload === 'flash' ? fs.mkdtempSync(path.join(os.tmpdir(), 'espruino-mem-')) : undefined;
  try {
    if (dir) {
      const w = await runEspruino({ bin: o.bin, dir, script: storageWrites([{ name: 'mqtt-client', data: o.source }]) + 'quit();', timeoutMs: 60000 });
      if (!w.ok) return { phases: [], lines: w.lines, failures: w.failures, error: `writing the module to Storage failed: ${w.lines.slice(-3).join(' | ')}` };
    }
    const s = startEspruino({
      bin: o.bin,
      dir,
      modules: viaFile ? { 'mqtt-client': o.source } : {},
      script,
      pretokenise: o.pretokenise,
      timeoutMs: o.timeoutMs ?? 120000,
      onLine: (l) => {
        if (l.includes('@READY')) {
          if (upload !== 'console') return s.send('go()');
          typeModule(s, 'mqtt-client', o.source, 'go()').catch((e) => s.lines.push(`@E typing the module: ${e.message}`));
        }
        if (l.includes('@CUT')) setTimeout(() => link.cut(), 20);
      },
    });
    script = '';
    const r = await s.done;
    const phases: MemoryPhase[] = [];
    // With the module in the file, the empty reading already holds it: take the empty runtime from a run without it.
    let base = viaFile ? await emptyUsage(o.bin, link.port, o.pretokenise) : NaN;
    for (const l of r.lines) {
      const m = /@M (\w+) (\d+) (\d+)/.exec(l);
      if (!m) continue;
      if (m[1] === 'empty' && !viaFile) base = +m[2];
      phases.push({ phase: m[1], usage: +m[2], total: +m[3], delta: +m[2] - base });
    }
    const errs = r.lines.filter((l) => l.includes('@E '));
    const missing = PHASES[api].filter((w) => !phases.some((p) => p.phase === w));
    const error = r.failures.length ? r.failures.join(' | ') : errs.length ? errs.join(' | ')
      : missing.length ? `phases not reached: ${missing.join(', ')}${r.timedOut ? ' (timed out)' : ''}; last lines: ${r.lines.slice(-6).join(' | ')}` : undefined;
    return { phases, lines: r.lines, failures: r.failures, error };
  } finally {
    link.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The 'empty' reading of the same board script with no module cached. */
async function emptyUsage(bin: string | undefined, port: number, pretokenise?: boolean): Promise<number> {
  const s = startEspruino({ bin, script: memoryScript(port, 0, 0, ''), pretokenise, timeoutMs: 20000, onLine: (l) => { if (l.includes('@READY')) s.send('quit()'); } });
  const r = await s.done;
  const m = r.lines.map((l) => /@M empty (\d+)/.exec(l)).find(Boolean);
  return m ? +m[1] : NaN;
}

/** The interpreter's var count: ~1600 means ESP8266-sized. */
export async function interpreterTotal(bin: string): Promise<number> {
  const r = await runEspruino({ bin, script: 'console.log("@T " + process.memory().total); quit();', timeoutMs: 10000 });
  const m = r.lines.map((l) => /@T (\d+)/.exec(l)).find(Boolean);
  if (!m) throw new Error(`no memory total from ${bin}: ${r.lines.join(' | ')}`);
  return +m[1];
}

/** The phase's delta above the empty runtime, or NaN. */
export const delta = (r: MemoryResult, phase: string) => r.phases.find((p) => p.phase === phase)?.delta ?? NaN;
