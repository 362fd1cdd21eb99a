// `npm run flash -- --out <file>`: the board image it would send, checked
// without a device: Storage writes of the module ("mqtt-client") and the boot
// code (".bootcde": CONFIG + the app), byte for byte; it parses; and run on a
// simulated ESP32 (the writes, then load(".bootcde") as at boot) it brings the
// telemetry app up against the real host broker.
import { strict as assert } from 'assert';
import * as acorn from 'acorn';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createBoard } from '../../boards/sim';
import { ensureBuilt, bundleFile } from '../../tools/hil/build';
import { startLocalHub } from '../../tools/hil/hub';
import { runTool } from './run';

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
});
