// `npm run flash -- --out <file>`: the code espruino-tools would send, checked
// without a device: it holds the module and the app byte for byte, it parses,
// and run on a simulated ESP32 (Storage writes, then load(".bootcde") as at
// boot) it brings the telemetry app up against the real host broker.
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

  /** The Storage writes in the generated code, replayed on a simulated board: the .bootcde it would hold. */
  const bootCode = (out: string, board = 'esp32') => {
    const b = createBoard({ board });
    try {
      b.eval(fs.readFileSync(out, 'utf8').replace(/load\("\.bootcde"\)\s*$/, ''));
      return b.eval('require("Storage").read(".bootcde")') as string;
    } finally { b.destroy(); }
  };

  for (const board of ['esp32', 'esp8266']) {
    it(`--board ${board} --out: the code holds Modules.addCached("mqtt-client") with the dist module, CONFIG and the app, and parses`, async () => {
      const out = path.join(tmp, `${board}.js`);
      const r = await runTool('tools/flash.ts', ['--board', board, '--out', out, '--id', 'dev-7', '--host', '192.168.1.10', '--mqtt-port', '1884'], 60000,
        { WIFI_SSID: 'lab-net', WIFI_PASSWORD: 'pw-from-env' });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /contains your Wi-Fi\/MQTT credentials/);
      const text = fs.readFileSync(out, 'utf8');
      acorn.parse(text, { ecmaVersion: 2020 });
      assert.match(text, /^require\("Storage"\)\.write\("\.bootcde",/);
      assert.match(text, /load\("\.bootcde"\)\s*$/);
      const code = bootCode(out);
      acorn.parse(code, { ecmaVersion: 2020 });
      assert.ok(code.startsWith('Modules.addCached("mqtt-client",function(){'), code.slice(0, 80));
      assert.ok(code.includes(fs.readFileSync(bundleFile(board, 'mqtt-client'), 'utf8').trim()), 'the module, byte for byte');
      assert.ok(code.includes(fs.readFileSync(bundleFile(board, 'telemetry'), 'utf8').trim()), 'the app, byte for byte');
      const cfg = JSON.parse(/var CONFIG=(\{.*?\});\n/.exec(code)![1]);
      assert.deepEqual(cfg, { id: 'dev-7', host: '192.168.1.10', port: 1884, wifi: { ssid: 'lab-net', password: 'pw-from-env' } });
      assert.ok(code.indexOf('var CONFIG=') > code.indexOf('Modules.addCached') && code.indexOf('var CONFIG=') < code.indexOf('devices/'));
    });
  }

  it('the generated code, run on a simulated ESP32 as at boot, brings Wi-Fi and the telemetry app up against the host broker', async () => {
    const hub = await startLocalHub({});
    const board = createBoard({ board: 'esp32' });
    try {
      const out = path.join(tmp, 'run.js');
      const cfg = path.join(tmp, 'cfg.json');
      fs.writeFileSync(cfg, JSON.stringify({ id: 'flashed-1', interval: 200, wifi: { ssid: 'lab', password: 'x' } }));
      const r = await runTool('tools/flash.ts', ['--board', 'esp32', '--out', out, '--config', cfg, '--host', '127.0.0.1', '--mqtt-port', String(hub.port)]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      // Espruino's load(file) runs a Storage file; the simulator has no load(), so it is given here.
      board.eval('var load = function (f) { (0, eval)(require("Storage").read(f)); };');
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
