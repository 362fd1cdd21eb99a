import { strict as assert } from 'assert';
import { createBoard, Board } from '../../boards/sim';
import { sleep, until } from './peer';

describe('sim: the board context has what Espruino has and nothing more', () => {
  let board: Board;
  afterEach(() => board?.destroy());

  const missing = ['RangeError', 'EvalError', 'URIError', 'Buffer', 'Map', 'Set', 'WeakMap', 'WeakSet', 'Symbol', 'TextEncoder', 'TextDecoder', 'Proxy',
    'Reflect', 'BigInt', 'queueMicrotask', 'setImmediate', 'structuredClone', 'global', 'window', 'Intl'];
  for (const name of missing) {
    it(`has no ${name}`, () => {
      board = createBoard({ board: 'esp32' });
      assert.equal(board.eval(`typeof ${name}`), 'undefined');
      assert.throws(() => board.eval(`${name}.prototype`), /ReferenceError/);
    });
  }

  const missingProps = ['Array.from', 'ArrayBuffer.isView', 'Number.isInteger', 'Math.trunc', 'Math.imul', 'Object.freeze',
    'Promise.prototype.finally', 'ArrayBuffer.prototype.slice'];
  for (const p of missingProps) {
    it(`has no ${p}`, () => {
      board = createBoard({ board: 'esp8266' });
      assert.equal(board.eval(`typeof ${p}`), 'undefined');
    });
  }

  it('a bundle using a missing global fails like on the board', () => {
    board = createBoard({ board: 'esp32' });
    board.addModule('bad', 'exports.m = new Map();');
    assert.throws(() => board.eval('require("bad")'), /ReferenceError: Map is not defined/);
    board.addModule('bad2', 'exports.x = Array.from([1]);');
    assert.throws(() => board.eval('require("bad2")'), /TypeError/);
  });

  it('process is only the Espruino one', () => {
    board = createBoard({ board: 'esp32' });
    assert.deepEqual([...board.eval('Object.keys(process).sort()')], ['env', 'memory', 'version']);
    assert.equal(board.eval('typeof process.exit'), 'undefined');
    assert.equal(board.eval('typeof process.memory().usage'), 'number');
    assert.equal(board.eval('process.memory().total'), 16383);
  });

  it('keeps what the works column lists', () => {
    board = createBoard({ board: 'esp8266' });
    const ok = board.eval(`
      class A { constructor() { this.v = 1; } get g() { return this.v + 1; } static s() { return 3; } }
      class B extends A {}
      var u = new Uint8Array(4); u.set([1, 2], 1);
      var dv = new DataView(u.buffer);
      [new B().g, B.s(), \`t\${1}\`, [1, 2].includes(2), 'ab'.padStart(3, '0'), u.subarray(1, 3).join(), dv.getUint8(1),
       btoa('\\x00\\xff'), atob('AP8=').charCodeAt(1), Object.entries({ a: 1 }).length, globalThis === this,
       typeof Promise.all, null ?? 5, 0b11 + 0o7, String.fromCharCode.apply(null, [65, 66])].join('|')`);
    assert.equal(ok, '2|3|t1|true|0ab|1,2|1|AP8=|255|1|true|function|5|10|AB');
  });

  it('has Espruino globals: E, getTime, Modules, timers, console', async () => {
    board = createBoard({ board: 'esp32' });
    assert.equal(board.eval('E.toString(new Uint8Array([104, 105]))'), 'hi');
    assert.equal(board.eval('E.toString(104, [105, 33])'), 'hi!');
    assert.equal(board.eval('E.toString({ data: "ab", count: 2 })'), 'abab');
    assert.equal(board.eval('E.toUint8Array("\\x00\\xff") instanceof Uint8Array'), true);
    assert.deepEqual([...board.eval('E.toUint8Array("\\x00\\xff")')], [0, 255]);
    assert.equal(typeof board.eval('E.getTemperature()'), 'number');
    const t = board.eval('getTime()');
    assert.ok(Math.abs(t - Date.now() / 1000) < 5, 'getTime() is seconds');
    board.eval('var n = 0; var iv = setInterval(function (a) { n += a; if (n >= 3) clearInterval(iv); }, 1, 1);');
    await until('the interval to run 3 times', () => board.eval('n') === 3);
    board.eval('console.log("x", 1, { a: [1] })');
    assert.deepEqual(board.output, ['x 1 {"a":[1]}']);
  });

  it('objects from board modules are of the board realm', () => {
    board = createBoard({ board: 'esp32' });
    assert.equal(board.eval('E.toUint8Array("a").constructor === Uint8Array'), true);
    assert.equal(board.eval('require("net").connect.constructor === Function'), true);
    assert.equal(board.eval('Object.getPrototypeOf(process.memory()) === Object.prototype'), true);
  });

  it('has Espruino quirks: no e.name, TypeError is not an Error, InternalError', () => {
    board = createBoard({ board: 'esp32' });
    assert.equal(board.eval('new Error("x").name'), undefined);
    assert.equal(board.eval('new TypeError("x") instanceof Error'), false);
    assert.equal(board.eval('String(new TypeError("x"))'), 'TypeError: x');
    assert.equal(board.eval('String(new Error())'), 'Error');
    assert.equal(board.eval('String(new InternalError("i")) + (new InternalError("i") instanceof Error)'), 'InternalError: ifalse');
  });

  it('every object has on/emit; emit runs the listeners later, and they show as "#on<event>" properties', async () => {
    board = createBoard({ board: 'esp32' });
    board.eval('var o = { a: 1 }, got = []; o.on("ev", function (a, b) { got.push(a + b); }); o.prependListener("ev", function () { got.push(0); });');
    assert.equal(board.eval('o.emit("ev", 1, 2); got.length'), 0, 'not synchronously');
    await until('the listeners', () => board.eval('got.length') === 2);
    assert.deepEqual([...board.eval('got')], [0, 3]);
    assert.deepEqual([...board.eval('Object.keys(o)')], ['a', '#onev']);
    board.eval('o.removeAllListeners("ev")');
    assert.deepEqual([...board.eval('Object.keys(o)')], ['a']);
  });

  it('clearTimeout(undefined) throws; clearTimeout() clears every timer', async () => {
    board = createBoard({ board: 'esp32' });
    assert.throws(() => board.eval('clearTimeout(undefined)'), /Error: clearTimeout\(undefined\) not allowed\. Use clearTimeout\(\) instead/);
    assert.throws(() => board.eval('var t; clearInterval(t)'), /clearInterval\(undefined\) not allowed/);
    board.eval('clearTimeout(null); clearTimeout(0); clearTimeout(12345);');
    board.eval('var fired = 0; setTimeout(function () { fired++; }, 5); setInterval(function () { fired++; }, 5); clearTimeout();');
    await sleep(30);
    assert.equal(board.eval('fired'), 0);
  });

  it('strings are bytes on ESP builds and unicode on Linux', () => {
    board = createBoard({ board: 'esp8266' });
    assert.equal(board.eval('"é".length'), 2);
    board.destroy();
    board = createBoard({ board: 'linux' });
    assert.equal(board.eval('"é".length'), 1);
  });

  it('require gives only the board modules of the profile', () => {
    board = createBoard({ board: 'esp8266' });
    assert.equal(board.eval('typeof require("net").connect'), 'function');
    assert.equal(board.eval('typeof require("Wifi").connect'), 'function');
    assert.equal(board.eval('typeof require("Storage").write'), 'function');
    assert.throws(() => board.eval('require("tls")'), /Module "tls" not found/);
    assert.throws(() => board.eval('require("fs")'), /Module "fs" not found/);
    board.destroy();
    board = createBoard({ board: 'esp32' });
    assert.equal(board.eval('typeof require("tls").connect'), 'function');
    board.destroy();
    board = createBoard({ board: 'linux' });
    assert.throws(() => board.eval('require("Wifi")'), /not found/);
    assert.throws(() => board.eval('require("Storage")'), /not found/);
  });

  it('addModule: require evaluates the module once, CommonJS-shaped', () => {
    board = createBoard({ board: 'esp32' });
    board.addModule('counter', 'var n = 0; n++; exports.n = n; exports.self = module.exports === exports; globalThis.loads = (globalThis.loads || 0) + 1;');
    assert.equal(board.eval('require("counter").n + require("counter").n'), 2);
    assert.equal(board.eval('require("counter").self'), true);
    assert.equal(board.eval('loads'), 1);
    board.addModule('replaced', 'module.exports = function () { return 7; };');
    assert.equal(board.eval('require("replaced")()'), 7);
    board.addModule('broken', 'exports.x = ;');
    assert.throws(() => board.eval('require("broken")'), /SyntaxError: broken/);
  });

  it('Wifi.connect succeeds', async () => {
    board = createBoard({ board: 'esp32' });
    board.eval('var w = null; require("Wifi").connect("ssid", { password: "pw" }, function (err) { w = err; });');
    await until('the Wi-Fi callback', () => board.eval('w === null && require("Wifi").getStatus().station === "connected"'));
  });

  describe('Uncaught', () => {
    it('an exception in a timer is recorded as an Uncaught line and the board goes on', async () => {
      const lines: string[] = [];
      board = createBoard({ board: 'esp32', log: (l) => lines.push(l) });
      board.eval('var after = 0; setTimeout(function () { throw new Error("boom"); }, 1); setTimeout(function () { after = 1; }, 20);');
      await until('the second timer', () => board.eval('after') === 1);
      assert.deepEqual(board.errors, ['Uncaught Error: boom']);
      assert.deepEqual(lines, ['Uncaught Error: boom']);
    });

    it('a thrown string and an engine TypeError are reported too', async () => {
      board = createBoard({ board: 'esp32' });
      board.eval('setTimeout(function () { throw "str"; }, 1); setTimeout(function () { undefined.x; }, 2);');
      await until('two errors', () => board.errors.length === 2);
      assert.equal(board.errors[0], 'Uncaught str');
      assert.match(board.errors[1], /^Uncaught TypeError: /);
    });

    it('eval throws a Node Error with the board text and records nothing', () => {
      board = createBoard({ board: 'esp32' });
      assert.throws(() => board.eval('throw new TypeError("r")'), (e: Error) => e instanceof Error && e.message === 'TypeError: r');
      assert.deepEqual(board.errors, []);
    });

    it('destroy stops timers', async () => {
      board = createBoard({ board: 'esp32' });
      board.eval('var ticks = 0; setInterval(function () { ticks++; }, 1);');
      await until('a tick', () => board.eval('ticks') > 0);
      board.destroy();
      const t = board.context.ticks;
      await sleep(30);
      assert.equal(board.context.ticks, t);
    });
  });
});
