// `npm start`: the main job on a fresh clone. Builds the firmware if dist/ is
// missing or stale, starts the host broker (in this process, in memory, control
// API and console on), starts simulated boards running dist/<board>/telemetry.js,
// prints the console's address (and opens it with --open), and shows the
// telemetry flowing until Ctrl-C (or --duration seconds).
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import mqtt, { MqttClient } from 'mqtt';
import type { Board } from '../boards/sim';
import { ensureBuilt, ensureConsoleBuilt } from './hil/build';
import { LocalHub, startLocalHub } from './hil/hub';
import { startTelemetryBoard } from './hil/sim-app';

export interface StartOptions {
  boards: number;
  board: string;
  broker?: string;
  /** Credentials for --broker (also possible in its URL). */
  username?: string;
  password?: string;
  duration?: number;
  interval: number;
  /** Port of the console (and control API); default 8081, any free port when that one is taken. */
  consolePort: number;
  /** Open the console in a browser. */
  open?: boolean;
}

/** A broker to use instead of starting one, with the credentials the boards and the monitor log in with. */
export interface BrokerTarget { host: string; port: number; username?: string; password?: string }

interface BoardStats {
  status: string;
  messages: number;
  last?: { seq: number; temp: number; boot: number; free: number };
  lastAt?: number;
  errors: number;
}

const intArg = (min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number ${min}..${max}`);
  return n;
};

/** The URL as it may be shown: the password (if any) as ***. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

/**
 * mqtt://[user[:password]@]host[:port] -> host, port (default 1883) and credentials
 * (percent-encoded in the URL), or an error that shows the URL without its password.
 */
export function parseBrokerUrl(url: string): BrokerTarget {
  const bad = (why: string) => new InvalidArgumentError(`--broker: ${why}, got ${JSON.stringify(redactUrl(url))}`);
  let u: URL;
  try { u = new URL(url); } catch { throw bad('expected mqtt://[user[:password]@]host[:port]'); }
  if (u.protocol !== 'mqtt:' || !u.hostname || (u.pathname !== '' && u.pathname !== '/') || u.search || u.hash) throw bad('expected mqtt://[user[:password]@]host[:port]');
  const port = u.port ? Number(u.port) : 1883;
  if (port < 1 || port > 65535) throw bad(`port must be 1..65535`);
  let username: string;
  let password: string;
  try { username = decodeURIComponent(u.username); password = decodeURIComponent(u.password); } catch { throw bad('bad %-encoding in the user name or password'); }
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port, ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** --broker and the credential flags together; --username/--password only make sense with --broker. */
export function brokerTarget(o: Pick<StartOptions, 'broker' | 'username' | 'password'>): BrokerTarget | undefined {
  if (!o.broker) {
    if (o.username !== undefined || o.password !== undefined) throw new InvalidArgumentError('--username/--password: only with --broker (the hub npm start runs itself lets anyone in)');
    return undefined;
  }
  const t = parseBrokerUrl(o.broker);
  if (o.username !== undefined) {
    if (t.username !== undefined) throw new InvalidArgumentError('--username: the --broker URL has a user name already; give it once');
    t.username = o.username;
  }
  if (o.password !== undefined) {
    if (t.password !== undefined) throw new InvalidArgumentError('--password: the --broker URL has a password already; give it once');
    t.password = o.password;
  }
  if (t.password !== undefined && t.username === undefined) throw new InvalidArgumentError('--password: needs a user name (in the --broker URL or --username) [MQTT-3.1.2-22]');
  return t;
}

function table(ids: string[], stats: Map<string, BoardStats>, started: number, where: string): string[] {
  const secs = Math.max(1, (Date.now() - started) / 1000);
  const total = ids.reduce((n, id) => n + (stats.get(id)?.messages ?? 0), 0);
  const online = ids.filter((id) => stats.get(id)?.status === 'online').length;
  const lines = [
    `broker ${where} | boards ${online}/${ids.length} online | ${total} messages in ${secs.toFixed(0)} s (${(total / secs).toFixed(1)}/s)`,
    `${'board'.padEnd(18)} ${'status'.padEnd(8)} ${'msgs'.padStart(6)}  last reading`,
  ];
  for (const id of ids) {
    const s = stats.get(id)!;
    const last = s.last ? `seq ${s.last.seq} (boot ${s.last.boot}), ${s.last.temp} °C, ${s.last.free} vars free, ${((Date.now() - s.lastAt!) / 1000).toFixed(1)} s ago` : '-';
    lines.push(`${id.padEnd(18)} ${s.status.padEnd(8)} ${String(s.messages).padStart(6)}  ${last}${s.errors ? `  (${s.errors} board errors)` : ''}`);
  }
  return lines;
}

/** The command that opens a URL here: $BROWSER if set, else the desktop's opener. */
export function openerFor(url: string, env: NodeJS.ProcessEnv = process.env, platform = process.platform): [string, string[]] {
  if (env.BROWSER) return [env.BROWSER, [url]];
  if (platform === 'darwin') return ['open', [url]];
  if (platform === 'win32') return ['cmd', ['/c', 'start', '', url]];
  return ['xdg-open', [url]];
}

function openInBrowser(url: string, say: (line: string) => void): void {
  const [cmd, args] = openerFor(url);
  try {
    const p = spawn(cmd, args, { stdio: 'ignore', detached: true });
    p.on('error', (err: any) => say(`could not open a browser (${cmd}: ${err.code ?? err.message}); open the console address above yourself`));
    p.unref();
  } catch (err: any) {
    say(`could not open a browser (${cmd}: ${err.message}); open the console address above yourself`);
  }
}

/** The hub on the console port asked for, or on any free one when that is taken. */
async function startHubFor(o: StartOptions, say: (line: string) => void): Promise<LocalHub> {
  try {
    return await startLocalHub({ controlPort: o.consolePort });
  } catch (err: any) {
    if (err.code !== 'EADDRINUSE' || o.consolePort === 0) throw err;
    say(`port ${o.consolePort} is taken: the console takes a free port instead (choose one with --console-port)`);
    return startLocalHub({ controlPort: 0 });
  }
}

/** Runs until stopped (or for `duration` s); resolves with the total messages seen. */
export async function runStart(o: StartOptions, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const say = (line: string) => out(line + '\n');
  const built = ensureBuilt([o.board], say);
  if (built) say('firmware built');
  let hub: LocalHub | undefined;
  let target: BrokerTarget;
  const given = brokerTarget(o);
  if (given) {
    target = given;
    if (o.open) say(`--open: the console comes with the hub npm start runs; with --broker, open that hub's console (its control port) instead`);
  } else {
    if (ensureConsoleBuilt(say)) say('console built');
    hub = await startHubFor(o, say);
    target = { host: '127.0.0.1', port: hub.port };
    say(`host broker on mqtt://127.0.0.1:${hub.port} (in memory), HIL control API on ${hub.controlUrl}`);
    // The token is in the fragment: the page logs itself in, and it never reaches a server log.
    const consoleUrl = `${hub.controlUrl}/#token=${hub.token}`;
    say(`console: ${consoleUrl}`);
    say(`  (control token ${hub.token}; the CLI takes it as HOST_BROKER_TOKEN, e.g. HOST_BROKER_TOKEN=${hub.token} npm run broker -- routes list --control ${hub.controlUrl})`);
    if (o.open) openInBrowser(consoleUrl, say);
  }
  // Shown and used without credentials: they go in the connect options, never in a printed URL.
  const where = `mqtt://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  const login = { ...(target.username !== undefined ? { username: target.username } : {}), ...(target.password !== undefined ? { password: target.password } : {}) };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'espruino-start-'));
  const tag = Math.random().toString(36).slice(2, 6);
  const ids = Array.from({ length: o.boards }, (_, i) => `${o.board}-${tag}-${i + 1}`);
  const stats = new Map<string, BoardStats>(ids.map((id) => [id, { status: 'starting', messages: 0, errors: 0 }]));
  const boards: Board[] = [];
  let monitor: MqttClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  const isTTY = !!process.stdout.isTTY;
  let stopped: () => void = () => undefined;
  const done = new Promise<void>((r) => { stopped = r; });
  const started = Date.now();

  try {
    try {
      monitor = await mqtt.connectAsync(where, { reconnectPeriod: 0, connectTimeout: 10_000, clientId: `start-monitor-${tag}`, ...login });
    } catch (err: any) {
      throw new Error(`cannot connect to ${where}${target.username !== undefined ? ` as ${target.username}` : ''}: ${err?.message ?? err}`, { cause: err });
    }
    monitor.options.reconnectPeriod = 1000; // connected once: ride out hiccups from now on
    monitor.on('message', (topic, payload) => {
      const [, id, kind] = topic.split('/');
      const s = stats.get(id);
      if (!s) return;
      if (kind === 'status') s.status = payload.toString();
      else if (kind === 'telemetry') {
        s.messages++;
        s.lastAt = Date.now();
        try { s.last = JSON.parse(payload.toString()); } catch { /* a board sent something else: count it anyway */ }
      }
    });
    await monitor.subscribeAsync(ids.flatMap((id) => [`devices/${id}/telemetry`, `devices/${id}/status`]), { qos: 1 });
    say(`starting ${o.boards} simulated ${o.board} board(s) running dist/${o.board}/telemetry.js, a reading every ${o.interval} ms`);
    say(`watch them yourself: mosquitto_sub -h ${target.host} -p ${target.port}${target.username !== undefined ? ` -u ${target.username}${target.password !== undefined ? ' -P <password>' : ''}` : ''} -t 'devices/#' -v`);
    for (const id of ids) {
      const s = stats.get(id)!;
      boards.push(startTelemetryBoard({
        board: o.board, storageDir: path.join(tmp, id),
        config: { id, host: target.host, port: target.port, interval: o.interval, ...login },
        log: (line) => { if (line.startsWith('Uncaught')) { s.errors++; if (!isTTY) say(`${id}: ${line}`); } },
      }));
    }
    const render = () => {
      const lines = table(ids, stats, started, where);
      if (isTTY) out(`\x1b[${lines.length}A\x1b[0J` + lines.join('\n') + '\n');
      else say(lines[0]);
    };
    if (isTTY) out('\n'.repeat(ids.length + 2));
    timer = setInterval(render, isTTY ? 1000 : 2000);
    const stop = () => stopped();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (o.duration !== undefined) setTimeout(stop, o.duration * 1000).unref();
    await done;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    clearInterval(timer);
    say('\nfinal summary:');
    for (const l of table(ids, stats, started, where)) say(l);
  } finally {
    if (timer) clearInterval(timer);
    boards.forEach((b) => b.destroy());
    await monitor?.endAsync(true).catch(() => undefined);
    await hub?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return ids.reduce((n, id) => n + stats.get(id)!.messages, 0);
}

export function buildProgram(): Command {
  return new Command('npm start --')
    .description('Build the firmware if needed, start the host broker and simulated boards running the telemetry app, and show the telemetry flowing (Ctrl-C stops everything).')
    .addOption(new Option('--boards <n>', 'simulated boards').argParser(intArg(1, 500)).default(3))
    .addOption(new Option('--board <name>', 'board profile of the simulated boards').choices(['esp32', 'esp8266']).default('esp32'))
    .option('--broker <url>', 'use this broker instead of starting the host broker: mqtt://[user[:password]@]host[:port] (percent-encode special characters)')
    .option('--username <name>', 'user name for --broker (the boards and the monitor log in with it)')
    .option('--password <pw>', 'password for --broker (or in its URL; visible in the process list either way); never printed')
    .addOption(new Option('--duration <s>', 'stop after this many seconds and print a final summary').argParser(intArg(1, 86400)))
    .addOption(new Option('--interval <ms>', 'ms between readings on each board').argParser(intArg(100, 86400000)).default(1000))
    .addOption(new Option('--console-port <n>', 'port of the hub console and control API (a free one if taken; 0 = any free port)').argParser(intArg(0, 65535)).default(8081))
    .option('--open', 'open the console in a browser ($BROWSER, or the desktop\'s opener)')
    .showHelpAfterError('(run with --help for usage)');
}

/** The `npm start` command line (bin/start.cjs runs this, compiled). */
export async function main(): Promise<void> {
  const program = buildProgram();
  program.parse(process.argv);
  const o = program.opts() as StartOptions;
  try {
    brokerTarget(o); // checked here, not by commander: its message would repeat the URL, password and all
    const total = await runStart(o);
    if (total === 0) {
      process.stderr.write('no telemetry arrived: check the broker address and the board errors above\n');
      process.exitCode = 1;
    }
  } catch (err: any) {
    process.stderr.write(`npm start: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

if (require.main === module) void main();
