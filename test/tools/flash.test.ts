// `npm run flash -- --out <file>`: the board image it would send, checked
// without a device: Storage writes of the module ("mqtt-client") and the boot
// code (".bootcde": CONFIG + the app), byte for byte; it parses; and run on a
// simulated ESP32 (the writes, then load(".bootcde") as at boot) it brings the
// telemetry app up against the real host broker.
import { strict as assert } from 'assert';
import * as acorn from 'acorn';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { ESPRUINO_BIN_SKIP_MESSAGE, espruinoBin } from '../../boards/espruino-bin';
import { createBoard } from '../../boards/sim';
import { ensureBuilt, bundleFile } from '../../tools/hil/build';
import { startLocalHub } from '../../tools/hil/hub';
import { startTelnetEspruino, telnetPortBusy } from './fixtures/espruino-telnet';
import { startSimConsole } from './fixtures/sim-console';
import { Run, runTool } from './run';

describe('npm run flash (tools/flash.ts)', function () {
  this.timeout(90000);
  let tmp: string;
  before(() => {
    ensureBuilt(['esp32', 'esp8266']);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flash-test-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** The Storage writes in the image, replayed on a simulated board: the files it would hold. */
  const storageFiles = (out: string, board = 'esp32') => {
    const b = createBoard({ board });
    try {
      b.eval(fs.readFileSync(out, 'utf8').replace(/load\("\.bootcde"\);\s*$/, ''));
      return { boot: b.eval('require("Storage").read(".bootcde")') as string, module: b.eval('require("Storage").read("mqtt-client")') as string };
    } finally { b.destroy(); }
  };

  for (const board of ['esp32', 'esp8266']) {
    it(`--board ${board} --out: the image writes the dist module as Storage "mqtt-client" and CONFIG + the app as ".bootcde", parses, and is private (0600)`, async () => {
      const out = path.join(tmp, `${board}.js`);
      const r = await runTool('tools/flash.ts', ['--board', board, '--out', out, '--id', 'dev-7', '--host', '192.168.1.10', '--mqtt-port', '1884'], 60000,
        { WIFI_SSID: 'lab-net', WIFI_PASSWORD: 'pw-from-env' });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /contains your Wi-Fi\/MQTT credentials/);
      assert.doesNotMatch(r.stderr, /Wi-Fi/, 'Wi-Fi settings given: no warning');
      assert.match(r.stdout, new RegExp(`fits ${board}: Storage \\d+ of \\d+ bytes; RAM about \\d+ vars of code`));
      assert.equal(fs.statSync(out).mode & 0o777, 0o600);
      const text = fs.readFileSync(out, 'utf8');
      acorn.parse(text, { ecmaVersion: 2020 });
      assert.match(text, /^require\("Storage"\)\.write\("mqtt-client",/);
      assert.match(text, /load\("\.bootcde"\);\s*$/);
      const files = storageFiles(out, board);
      assert.equal(files.module, fs.readFileSync(bundleFile(board, 'mqtt-client'), 'utf8'), 'the module, byte for byte');
      acorn.parse(files.boot, { ecmaVersion: 2020 });
      assert.ok(files.boot.includes(fs.readFileSync(bundleFile(board, 'telemetry'), 'utf8').trim()), 'the app, byte for byte');
      const cfg = JSON.parse(/^var CONFIG=(\{.*?\});\n/.exec(files.boot)![1]);
      assert.deepEqual(cfg, { id: 'dev-7', host: '192.168.1.10', port: 1884, wifi: { ssid: 'lab-net', password: 'pw-from-env' } });
    });
  }

  it('settings are ASCII in the image: a non-ASCII Wi-Fi name reaches an ESP board as its UTF-8 bytes', async () => {
    const out = path.join(tmp, 'utf8.js');
    const r = await runTool('tools/flash.ts', ['--board', 'esp8266', '--out', out, '--id', 'd', '--host', 'h'], 60000, { WIFI_SSID: 'café', WIFI_PASSWORD: 'x' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(fs.readFileSync(out, 'utf8'), /^[\t\n\r\x20-\x7e]*$/);
    const b = createBoard({ board: 'esp8266' });
    try {
      b.eval(fs.readFileSync(out, 'utf8').replace(/load\("\.bootcde"\);\s*$/, ''));
      b.eval('var CONFIG; (0, eval)(require("Storage").read(".bootcde").split("\\n")[0]);');
      assert.equal(Buffer.from(b.eval('CONFIG.wifi.ssid') as string, 'latin1').toString('utf8'), 'café');
    } finally { b.destroy(); }
  });

  it('the image, run on a simulated ESP32 (Storage writes, then load() runs .bootcde, which require()s the module from Storage), brings Wi-Fi and the telemetry app up against the host broker', async () => {
    const hub = await startLocalHub({});
    const board = createBoard({ board: 'esp32' });
    try {
      const out = path.join(tmp, 'run.js');
      const cfg = path.join(tmp, 'cfg.json');
      fs.writeFileSync(cfg, JSON.stringify({ id: 'flashed-1', interval: 200, wifi: { ssid: 'lab', password: 'x' } }));
      const r = await runTool('tools/flash.ts', ['--board', 'esp32', '--out', out, '--config', cfg, '--host', '127.0.0.1', '--mqtt-port', String(hub.port)]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      board.eval(fs.readFileSync(out, 'utf8'));
      const m = await hub.control.waitForMessage('devices/flashed-1/telemetry', { timeoutMs: 10000 });
      assert.equal(JSON.parse(m.payload).id, 'flashed-1');
      assert.deepEqual(board.errors, []);
    } finally {
      board.destroy();
      await hub.close();
    }
  });

  it('refuses to run without a device id, or without --port / --out, saying what is missing', async () => {
    const noId = await runTool('tools/flash.ts', ['--out', path.join(tmp, 'x.js'), '--host', 'h'], 60000, { DEVICE_ID: '' });
    assert.notEqual(noId.code, 0);
    assert.match(noId.stderr, /CONFIG\.id: expected the device id/);
    const nowhere = await runTool('tools/flash.ts', ['--id', 'a', '--host', 'h']);
    assert.notEqual(nowhere.code, 0);
    assert.match(nowhere.stderr, /give --port <serial device> to upload, or --out <file>/);
  });

  it('warns when a board with Wi-Fi gets no Wi-Fi settings, and still writes the image', async () => {
    const out = path.join(tmp, 'nowifi.js');
    const r = await runTool('tools/flash.ts', ['--board', 'esp8266', '--out', out, '--id', 'd', '--host', 'h'], 60000, { WIFI_SSID: '', WIFI_PASSWORD: '' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /warning: no Wi-Fi settings given \(WIFI_SSID \/ WIFI_PASSWORD, or "wifi" in --config\)/);
    assert.ok(fs.existsSync(out));
  });
});

/** Where the upload went wrong: non-zero, the message on stderr, and never "done". */
function assertFailed(r: Run, re: RegExp): void {
  assert.notEqual(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, re, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /\bdone\b/);
}

/** The arguments of a flash to `port` (no Wi-Fi: none of these boards has it up). */
const flashArgs = (board: string, port: string, brokerPort: number, id: string) =>
  ['--board', board, '--port', port, '--id', id, '--host', '127.0.0.1', '--mqtt-port', String(brokerPort), '--interval', '200', '--watch', '1'];

/** Upload progress lines for each file, ending at 100%, and the verification of each. */
function assertProgressAndVerified(stdout: string, board: string): void {
  const module = fs.readFileSync(bundleFile(board, 'mqtt-client'), 'utf8');
  assert.match(stdout, new RegExp(`^  mqtt-client: 1024/${module.length} B \\(20%\\)$`, 'm'));
  assert.match(stdout, new RegExp(`^  mqtt-client: ${module.length}/${module.length} B \\(100%\\)$`, 'm'));
  assert.match(stdout, /^ {2}\.bootcde: (\d+)\/\1 B \(100%\)$/m);
  const crc = '0x' + zlib.crc32(Buffer.from(module, 'latin1')).toString(16).padStart(8, '0');
  assert.match(stdout, new RegExp(`^  mqtt-client: ${module.length} B, CRC-32 ${crc}: matches the image$`, 'm'));
  assert.match(stdout, /^ {2}\.bootcde: \d+ B, CRC-32 0x[0-9a-f]{8}: matches the image$/m);
  assert.ok(stdout.indexOf('(100%)') < stdout.indexOf('matches the image'), 'verified after the upload');
}

describe('npm run flash --port: the upload tells the truth', function () {
  this.timeout(60000);
  before(() => ensureBuilt(['esp32', 'esp8266']));

  it('a serial port that does not exist: non-zero, names the port and the reason, never "done"', async () => {
    const r = await runTool('tools/flash.ts', ['--port', '/dev/ttyUSB-no-such-board', '--id', 'd', '--host', 'h']);
    assertFailed(r, /flash: upload to \/dev\/ttyUSB-no-such-board failed \(open\): cannot open \/dev\/ttyUSB-no-such-board: no such device/);
  });

  it('tcp:// to a closed port: non-zero, connection refused, never "done"', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const r = await runTool('tools/flash.ts', ['--port', `tcp://127.0.0.1:${port}`, '--id', 'd', '--host', 'h']);
    assertFailed(r, new RegExp(`upload to tcp://127.0.0.1:${port} failed \\(open\\): cannot connect to tcp://127.0.0.1:${port}: connection refused`));
  });

  it('a port that opens but where no Espruino answers: non-zero, says so, never "done"', async () => {
    const silent = net.createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const r = await runTool('tools/flash.ts', ['--port', `tcp://127.0.0.1:${port}`, '--id', 'd', '--host', 'h']);
      assertFailed(r, new RegExp(`failed \\(connect\\): tcp://127.0.0.1:${port} is open, but no Espruino console answered`));
      assert.doesNotMatch(r.stdout, /uploading/);
    } finally {
      silent.close();
    }
  });

  it('to a simulated ESP32 behind a TCP console: progress, each file read back and verified, booted, "done", and the app publishes to the host broker', async () => {
    const hub = await startLocalHub({});
    const sim = await startSimConsole({ board: 'esp32' });
    try {
      const cfg = path.join(os.tmpdir(), `flash-sim-${process.pid}.json`);
      fs.writeFileSync(cfg, JSON.stringify({ wifi: { ssid: 'lab', password: 'x' } }), { mode: 0o600 });
      const r = await runTool('tools/flash.ts', [...flashArgs('esp32', sim.url, hub.port, 'sim-flashed'), '--config', cfg]);
      fs.rmSync(cfg);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assertProgressAndVerified(r.stdout, 'esp32');
      assert.match(r.stdout, /^done: the app is saved in esp32's flash \(\.bootcde, run at every boot\), verified byte for byte, and booted \(no error in its first 1 s\)/m);
      assert.equal(Buffer.from(sim.board.flash!.read('mqtt-client')!).toString('latin1'), fs.readFileSync(bundleFile('esp32', 'mqtt-client'), 'utf8'));
      const m = await hub.control.waitForMessage('devices/sim-flashed/telemetry', { timeoutMs: 10000 });
      assert.equal(JSON.parse(m.payload).id, 'sim-flashed');
      assert.deepEqual(sim.board.errors, []);
    } finally {
      await sim.close();
      await hub.close();
    }
  });

  it('a board that loses the last byte of "mqtt-client": verification fails naming the file and both lengths and CRC-32s; not booted, never "done"', async () => {
    const sim = await startSimConsole({ board: 'esp32', truncate: 'mqtt-client' });
    try {
      const r = await runTool('tools/flash.ts', flashArgs('esp32', sim.url, 1, 'bad-flash'));
      const module = fs.readFileSync(bundleFile('esp32', 'mqtt-client'), 'utf8');
      const hex = (s: string) => '0x' + zlib.crc32(Buffer.from(s, 'latin1')).toString(16).padStart(8, '0');
      assertFailed(r, new RegExp(`failed \\(verify\\): verification failed: Storage file "mqtt-client" on the board: ${module.length - 1} bytes, CRC-32 ${hex(module.slice(0, -1))}; ` +
        `the image: ${module.length} bytes, CRC-32 ${hex(module)}\\. The board was not restarted`));
      assert.match(r.stdout, /^ {2}mqtt-client: \d+\/\d+ B \(100%\)$/m, 'the upload itself went through');
      assert.ok(!sim.received.some((l) => l.startsWith('load(')), 'not booted');
    } finally {
      await sim.close();
    }
  });

  it('an app that dies when the board boots it: non-zero, shows what the board printed, never "done"', async () => {
    const sim = await startSimConsole({ board: 'esp32' });
    try {
      sim.board.eval('var realRequire = require; require = function (n) { if (n === "mqtt-client") throw new Error("Out of Memory!"); return realRequire(n); };');
      const r = await runTool('tools/flash.ts', flashArgs('esp32', sim.url, 1, 'dies'));
      assertFailed(r, /failed \(boot\): the app failed when the board booted it: Uncaught Error: Out of Memory!/);
      assert.match(r.stdout, /matches the image/);
      assert.match(r.stdout, /^ {2}board> Uncaught Error: Out of Memory!/m);
    } finally {
      await sim.close();
    }
  });

  it('a link that drops during the upload: non-zero, names the file and the piece it was writing, never "done"', async () => {
    const sim = await startSimConsole({ board: 'esp32', dropAfterWrites: 3 });
    try {
      const r = await runTool('tools/flash.ts', flashArgs('esp32', sim.url, 1, 'cut'));
      assertFailed(r, /failed \(upload\): the connection to tcp:\/\/127\.0\.0\.1:\d+ closed while waiting for the board's answer to the Storage\.write of "mqtt-client" characters 2048\.\.3072/);
      assert.match(r.stdout, /^ {2}mqtt-client: 2048\/\d+ B \(40%\)$/m);
    } finally {
      await sim.close();
    }
  });
});

describe('npm run flash --port to the real interpreter (ESPRUINO_BIN with its telnet console on 127.0.0.1:2323)', function () {
  this.timeout(180000);
  let bin: string;
  before(async function () {
    const b = espruinoBin();
    if (!b) {
      console.log(`      ${ESPRUINO_BIN_SKIP_MESSAGE}`);
      return this.skip();
    }
    bin = b;
    ensureBuilt(['esp32', 'esp8266']);
  });

  /** An interpreter with --telnet, or a skip when port 2323 is taken (the tests using it cannot run side by side). */
  async function telnetEspruino(ctx: Mocha.Context) {
    const busy = await telnetPortBusy();
    if (busy) {
      console.log(`      skipped: ${busy}`);
      return ctx.skip();
    }
    const esp = await startTelnetEspruino(bin);
    return { esp, board: esp.totalVars < 4000 ? 'esp8266' : 'esp32' };
  }

  it('uploads with progress, reads back and verifies each file, boots it, says "done", and the telemetry app publishes to the host broker', async function () {
    const { esp, board } = await telnetEspruino(this);
    const hub = await startLocalHub({});
    try {
      const r = await runTool('tools/flash.ts', flashArgs(board, esp.url, hub.port, 'telnet-flashed'), 150000);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^board: LINUX\w*, Espruino 2v\d+/m);
      assertProgressAndVerified(r.stdout, board);
      assert.match(r.stdout, /^done: the app is saved in \w+'s flash/m);
      assert.match(r.stderr, /warning: no Wi-Fi settings given/);
      const m = await hub.control.waitForMessage('devices/telnet-flashed/telemetry', { timeoutMs: 30000 });
      assert.equal(JSON.parse(m.payload).id, 'telnet-flashed');
    } finally {
      await hub.close();
      await esp.stop();
    }
  });

  it('an app that dies at boot (a preloaded .boot0 caches an "mqtt-client" that throws): non-zero, shows the board\'s error, never "done"', async function () {
    const { esp, board } = await telnetEspruino(this);
    try {
      await esp.preload(`require("Storage").write(".boot0", 'Modules.addCached("mqtt-client",function(){throw new Error("no room for the client");});')`);
      const r = await runTool('tools/flash.ts', flashArgs(board, esp.url, 1, 'dies'), 150000);
      assertFailed(r, /failed \(boot\): the app failed when the board booted it: Uncaught Error: no room for the client/);
      assert.match(r.stdout, /matches the image/);
    } finally {
      await esp.stop();
    }
  });

  it('a board whose Storage.write damages the last piece of a file: verification fails naming the file and both values, never "done"', async function () {
    const { esp, board } = await telnetEspruino(this);
    try {
      // Boot code that survives reset(): every write that ends a file replaces its last character.
      await esp.preload(`require("Storage").write(".boot0", 'var S=require("Storage"),w=S.write;S.write=function(n,d,o,s){if(n=="mqtt-client"&&o&&d.length<1024)d=d.slice(0,-1)+"#";return w.call(S,n,d,o,s);};')`);
      const r = await runTool('tools/flash.ts', flashArgs(board, esp.url, 1, 'damaged'), 150000);
      const module = fs.readFileSync(bundleFile(board, 'mqtt-client'), 'utf8');
      const hex = (s: string) => '0x' + zlib.crc32(Buffer.from(s, 'latin1')).toString(16).padStart(8, '0');
      assertFailed(r, new RegExp(`failed \\(verify\\): verification failed: Storage file "mqtt-client" on the board: ${module.length} bytes, CRC-32 ${hex(module.slice(0, -1) + '#')}; ` +
        `the image: ${module.length} bytes, CRC-32 ${hex(module)}`));
    } finally {
      await esp.stop();
    }
  });
});
