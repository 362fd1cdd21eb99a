// `npm run flash -- --board esp32 --port /dev/ttyUSB0`: uploads the built app to
// a real board with espruino-tools (the `espruino` npm package), as the board
// image of tools/image.ts: the mqtt-client module as the Storage file
// "mqtt-client" and `var CONFIG=...;` + dist/<board>/telemetry.js as ".bootcde",
// both run from flash at every boot. `--out <file>` writes the exact image it
// would send (no device needed); the HIL runner and the real-interpreter tests
// boot the same image. Serial setup and troubleshooting: docs/boards.md.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadBoard } from '../boards/profiles';
import { bundleFile, ensureBuilt, ROOT } from './hil/build';
import { asciiLiteral, imageFit, imageScript, StorageFile } from './image';

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

/**
 * The Storage files of a board running `app` (source text) on the client module:
 * "mqtt-client" (the module) and ".bootcde" (`var <name>=<settings>;` then the app).
 */
export function boardFiles(board: string, settingsName: string, settings: unknown, app: string): StorageFile[] {
  const profile = loadBoard(board);
  return [
    { name: 'mqtt-client', data: fs.readFileSync(bundleFile(board, 'mqtt-client'), 'utf8') },
    { name: '.bootcde', data: `var ${settingsName}=${asciiLiteral(settings, profile.unicode)};\n${app}\n` },
  ];
}

/** The telemetry app's image files: CONFIG, then the minified telemetry bundle. */
export function telemetryFiles(board: string, cfg: Record<string, unknown>): StorageFile[] {
  return boardFiles(board, 'CONFIG', cfg, fs.readFileSync(bundleFile(board, 'telemetry'), 'utf8'));
}

/** What espruino-tools needs to know about the board without asking it: the modules built into the firmware. */
function boardJson(board: string): object {
  const p = loadBoard(board);
  const builtin = ['net', 'http', 'crypto', 'neopixel'].concat(p.wifi ? ['Wifi'] : [], p.storage ? ['Storage', 'Flash'] : [], p.tls ? ['tls'] : []);
  // VERSION: Espruino 2v29 (Storage uploads need 1v96 or later); a connected board reports its own.
  return { info: { name: board.toUpperCase(), builtin_modules: builtin }, BOARD: board.toUpperCase(), VERSION: '2v29', VERSION_MAJOR: 2, VERSION_MINOR: 29 };
}

/** The image's size against the board: one line to show, or an error naming what does not fit. */
export function checkFit(board: string, files: StorageFile[]): string {
  const fit = imageFit(files, loadBoard(board));
  if (fit.problem) throw new Error(`the image does not fit one ${board}: ${fit.problem}. Raise nothing on the board: use a bigger board profile, or a smaller app`);
  return `fits ${board}: Storage ${fit.storage.need} of ${fit.storage.have} bytes; RAM about ${fit.ram.code} vars of code + ${fit.ram.runtime} runtime and state + ${fit.ram.margin} inbound margin of ${fit.ram.have}`;
}

export async function runFlash(o: FlashOptions, say: (line: string) => void = console.log): Promise<void> {
  if (!o.port && !o.out) throw new Error('give --port <serial device> to upload, or --out <file> to write the code only');
  const cfg = buildConfig(o);
  ensureBuilt([o.board], say);
  const files = telemetryFiles(o.board, cfg);
  say(`image: ${files.map((f) => `${f.name} ${f.data.length} B`).join(' + ')} (CONFIG for device "${cfg.id}"); ${checkFit(o.board, files)}`);
  const image = imageScript(files);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'espruino-flash-'));
  try {
    if (o.out) {
      // It holds credentials: readable by its owner only.
      fs.writeFileSync(o.out, image, { mode: 0o600 });
      fs.chmodSync(o.out, 0o600);
      say(`wrote ${o.out} (${image.length} B)${cfg.wifi || cfg.password ? ' - it contains your Wi-Fi/MQTT credentials: keep it out of the repository' : ''}`);
    }
    if (!o.port) return;
    const app = path.join(tmp, 'image.js');
    fs.writeFileSync(app, image, { mode: 0o600 });
    fs.writeFileSync(path.join(tmp, 'board.json'), JSON.stringify(boardJson(o.board)));
    const cli = path.join(path.dirname(require.resolve('espruino/package.json')), 'bin', 'espruino-cli.js');
    // The image is final: espruino-tools' minifier, pretokeniser and module loader stay out of it,
    // so the board runs the very bytes the simulator and the tests run.
    const args = [cli, '--board', path.join(tmp, 'board.json'), '--config', 'MODULE_MINIFICATION_LEVEL=', '--config', 'MINIFICATION_LEVEL=',
      '--config', 'PRETOKENISE=0', '--no-ble', '-p', o.port, '-b', String(o.baud), app];
    say(`uploading to ${o.port} at ${o.baud} baud`);
    const code = await new Promise<number | null>((resolve, reject) => {
      const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['inherit', 'pipe', 'pipe'] });
      const relay = (d: Buffer) => {
        for (const line of d.toString().split('\n')) if (line.trim() && !/NODE_TLS_REJECT|trace-warnings/.test(line)) say(`  ${line}`);
      };
      p.stdout.on('data', relay);
      p.stderr.on('data', relay);
      p.on('error', reject);
      p.on('close', resolve);
    });
    if (code !== 0) throw new Error(`espruino-tools exited with code ${code}`);
    say(`done: the app is saved in ${o.board}'s flash (.bootcde) and runs at every boot; watch it with: npx espruino -p ${o.port} -b ${o.baud}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const program = new Command('npm run flash --')
    .description('Upload the telemetry app (the mqtt-client module and your CONFIG + the app, as Storage files run from flash at every boot) to a board over a serial port with espruino-tools. See docs/boards.md.')
    .addOption(new Option('--board <name>', 'board profile').choices(['esp32', 'esp8266']).default('esp32'))
    .option('--port <device>', 'serial port of the board, e.g. /dev/ttyUSB0 (Linux), /dev/cu.usbserial-0001 (macOS), COM3 (Windows)')
    .addOption(new Option('--baud <n>', 'serial speed').argParser((v) => { const n = Number(v); if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a baud rate'); return n; }).default(115200))
    .option('--out <file>', 'write the exact image that would be sent to this file, mode 0600 (no device needed); with --port, both')
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
