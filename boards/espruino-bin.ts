// Runs code in a real Espruino interpreter built for Linux, named by ESPRUINO_BIN.
// Its stdin must be a FIFO opened read/write (with /dev/null it reads garbage as
// console input); it exits when no timer and no socket remain, or on quit().
// Any 'Uncaught' or 'MEMORY' in its output counts as a failure.
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ESPRUINO_BIN_SKIP_MESSAGE =
  'ESPRUINO_BIN is not set: skipping the real-interpreter runs. To enable them, build Espruino for Linux ' +
  '(from the espruino/Espruino sources: make BOARD=LINUX; see README_Building.md there) and run with ' +
  'ESPRUINO_BIN=/path/to/espruino';

/** The interpreter to use, or null when ESPRUINO_BIN is unset. A set but unusable path is an error, not a skip. */
export function espruinoBin(env: NodeJS.ProcessEnv = process.env): string | null {
  const bin = env.ESPRUINO_BIN;
  if (!bin) return null;
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(`ESPRUINO_BIN=${bin}: no executable file there (expected an Espruino interpreter built for Linux)`);
  }
  return bin;
}

export interface EspruinoResult {
  /** Output lines, without the console's escape codes and prompts. */
  lines: string[];
  /** The lines that mean failure: 'Uncaught ...' or anything with 'MEMORY'. */
  failures: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Exited by itself with code 0, in time, with no failure line. */
  ok: boolean;
}

/** Splits raw interpreter output into clean lines. */
export function outputLines(raw: string): string[] {
  return raw
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '') // eslint-disable-line no-control-regex
    .replace(/\r/g, '')
    .split('\n')
    .map((l) => l.replace(/^>+/, '').replace(/\s+$/, ''))
    .filter((l) => l.length > 0);
}

export function failureLines(lines: string[]): string[] {
  return lines.filter((l) => /Uncaught|MEMORY/.test(l));
}

export interface EspruinoOptions {
  /** Defaults to ESPRUINO_BIN. */
  bin?: string;
  /** Modules made available to require(), as with Modules.addCached(name, source). */
  modules?: Record<string, string>;
  /** The app: runs after the modules are cached. End it with quit() or let it run out of timers and sockets. */
  script: string;
  /** Store code pretokenised (E.setFlags({pretokenise:1})): about 13% less to load; what small builds need. */
  pretokenise?: boolean;
  /** Killed after this long (then timedOut is true); default 20 s. */
  timeoutMs?: number;
  /** Every output line as it arrives. */
  onLine?: (line: string) => void;
}

export interface EspruinoSession {
  proc: ChildProcess;
  /** Lines so far. */
  readonly lines: string[];
  /** Types a line at the interpreter's console (through the stdin FIFO). */
  send(code: string): void;
  /** Resolves with the first line (so far or to come) matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the interpreter has exited. */
  readonly done: Promise<EspruinoResult>;
  /** Asks it to quit() through the console; kills it if it has not gone within 2 s. */
  stop(): Promise<EspruinoResult>;
}

/**
 * The file the interpreter runs: modules cached first, then the app. A module is
 * given as a function, as espruino-tools uploads it: its text is held once (a
 * string literal would hold it twice, which a 1600-var build cannot afford).
 */
export function composeApp(modules: Record<string, string>, script: string, pretokenise = false): string {
  let out = pretokenise ? 'E.setFlags({ pretokenise: 1 });\n' : '';
  for (const [name, src] of Object.entries(modules)) out += `Modules.addCached(${JSON.stringify(name)}, function () {${src}\n});\n`;
  return out + script + '\n';
}

export function startEspruino(o: EspruinoOptions): EspruinoSession {
  const bin = o.bin ?? espruinoBin();
  if (!bin) throw new Error(ESPRUINO_BIN_SKIP_MESSAGE);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'espruino-run-'));
  const app = path.join(dir, 'app.js');
  const fifo = path.join(dir, 'stdin');
  fs.writeFileSync(app, composeApp(o.modules ?? {}, o.script, o.pretokenise));
  execFileSync('mkfifo', [fifo]);
  // Read/write so that opening does not block and the interpreter never sees EOF.
  const fd = fs.openSync(fifo, 'r+');
  const proc = spawn(bin, [app], { cwd: dir, stdio: [fd, 'pipe', 'pipe'] });
  const lines: string[] = [];
  // The start-up banner (logo, version, donation note) is held back and dropped once its last line shows.
  let banner: string[] | null = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let raw = '';
  const take = (chunk: Buffer) => {
    raw += chunk.toString('utf8');
    const nl = raw.lastIndexOf('\n');
    if (nl < 0) return;
    const complete = raw.slice(0, nl + 1);
    raw = raw.slice(nl + 1);
    for (const l of outputLines(complete)) {
      if (banner) {
        banner.push(l);
        if (/espruino\.com\/Donate/.test(l)) banner = null;
        else if (banner.length > 12) { const held = banner; banner = null; held.forEach(emit); }
        continue;
      }
      emit(l);
    }
  };
  function emit(l: string): void {
    lines.push(l);
    o.onLine?.(l);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].re.test(l)) { waiters[i].resolve(l); waiters.splice(i, 1); }
    }
  }
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, o.timeoutMs ?? 20000);
  const done = new Promise<EspruinoResult>((resolve) => {
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (raw) take(Buffer.from('\n'));
      if (banner) { const held = banner; banner = null; held.forEach(emit); }
      try { fs.closeSync(fd); } catch { /* already closed */ }
      fs.rmSync(dir, { recursive: true, force: true });
      const failures = failureLines(lines);
      resolve({ lines, failures, exitCode: code, signal, timedOut, ok: code === 0 && !timedOut && !failures.length });
    });
  });
  const session: EspruinoSession = {
    proc,
    lines,
    send(code) {
      fs.writeSync(fd, code.replace(/\n/g, ' ') + '\n');
    },
    waitFor(re, timeoutMs = 10000) {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { re, resolve: (l: string) => { clearTimeout(t); resolve(l); } };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`Espruino printed nothing matching ${re} within ${timeoutMs} ms; last lines: ${lines.slice(-5).join(' | ')}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    done,
    async stop() {
      if (proc.exitCode === null && !proc.signalCode) {
        try { session.send('quit()'); } catch { /* fifo closed */ }
        const kill = setTimeout(() => proc.kill('SIGKILL'), 2000);
        const r = await done;
        clearTimeout(kill);
        return r;
      }
      return done;
    },
  };
  return session;
}

/** Runs an app to its end (quit(), or no timers and sockets left) and reports its output. */
export function runEspruino(o: EspruinoOptions): Promise<EspruinoResult> {
  return startEspruino(o).done;
}
