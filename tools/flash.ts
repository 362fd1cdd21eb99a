// `npm run flash -- --board esp32 --port /dev/ttyUSB0`: uploads the built app to
// a real board with espruino-tools (the `espruino` npm package) and saves it in
// flash (Storage file .bootcde, run at every boot). What is sent: the
// mqtt-client module (espruino-tools inserts it as Modules.addCached, taken from
// dist/<board>/), the CONFIG object, and dist/<board>/telemetry.js.
// `--out <file>` writes the exact code it would send (no device needed).
// Serial setup and troubleshooting: docs/boards.md.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadBoard } from '../boards/profiles';
import { bundleFile, DIST, ensureBuilt, ROOT } from './hil/build';

export interface FlashOptions {
  board: string;
  port?: string;
  out?: string;
  baud: number;
  config?: string;
  id?: string;
  host?: string;
  mqttPort?: number;
  interval?: number;
}

/** The board's CONFIG: a JSON file of the user's, then environment, then flags (later wins). Never from the repository. */
export function buildConfig(o: FlashOptions, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const profile = loadBoard(o.board);
  let cfg: Record<string, any> = {};
  if (o.config) {
    try {
      cfg = JSON.parse(fs.readFileSync(o.config, 'utf8'));
    } catch (err: any) {
      throw new Error(`--config ${o.config}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { cause: err });
    }
    if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new Error(`--config ${o.config}: expected a JSON object`);
  }
  const set = (k: string, v: unknown) => { if (v !== undefined && v !== '') cfg[k] = v; };
  set('id', env.DEVICE_ID);
  set('host', env.MQTT_HOST);
  set('port', env.MQTT_PORT === undefined ? undefined : Number(env.MQTT_PORT));
  set('username', env.MQTT_USERNAME);
  set('password', env.MQTT_PASSWORD);
  if (profile.wifi && env[profile.wifi.ssidEnv]) cfg.wifi = { ssid: env[profile.wifi.ssidEnv], password: env[profile.wifi.passwordEnv] ?? '' };
  set('id', o.id);
  set('host', o.host);
  set('port', o.mqttPort);
  set('interval', o.interval);
  if (typeof cfg.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(cfg.id)) throw new Error(`CONFIG.id: expected the device id (letters, digits, . _ -), from --id, DEVICE_ID or --config; got ${JSON.stringify(cfg.id)}`);
  if (typeof cfg.host !== 'string' || !cfg.host) throw new Error('CONFIG.host: expected the broker address, from --host, MQTT_HOST or --config');
  if (cfg.port !== undefined && !(Number.isInteger(cfg.port) && cfg.port > 0 && cfg.port < 65536)) throw new Error(`CONFIG.port: expected 1..65535, got ${JSON.stringify(cfg.port)}`);
  if (cfg.wifi && !profile.wifi) throw new Error(`CONFIG.wifi: board ${o.board} has no Wi-Fi`);
  return cfg;
}

/** The app as espruino-tools gets it: CONFIG first, then the minified telemetry bundle. */
export function appSource(board: string, cfg: Record<string, unknown>): string {
  return `var CONFIG=${JSON.stringify(cfg)};\n${fs.readFileSync(bundleFile(board, 'telemetry'), 'utf8')}\n`;
}

/** What espruino-tools needs to know about the board without asking it: the modules built into the firmware. */
function boardJson(board: string): object {
  const p = loadBoard(board);
  const builtin = ['net', 'http', 'crypto', 'neopixel'].concat(p.wifi ? ['Wifi'] : [], p.storage ? ['Storage', 'Flash'] : [], p.tls ? ['tls'] : []);
  // VERSION: Espruino 2v29 (Storage uploads need 1v96 or later); a connected board reports its own.
  return { info: { name: board.toUpperCase(), builtin_modules: builtin }, BOARD: board.toUpperCase(), VERSION: '2v29', VERSION_MAJOR: 2, VERSION_MINOR: 29 };
}

export async function runFlash(o: FlashOptions, say: (line: string) => void = console.log): Promise<void> {
  if (!o.port && !o.out) throw new Error('give --port <serial device> to upload, or --out <file> to write the code only');
  const cfg = buildConfig(o);
  ensureBuilt([o.board], say);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'espruino-flash-'));
  try {
    const app = path.join(tmp, 'telemetry-app.js');
    fs.writeFileSync(app, appSource(o.board, cfg));
    fs.writeFileSync(path.join(tmp, 'board.json'), JSON.stringify(boardJson(o.board)));
    const cli = path.join(path.dirname(require.resolve('espruino/package.json')), 'bin', 'espruino-cli.js');
    const args = [cli, '--board', path.join(tmp, 'board.json'),
      // require("mqtt-client") is resolved from dist/<board>/ (a local directory, no download).
      '--config', `MODULE_URL=${path.join(DIST, o.board)}`, '--config', 'MODULE_EXTENSIONS=.js',
      // Already minified by terser for Espruino; the tools' ES5-era minifier and pretokeniser stay out of it,
      // so the board runs the very bytes the simulator and the tests run.
      '--config', 'MODULE_MINIFICATION_LEVEL=', '--config', 'MINIFICATION_LEVEL=', '--config', 'PRETOKENISE=0',
      // Saved as Storage file .bootcde: it runs at every boot, and once now (load).
      '--storage', '.bootcde:-', '--no-ble', app];
    if (o.out) args.push('-o', path.resolve(o.out));
    if (o.port) args.push('-p', o.port, '-b', String(o.baud));
    say(`${o.port ? `uploading to ${o.port} at ${o.baud} baud` : `writing ${o.out}`}: mqtt-client ${fs.statSync(bundleFile(o.board, 'mqtt-client')).size} B + telemetry ${fs.statSync(bundleFile(o.board, 'telemetry')).size} B + CONFIG for device "${cfg.id}" -> Storage .bootcde`);
    const code = await new Promise<number | null>((resolve, reject) => {
      const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['inherit', 'pipe', 'pipe'] });
      const relay = (d: Buffer) => {
        for (const line of d.toString().split('\n')) {
          // espruino-tools tries ".min.js" first and prints the miss as an error; it then finds ".js".
          if (line.trim() && !/ENOENT|errno|syscall|path: |code: |^\s*[{}]\s*$|NODE_TLS_REJECT|trace-warnings/.test(line)) say(`  ${line}`);
        }
      };
      p.stdout.on('data', relay);
      p.stderr.on('data', relay);
      p.on('error', reject);
      p.on('close', resolve);
    });
    if (code !== 0) throw new Error(`espruino-tools exited with code ${code}`);
    if (o.out) {
      const text = fs.readFileSync(o.out, 'utf8');
      if (!/Modules\.addCached\(\\?"mqtt-client\\?"/.test(text)) throw new Error(`${o.out}: espruino-tools did not insert the mqtt-client module (is ${bundleFile(o.board, 'mqtt-client')} there?)`);
      say(`wrote ${o.out} (${text.length} B)${cfg.wifi || cfg.password ? ' - it contains your Wi-Fi/MQTT credentials: keep it out of the repository' : ''}`);
    }
    if (o.port) say(`done: the app is saved in ${o.board}'s flash (.bootcde) and runs at every boot; watch it with: npx espruino -p ${o.port} -b ${o.baud}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const program = new Command('npm run flash --')
    .description('Upload the telemetry app (with the mqtt-client module and your CONFIG) to a board over a serial port with espruino-tools, saved to flash. See docs/boards.md.')
    .addOption(new Option('--board <name>', 'board profile').choices(['esp32', 'esp8266']).default('esp32'))
    .option('--port <device>', 'serial port of the board, e.g. /dev/ttyUSB0 (Linux), /dev/cu.usbserial-0001 (macOS), COM3 (Windows)')
    .addOption(new Option('--baud <n>', 'serial speed').argParser((v) => { const n = Number(v); if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a baud rate'); return n; }).default(115200))
    .option('--out <file>', 'write the exact code that would be sent to this file (no device needed); with --port, both')
    .option('--config <file>', 'JSON file with the board CONFIG (id, host, port, interval, buffer, keepalive, username, password, wifi) - keep it outside the repository')
    .option('--id <id>', 'device id (or DEVICE_ID)')
    .option('--host <addr>', 'broker address as the board sees it (or MQTT_HOST)')
    .addOption(new Option('--mqtt-port <n>', 'broker port (or MQTT_PORT; default 1883)').argParser((v) => Number(v)))
    .addOption(new Option('--interval <ms>', 'ms between readings').argParser((v) => Number(v)))
    .addHelpText('after', '\nEnvironment: DEVICE_ID, MQTT_HOST, MQTT_PORT, MQTT_USERNAME, MQTT_PASSWORD, WIFI_SSID, WIFI_PASSWORD.')
    .showHelpAfterError('(run with --help for usage)');
  program.parse(process.argv);
  await runFlash(program.opts() as FlashOptions);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`flash: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
