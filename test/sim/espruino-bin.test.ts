// The real Espruino interpreter for Linux (ESPRUINO_BIN): the runner itself, and
// the same scenarios run in the simulator and in the interpreter, which must print
// the same lines. Skipped, with a message saying how to enable them, without ESPRUINO_BIN.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import { composeApp, ESPRUINO_BIN_SKIP_MESSAGE, espruinoBin, failureLines, outputLines, runEspruino, startEspruino } from '../../boards/espruino-bin';
import { createBoard } from '../../boards/sim';
import { findBundles } from '../../tools/check-bundles';
import { Peer, startPeer } from './peer';

describe('espruino-bin: output handling (no interpreter needed)', () => {
  it('cleans escape codes, prompts and carriage returns; finds Uncaught and MEMORY lines', () => {
    const lines = outputLines('>\x1b[Jhi 2\r\n\rUncaught Error: x\r\n    at :1:20\r\n>ERROR: Out of Memory! (MEMORY)\n\n');
    assert.deepEqual(lines, ['hi 2', 'Uncaught Error: x', '    at :1:20', 'ERROR: Out of Memory! (MEMORY)']);
    assert.deepEqual(failureLines(lines), ['Uncaught Error: x', 'ERROR: Out of Memory! (MEMORY)']);
  });

  it('caches modules (as functions, like espruino-tools) before the app', () => {
    assert.equal(composeApp({ m: 'exports.a = 1;' }, 'require("m");'), 'Modules.addCached("m", function () {exports.a = 1;\n});\nrequire("m");\n');
    assert.match(composeApp({}, 'x', true), /^E\.setFlags\(\{ pretokenise: 1 \}\);\n/);
  });

  it('ESPRUINO_BIN unset means skip; set to a missing file is an error', () => {
    assert.equal(espruinoBin({}), null);
    assert.throws(() => espruinoBin({ ESPRUINO_BIN: '/nonexistent/espruino' }), /ESPRUINO_BIN=\/nonexistent\/espruino: no executable/);
  });
});

/** Runs a script on a simulated Linux board until quit(); returns what it printed. */
async function runInSim(script: string): Promise<string[]> {
  const lines: string[] = [];
  const board = createBoard({ board: 'linux', log: (l) => lines.push(l) });
  const timer = setTimeout(() => board.destroy(), 10000);
  board.eval(script);
  await board.stopped;
  clearTimeout(timer);
  return lines;
}

// Scripts that print only strings, so the two can be compared line by line. Each ends with quit().
const scenarios: [string, (port: number) => string][] = [
  ['missing and present globals', () => `
    console.log([typeof Map, typeof Set, typeof WeakMap, typeof Symbol, typeof Buffer, typeof TextEncoder, typeof Array.from,
      typeof ArrayBuffer.isView, typeof Number.isInteger, typeof Math.trunc, typeof Math.imul, typeof Object.freeze,
      typeof Promise.prototype.finally, typeof RangeError, typeof InternalError, typeof E.toString, typeof getTime,
      typeof process.memory, typeof require("net").connect].join());
    quit();`],
  ['errors', () => `
    console.log(String(new TypeError("x")), String(new Error()), String(new Error("")), new Error("q").name,
      new TypeError("t") instanceof Error, String(new InternalError("i")));
    try { clearTimeout(undefined); } catch (e) { console.log(e.message); }
    try { null.x; } catch (e) { console.log(e instanceof TypeError || e instanceof Error); }
    quit();`],
  ['bytes and strings', () => `
    console.log(E.toString(104, [105, 33]), E.toString({ data: "ab", count: 2 }), E.toString("x", new Uint8Array([65])));
    console.log(E.toUint8Array("\\x00\\xff").join(), btoa("\\x00\\xffab"), atob("AP9hYg==").length, "é".length);
    console.log(String(new Uint8Array([1, 2])), String([3, 4]));
    quit();`],
  ['events are queued; timers in order; clearTimeout() clears all', () => `
    var o = {};
    o.on("e", function (a) { console.log("second", a); });
    o.prependListener("e", function (a) { console.log("first", a); });
    o.emit("e", 1);
    console.log("after emit", Object.keys(o).join());
    setTimeout(function () { console.log("t20"); }, 20);
    setTimeout(function () { console.log("t10"); }, 10);
    setTimeout(function () { clearTimeout(); console.log("cleared"); setTimeout(function () { quit(); }, 10); }, 40);
    setTimeout(function () { console.log("never"); }, 60);`],
  ['a socket: connect, drain, binary chunks of at most 536, Uint8Array as text, end, close', (port) => `
    var n = 0, max = 0, bad = 0;
    var s = require("net").connect({ host: "127.0.0.1", port: ${port} }, function (x) { console.log("connect", x === s); });
    s.on("drain", function () { if (!n) console.log("drain"); });
    s.on("data", function (d) {
      if (typeof d !== "string") bad++;
      for (var i = 0; i < d.length; i++) if (d.charCodeAt(i) !== ((n + i) * 7) % 256) bad++;
      n += d.length; if (d.length > max) max = d.length;
      if (n === 3000) { console.log("got", n, max <= 536, bad); s.write(new Uint8Array([1, 2])); s.write("\\xff"); s.end(); }
    });
    s.on("end", function () { console.log("end"); });
    s.on("close", function (e) {
      console.log("close", e);
      try { s.write("x"); } catch (err) { console.log(String(err)); }
      setTimeout(function () { quit(); }, 200);
    });`],
];

// ESPRUINO_BIN_BOARD names the profile the interpreter was sized like (default linux):
// its dist/<board> bundles are loaded; the sim comparisons need the Linux build.
const binBoard = process.env.ESPRUINO_BIN_BOARD || 'linux';

describe('espruino-bin: the real interpreter (ESPRUINO_BIN)', function () {
  const bin = espruinoBin();
  let peer: Peer;
  const fromBoards: Buffer[] = [];
  before(async function () {
    if (!bin) {
      console.log(`      ${ESPRUINO_BIN_SKIP_MESSAGE}`);
      this.skip();
    }
    peer = await startPeer((s) => {
      const b = Buffer.alloc(3000);
      for (let i = 0; i < b.length; i++) b[i] = (i * 7) % 256;
      s.write(b);
      const got: Buffer[] = [];
      s.on('data', (d) => got.push(d));
      s.on('end', () => { fromBoards.push(Buffer.concat(got)); s.end(); });
    });
  });
  after(async () => { await peer?.close(); });

  it('runs a script to quit() and reports its lines', async () => {
    const r = await runEspruino({ script: 'console.log("hi", 1 + 1); setTimeout(function () { quit(); }, 10);' });
    assert.deepEqual(r.lines, ['hi 2']);
    assert.equal(r.ok, true);
  });

  it('an Uncaught in a callback is a failure even though the interpreter goes on', async () => {
    const r = await runEspruino({ script: 'setTimeout(function () { throw new Error("x"); }, 5); setTimeout(function () { console.log("on"); quit(); }, 30);' });
    assert.deepEqual(r.failures, ['Uncaught Error: x']);
    assert.ok(r.lines.includes('on'));
    assert.equal(r.ok, false);
  });

  it('is killed after its timeout', async () => {
    const r = await runEspruino({ script: 'setInterval(function () {}, 100);', timeoutMs: 500 });
    assert.equal(r.timedOut, true);
    assert.equal(r.ok, false);
  });

  it('takes console input through the stdin FIFO', async () => {
    const s = startEspruino({ script: 'setInterval(function () {}, 1000);' });
    s.send('console.log("in" + (6 * 7))');
    await s.waitFor(/^in42$/);
    const r = await s.stop();
    assert.equal(r.timedOut, false);
  });

  for (const [name, script] of binBoard === 'linux' ? scenarios : []) {
    it(`prints the same as the simulator: ${name}`, async () => {
      const real = await runEspruino({ script: script(peer.port) });
      assert.deepEqual(real.failures, []);
      const sim = await runInSim(script(peer.port));
      assert.deepEqual(sim, real.lines);
    });
  }

  it('both sent the Uint8Array as text and the binary string as a byte', function () {
    if (binBoard !== 'linux') this.skip();
    assert.ok(fromBoards.length >= 2);
    for (const b of fromBoards) assert.deepEqual([...b], [...Buffer.from('1,2'), 0xff]);
  });

  const bundles = fs.existsSync('firmware/index.ts') ? findBundles([`dist/${binBoard}`]).filter((f) => f.endsWith('mqtt-client.js')) : [];
  for (const file of bundles) {
    it(`${file} loads in the interpreter without Uncaught or MEMORY`, async () => {
      const r = await runEspruino({
        pretokenise: binBoard !== 'linux',
        modules: { 'mqtt-client': fs.readFileSync(file, 'utf8') },
        script: 'var m = require("mqtt-client"); console.log("exports", Object.keys(m).length > 0); quit();',
      });
      assert.deepEqual(r.failures, []);
      assert.deepEqual(r.lines, ['exports true']);
    });
  }
});
