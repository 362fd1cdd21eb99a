// `npm run flash -- --board esp32 --port /dev/ttyUSB0`: uploads the built app to
// a real board as the board image of tools/image.ts: the mqtt-client module as the
// Storage file "mqtt-client" and `var CONFIG=...;` + dist/<board>/telemetry.js as
// ".bootcde", both run from flash at every boot. The upload (tools/upload/) goes
// through espruino-tools' port layer, shows progress, reads each file's length and
// CRC-32 back from the board, boots the app and watches it for a moment; it says
// "done" only when all of that worked, and otherwise exits non-zero saying what
// failed. `--out <file>` writes the exact image (no device needed); the HIL runner
// and the real-interpreter tests boot the same image. Serial setup and
// troubleshooting: docs/boards.md.
import * as fs from 'fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadBoard } from '../boards/profiles';
import { bundleFile, ensureBuilt } from './hil/build';
import { asciiLiteral, crcText, imageFit, imageScript, StorageFile } from './image';
import { UploadError, UploadEvent, uploadImage } from './upload';

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
  /** ms to listen to the board after boot (default 3000). */
  watchMs?: number;
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

/** The image's size against the board: one line to show, or an error naming what does not fit. */
export function checkFit(board: string, files: StorageFile[]): string {
  const fit = imageFit(files, loadBoard(board));
  if (fit.problem) throw new Error(`the image does not fit one ${board}: ${fit.problem}. Raise nothing on the board: use a bigger board profile, or a smaller app`);
  return `fits ${board}: Storage ${fit.storage.need} of ${fit.storage.have} bytes; RAM about ${fit.ram.code} vars of code + ${fit.ram.runtime} runtime and state + ${fit.ram.margin} inbound margin of ${fit.ram.have}`;
}

/** The warnings for a CONFIG that will not get the board online by itself. */
export function configWarnings(board: string, cfg: Record<string, unknown>): string[] {
  const profile = loadBoard(board);
  if (!profile.wifi || cfg.wifi) return [];
  return [`no Wi-Fi settings given (${profile.wifi.ssidEnv} / ${profile.wifi.passwordEnv}, or "wifi" in --config): the app will not bring Wi-Fi up, ` +
    `and reaches the broker only if the ${board} joins a network by itself (e.g. one saved with require("Wifi").save())`];
}

/** One line for the user per upload event (progress, verification, the board's own output), or null. */
export function describeEvent(ev: UploadEvent, o: { port: string; baud: number; board: string }): string | null {
  switch (ev.e) {
    case 'stage':
      return {
        open: `opening ${o.port}${o.port.startsWith('tcp://') ? '' : ` at ${o.baud} baud`}`,
        connect: 'connected; asking the board what it is',
        stop: 'stopping what the board runs (reset())',
        upload: 'uploading',
        verify: 'verifying: reading back each file\'s length and CRC-32',
        boot: 'booting .bootcde (load())',
      }[ev.stage];
    case 'board':
      return `board: ${ev.board}, Espruino ${ev.version}${ev.board.toLowerCase().startsWith(o.board) ? '' : ` (warning: the image is built for ${o.board})`}`;
    case 'progress':
      return `  ${ev.file}: ${ev.sent}/${ev.length} B (${Math.floor((100 * ev.sent) / ev.length)}%)`;
    case 'verified':
      return `  ${ev.file}: ${ev.length} B, CRC-32 ${crcText(ev.crc32)}: matches the image`;
    case 'console':
      return `  board> ${ev.line.length > 200 ? ev.line.slice(0, 200) + '...' : ev.line}`;
    default:
      return null;
  }
}

export async function runFlash(o: FlashOptions, say: (line: string) => void = console.log, warn: (line: string) => void = console.error): Promise<void> {
  if (!o.port && !o.out) throw new Error('give --port <serial device> to upload, or --out <file> to write the code only');
  const cfg = buildConfig(o);
  for (const w of configWarnings(o.board, cfg)) warn(`warning: ${w}`);
  ensureBuilt([o.board], say);
  const files = telemetryFiles(o.board, cfg);
  say(`image: ${files.map((f) => `${f.name} ${f.data.length} B`).join(' + ')} (CONFIG for device "${cfg.id}"); ${checkFit(o.board, files)}`);
  if (o.out) {
    const image = imageScript(files);
    // It holds credentials: readable by its owner only.
    fs.writeFileSync(o.out, image, { mode: 0o600 });
    fs.chmodSync(o.out, 0o600);
    say(`wrote ${o.out} (${image.length} B)${cfg.wifi || cfg.password ? ' - it contains your Wi-Fi/MQTT credentials: keep it out of the repository' : ''}`);
  }
  if (!o.port) return;
  const port = o.port;
  try {
    await uploadImage({
      port, baud: o.baud, files, watchMs: o.watchMs,
      onEvent: (ev) => { const line = describeEvent(ev, { port, baud: o.baud, board: o.board }); if (line) say(line); },
    });
  } catch (err: any) {
    throw new Error(err instanceof UploadError ? `upload to ${port} failed (${err.stage}): ${err.message}` : err.message, { cause: err });
  }
  const watched = (o.watchMs ?? 3000) / 1000;
  say(`done: the app is saved in ${o.board}'s flash (.bootcde, run at every boot), verified byte for byte, and booted${watched ? ` (no error in its first ${watched} s)` : ''}; ` +
    `watch it with: npx espruino -p ${port}${port.startsWith('tcp://') ? '' : ` -b ${o.baud}`}`);
}

async function main(): Promise<void> {
  const program = new Command('npm run flash --')
    .description('Upload the telemetry app (the mqtt-client module and your CONFIG + the app, as Storage files run from flash at every boot) to a board ' +
      'over a serial port with espruino-tools, with progress; then read each file\'s length and CRC-32 back from the board, boot the app and watch it. ' +
      'Prints "done" only when all of that worked; otherwise exits non-zero saying what failed. See docs/boards.md.')
    .addOption(new Option('--board <name>', 'board profile').choices(['esp32', 'esp8266']).default('esp32'))
    .option('--port <device>', 'serial port of the board, e.g. /dev/ttyUSB0 (Linux), /dev/cu.usbserial-0001 (macOS), COM3 (Windows); or tcp://host:port for a telnet console')
    .addOption(new Option('--baud <n>', 'serial speed').argParser((v) => { const n = Number(v); if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a baud rate'); return n; }).default(115200))
    .option('--out <file>', 'write the image (the console commands that write its Storage files and boot it) to this file, mode 0600 (no device needed); with --port, both')
    .option('--config <file>', 'JSON file with the board CONFIG (id, host, port, interval, buffer, keepalive, username, password, wifi) - keep it outside the repository')
    .option('--id <id>', 'device id (or DEVICE_ID)')
    .option('--host <addr>', 'broker address as the board sees it (or MQTT_HOST)')
    .addOption(new Option('--mqtt-port <n>', 'broker port (or MQTT_PORT; default 1883)').argParser((v) => Number(v)))
    .addOption(new Option('--interval <ms>', 'ms between readings').argParser((v) => Number(v)))
    .addOption(new Option('--watch <s>', 'seconds to show what the board prints after it boots the app (an app that dies there fails the flash)')
      .argParser((v) => { const n = Number(v); if (!(n >= 0)) throw new InvalidArgumentError('expected seconds'); return n; }).default(3))
    .addHelpText('after', [
      '',
      'Environment: DEVICE_ID, MQTT_HOST, MQTT_PORT, MQTT_USERNAME, MQTT_PASSWORD, WIFI_SSID, WIFI_PASSWORD',
      '(a board with Wi-Fi and no Wi-Fi settings gets a warning).',
      '',
      'With --port, the steps: open the port; connect (ask the board what it is); stop its app (reset());',
      'upload (each Storage.write acknowledged, with progress); verify (each file\'s length and E.CRC32);',
      'boot (load(".bootcde"), then --watch seconds of its output).',
      'Exit status 0 after "done"; 1 when a step fails, with "flash: upload to <port> failed (<step>): <why>".',
    ].join('\n'))
    .showHelpAfterError('(run with --help for usage)');
  program.parse(process.argv);
  const opts = program.opts();
  await runFlash({ ...opts, watchMs: opts.watch * 1000 } as FlashOptions);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`flash: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
