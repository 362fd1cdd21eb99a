// Starts a private mosquitto (Debian package) on a free 127.0.0.1 port for a test suite.
import { spawn, ChildProcess, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, waitForPort } from './ports';

const CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];

export function mosquittoPath(): string | null {
  for (const c of CANDIDATES) if (fs.existsSync(c)) return c;
  try { return execFileSync('which', ['mosquitto'], { encoding: 'utf8' }).trim() || null; } catch { return null; }
}

export interface Mosquitto {
  port: number; proc: ChildProcess;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** SIGTERM, keeping its directory (and database): start() brings it back on the same port. */
  halt(): Promise<void>;
  start(): Promise<void>;
}

export const MOSQUITTO_SKIP_MESSAGE = 'mosquitto is not installed: skipping (apt-get install mosquitto mosquitto-clients; .ci/run does this)';

/**
 * Starts mosquitto listening only on 127.0.0.1, with persistence off unless
 * `persistence` (then its database is kept in the private directory, across
 * restart()). Returns null when mosquitto is not installed.
 */
export async function startMosquitto(extraConf = '', opts: { persistence?: boolean } = {}): Promise<Mosquitto | null> {
  const bin = mosquittoPath();
  if (!bin) return null;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mosq-'));
  // Started as root, mosquitto drops to the `mosquitto` user after reading its config:
  // mkdtemp's 0700 would leave it unable to save its database (or read files put here).
  fs.chmodSync(dir, 0o777);
  const conf = path.join(dir, 'mosquitto.conf');
  const persistence = opts.persistence ? `persistence true\npersistence_location ${dir}/` : 'persistence false';
  fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n${persistence}\n${extraConf}\n`);
  let proc!: ChildProcess;
  const launch = async () => {
    proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', () => undefined);
    await waitForPort(port);
  };
  await launch();
  const stop = () => new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
  return {
    port,
    get proc() { return proc; },
    stop: async () => { await stop(); fs.rmSync(dir, { recursive: true, force: true }); },
    restart: async () => { await stop(); await launch(); },
    halt: stop,
    start: launch,
  } as Mosquitto;
}
