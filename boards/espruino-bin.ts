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

/** What an interpreter is, as far as picking a board profile goes. */
export interface InterpreterInfo { total: number; unicode: boolean; board: 'esp8266' | 'esp32' | 'linux' }

const probed = new Map<string, Promise<InterpreterInfo>>();

/**
 * Asks an interpreter its var count and whether its strings are unicode (a UTF-8
 * literal of one character has length 1 on the stock Linux build, 2 on ESP-style
 * builds), and picks the board profile whose bundle suits it: linux for a unicode
 * build, else esp8266 up to 2000 vars, else esp32. ESPRUINO_BOARD overrides the pick.
 */
export function interpreterInfo(bin: string, env: NodeJS.ProcessEnv = process.env): Promise<InterpreterInfo> {
  let p = probed.get(bin);
  if (!p) {
    p = runEspruino({ bin, script: 'console.log("@P " + process.memory().total + " " + "\u00e9".length); quit();', timeoutMs: 20000 }).then((r) => {
      const m = r.lines.map((l) => /@P (\d+) (\d)/.exec(l)).find(Boolean);
      if (!m) throw new Error(`${bin}: no answer to the profile probe; it printed: ${r.lines.slice(-5).join(' | ')}`);
      const total = +m[1];
      const unicode = m[2] === '1';
      return { total, unicode, board: unicode ? 'linux' : total <= 2000 ? 'esp8266' : 'esp32' } as InterpreterInfo;
    });
    probed.set(bin, p);
  }
  return p.then((i) => {
    const forced = env.ESPRUINO_BOARD;
    if (!forced) return i;
    if (!['esp8266', 'esp32', 'linux'].includes(forced)) throw new Error(`ESPRUINO_BOARD=${forced}: expected esp8266, esp32 or linux`);
    return { ...i, board: forced as InterpreterInfo['board'] };
  });
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
  /**
   * Run in this folder instead of a new one; the caller owns it (it is kept). The
   * interpreter's flash is the file ./espruino.flash there, so runs in one folder
   * share their Storage.
   */
  dir?: string;
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

/** The options of a run that boots from flash: see bootEspruino(). */
export type BootOptions = Omit<EspruinoOptions, 'script' | 'modules' | 'dir'> & {
  /** Console commands that write the board's Storage files: the board image without its final load(). */
  writes: string;
};

/**
 * A flashed board powering up. `writes` (e.g. the board image of tools/image.ts,
 * without its final load()) run first, in a folder of their own whose
 * ./espruino.flash is the board's flash; then the interpreter starts there in
 * interactive mode, as a board powers up: it runs .bootcde from flash and keeps
 * running until quit() (a script run exits once no timer is left, which a board
 * never does; load() would also end a script run whose app waits on a socket).
 */
export async function bootEspruino(o: BootOptions): Promise<EspruinoSession> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'espruino-board-'));
  try {
    const w = await runEspruino({ bin: o.bin, script: o.writes + '\nquit();', dir, timeoutMs: o.timeoutMs ?? 60000 });
    if (!w.ok) throw new Error(`writing the board's Storage failed: ${[...w.failures, ...w.lines.slice(-3)].join(' | ')}${w.timedOut ? ' (timed out)' : ''}`);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return launch(o, dir, true, null);
}

export function startEspruino(o: EspruinoOptions): EspruinoSession {
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'espruino-run-'));
  return launch(o, dir, !o.dir, composeApp(o.modules ?? {}, o.script, o.pretokenise));
}

/** Runs the interpreter in `dir`: on `app` (a script file), or interactively when it is null. */
function launch(o: Omit<EspruinoOptions, 'script'>, dir: string, ownDir: boolean, app: string | null): EspruinoSession {
  const bin = o.bin ?? espruinoBin();
  if (!bin) throw new Error(ESPRUINO_BIN_SKIP_MESSAGE);
  const appFile = path.join(dir, 'app.js');
  const fifo = path.join(dir, 'stdin');
  if (app !== null) fs.writeFileSync(appFile, app);
  if (!fs.existsSync(fifo)) execFileSync('mkfifo', [fifo]);
  // Read/write so that opening does not block and the interpreter never sees EOF.
  const fd = fs.openSync(fifo, 'r+');
  const proc = spawn(bin, app === null ? [] : [appFile], { cwd: dir, stdio: [fd, 'pipe', 'pipe'] });
  const lines: string[] = [];
  // The start-up banner (logo, version, donation note) is held back and dropped once its last line shows.
  // (Interactive mode, a board powering up, prints no banner.)
  let banner: string[] | null = app === null ? null : [];
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
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
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
