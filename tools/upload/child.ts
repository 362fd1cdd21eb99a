// The process that talks to the board, through espruino-tools (the `espruino` npm
// package used as a library). espruino-tools keeps its state in globals and logs
// through console.*, so it runs here, apart from the flash tool. Its log is kept
// only to explain a failure and never printed whole (it echoes what is sent, which
// holds credentials). Each step is reported as a JSON line (protocol.ts).
//
// Only its port layer is used (open, write, listen, and its way of getting a prompt);
// its minifier, pretokeniser and module loader never see the image, which is final.
// The steps, each with a timeout:
//   open     the serial port or tcp:// address;
//   connect  get a prompt; ask the board what it is (and that it has E.CRC32);
//   stop     reset(): stop whatever app runs, as espruino-tools does before sending;
//   upload   each Storage.write line of the image, waiting for the board's =true;
//   verify   read back each file's length and E.CRC32 and compare with the image;
//   boot     load(".bootcde"), then listen a moment for an app that dies at once.
import * as fs from 'fs';
import * as util from 'util';
import { crcText } from '../image';
import { Stage, UploadEvent, UploadJob } from './protocol';

declare const Espruino: any;

/** A failure of one stage; `message` is for the user. `vague`: add what espruino-tools logged about it. */
class StageError extends Error {
  constructor(readonly stage: Stage, message: string, readonly extra: Partial<Extract<UploadEvent, { e: 'fail' }>> = {}, readonly vague = false) {
    super(message);
  }
}

const emit = (ev: UploadEvent) => process.stdout.write(JSON.stringify(ev) + '\n');

// ---- espruino-tools' log: kept (bounded, without the data it echoes) to explain failures
const toolLog: string[] = [];
let onToolLine: ((line: string) => void) | null = null;
function captureConsole(): void {
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    console[level] = (...args: unknown[]) => {
      for (const line of util.format(...args).split('\n')) {
        // "Sending"/"--->"/"Received"/"Got" lines carry the image or the board's echo of it.
        if (!line.trim() || /^serial: (Sending|--->|Received|Got )|^Got "/.test(line)) continue;
        toolLog.push(line.length > 300 ? line.slice(0, 300) + '...' : line);
        if (toolLog.length > 40) toolLog.shift();
        onToolLine?.(line);
      }
    };
  }
}

// ---- the board's console output, as clean lines
const ESC = /\x1b\[[0-9;?]*[A-Za-z]/g; // eslint-disable-line no-control-regex
let partial = '';
const lineWatchers = new Set<(line: string) => void>();
const closeWatchers = new Set<(why: string) => void>();
/** Why the connection is gone, once it is. */
let lost = '';

function received(data: ArrayBuffer): void {
  partial += Buffer.from(data).toString('latin1');
  const lines = partial.split('\n');
  partial = lines.pop()!;
  for (const raw of lines) {
    // A prompt ('>') has no newline of its own: it starts the next line.
    const line = raw.replace(ESC, '').replace(/\r/g, '').replace(/^>+/, '').trimEnd();
    if (line) for (const w of [...lineWatchers]) w(line);
  }
}

/** Resolves with the first line for which `take` returns a value, or rejects after `ms` / when the port closes. */
function waitLine<T>(take: (line: string) => T | undefined, ms: number, stage: Stage, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    if (lost) return reject(new StageError(stage, `${lost} before ${what}`));
    const done = (f: () => void) => { clearTimeout(timer); lineWatchers.delete(watch); closeWatchers.delete(onClose); f(); };
    const watch = (line: string) => {
      let v: T | undefined;
      try { v = take(line); } catch (err) { done(() => reject(err)); return; }
      if (v !== undefined) done(() => resolve(v!));
    };
    const onClose = (why: string) => done(() => reject(new StageError(stage, `${why} while waiting for the board's answer to ${what}`)));
    const timer = setTimeout(() => done(() => reject(new StageError(stage, `no answer from the board within ${ms / 1000} s to ${what}`))), ms);
    lineWatchers.add(watch);
    closeWatchers.add(onClose);
  });
}

function send(text: string): Promise<void> {
  return Espruino.Core.Serial.connection.write(text);
}

/** Lines that mean the app or the interpreter broke (a network error such as "ERROR: Connect failed" does not). */
const DEATH_LINE = /^Uncaught\b|MEMORY|Out of Memory/;

/** An error line Espruino prints when a command fails (at the start of a line, unlike the echo of the command). */
const ERROR_LINE = /^(Uncaught\b|ERROR\b|Execution Interrupted|.*\bMEMORY\b)/;

let evalCount = 0;
/**
 * The JSON value of `expr` on the board (sent with echo off; the answer is tagged so
 * nothing else is taken for it). With `failOnError`, an error line the board prints
 * meanwhile fails it; leave it off while an app of old may still be running and printing.
 */
async function evaluate(expr: string, ms: number, stage: Stage, what: string, failOnError = true): Promise<any> {
  const tag = `flash-r${++evalCount}`;
  // The tag is built on the board, so no echo of this line can look like the answer.
  const answer = waitLine((line) => {
    if (failOnError && ERROR_LINE.test(line)) throw new StageError(stage, `the board printed an error in answer to ${what}: ${line}`);
    if (line.startsWith(tag + ' ')) return line.slice(tag.length + 1);
    return undefined;
  }, ms, stage, what);
  const [, text] = await Promise.all([send(`\x10print(${JSON.stringify(tag.slice(0, 6))}+${JSON.stringify(tag.slice(6))},JSON.stringify(${expr}))\n`), answer]);
  try {
    return JSON.parse(text);
  } catch {
    throw new StageError(stage, `the board answered ${JSON.stringify(text.slice(0, 80))} to ${what}, which is not JSON`);
  }
}

/** Sends one console command of the image and returns the board's answer: its "=value" line, or an error line. */
async function command(text: string, ms: number, stage: Stage, what: string): Promise<string> {
  const answer = waitLine((line) => (line.startsWith('=') || ERROR_LINE.test(line) ? line : undefined), ms, stage, what);
  return (await Promise.all([send(text + '\n'), answer]))[1];
}

// ---- opening the port
function initTools(job: UploadJob): Promise<void> {
  return new Promise((resolve) => require('espruino').init(() => {
    const config = Espruino.Config;
    config.BAUD_RATE = job.baud;
    // No Bluetooth (its D-Bus probe fails on machines without one), no board query of its own.
    config.BLUETOOTH_LOW_ENERGY = false;
    config.BLUETOOTH_LOW_ENERGY_DBUS = false;
    config.ENV_ON_CONNECT = false;
    if (job.port.startsWith('tcp://')) config.SERIAL_TCPIP = [job.port];
    resolve();
  }));
}

/** What espruino-tools lists as ports, for a message. */
function listPorts(): Promise<string> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('(listing timed out)'), 3000);
    Espruino.Core.Serial.getPorts((ports: { path: string }[]) => {
      clearTimeout(t);
      resolve(ports && ports.length ? ports.map((p) => p.path).join(', ') : 'none');
    });
  });
}

function socketError(info: any, port: string): string {
  const hints: Record<string, string> = {
    ECONNREFUSED: 'connection refused: nothing listens there (is the board, or the interpreter with --telnet, running?)',
    ENOTFOUND: 'no such host',
    EHOSTUNREACH: 'host unreachable',
    ETIMEDOUT: 'connection timed out',
  };
  return `cannot connect to ${port}: ${hints[info.code] ?? info.code ?? JSON.stringify(info)}`;
}

function serialError(err: any, port: string): string {
  const text = String(err && err.message ? err.message : err);
  if (/EACCES|Permission denied/i.test(text)) return `cannot open ${port}: permission denied (${text}). On Linux add yourself to the dialout group, then log in again`;
  if (/EBUSY|Resource busy|Cannot lock/i.test(text)) return `cannot open ${port}: it is busy (${text}). Close the program holding it (IDE, screen, another flash)`;
  return `cannot open ${port}: ${text}`;
}

function open(job: UploadJob): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: StageError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      onToolLine = null;
      process.removeListener('uncaughtException', thrown);
      if (err) reject(err); else resolve();
    };
    const timer = setTimeout(() => settle(new StageError('open', `cannot open ${job.port}: no connection within ${job.timeouts.openMs / 1000} s`, {}, true)), job.timeouts.openMs);
    // espruino-tools reports a socket error only in its log (and then never calls back).
    onToolLine = (line) => {
      const m = /^RECEIVE ERROR: (.*)$/.exec(line);
      if (m) {
        let info: any = m[1];
        try { info = JSON.parse(m[1]); } catch {}
        settle(new StageError('open', socketError(info, job.port)));
      }
    };
    // A serial port that fails to open throws from inside espruino-tools, uncaught.
    const thrown = (err: unknown) => settle(new StageError('open', serialError(err, job.port)));
    process.on('uncaughtException', thrown);
    Espruino.Core.Serial.startListening(received);
    if (job.port.startsWith('/') && !fs.existsSync(job.port)) {
      // espruino-tools would look for it 5 times over seconds before saying "not found".
      listPorts().then((seen) => settle(new StageError('open', `cannot open ${job.port}: no such device (is the board plugged in? serial ports espruino-tools sees: ${seen})`)));
      return;
    }
    Espruino.Core.Serial.open(job.port, async (status: unknown) => {
      if (status !== undefined) { settle(); return; }
      if (job.port.startsWith('tcp://')) { settle(new StageError('open', `cannot connect to ${job.port}`, {}, true)); return; }
      settle(new StageError('open', `cannot open ${job.port}: espruino-tools does not list it as a serial port (it sees: ${await listPorts()})`, {}, true));
    }, () => {
      // Disconnected: before the connection is up this is a failed open, after it a lost board.
      const why = `the connection to ${job.port} closed`;
      if (!settled) settle(new StageError('open', why));
      if (isOpen) lost = why;
      for (const w of [...closeWatchers]) w(why);
    });
  });
}

/** espruino-tools' own way to a clean prompt: a newline, then Ctrl-C if no prompt shows. */
function prompt(): Promise<void> {
  return new Promise((resolve) => Espruino.Core.Utils.getEspruinoPrompt(() => resolve()));
}

// ---- the steps
let isOpen = false;

async function run(job: UploadJob): Promise<void> {
  let stage: Stage = 'open';
  const begin = (s: Stage) => { stage = s; emit({ e: 'stage', stage: s }); };
  const finish = (code: number) => {
    if (isOpen && !lost) try { isOpen = false; Espruino.Core.Serial.close(); } catch {}
    process.stdout.write('', () => process.exit(code));
  };
  process.on('uncaughtException', (err) => {
    if (stage === 'open') return; // open() reports it
    emit({ e: 'fail', stage, message: `espruino-tools failed: ${err && err.message ? err.message : String(err)}` });
    finish(1);
  });
  try {
    begin('open');
    await initTools(job);
    await open(job);
    isOpen = true;

    begin('connect');
    await prompt();
    const id = await evaluate('[process.env.BOARD,process.env.VERSION,typeof E.CRC32]', job.timeouts.connectMs, 'connect', 'the query for its board and version', false)
      .catch((err) => {
        throw new StageError('connect', `${job.port} is open, but no Espruino console answered (${err.message}). Is a board running Espruino there, at ${job.baud} baud? Is another program using it?`);
      });
    if (!Array.isArray(id)) throw new StageError('connect', `the board answered ${JSON.stringify(id)} to the query for its board and version`);
    emit({ e: 'board', board: String(id[0]), version: String(id[1]) });
    if (id[2] !== 'function') throw new StageError('connect', `the board's Espruino ${id[1]} has no E.CRC32, which verification needs: update Espruino (2v00 or later)`);

    begin('stop');
    await command('reset();', job.timeouts.commandMs, 'stop', 'reset()');
    await new Promise((r) => setTimeout(r, 250)); // as espruino-tools waits after a reset()
    await evaluate('1', job.timeouts.commandMs, 'stop', 'the first command after reset()', false);

    begin('upload');
    const length = new Map(job.expect.map((f) => [f.name, f.length]));
    for (const w of job.writes) {
      const what = `the Storage.write of "${w.file}" characters ${w.from}..${w.to}`;
      const answer = await command(w.text, job.timeouts.commandMs, 'upload', what);
      if (answer !== '=true') throw new StageError('upload', `"${w.file}": the board answered ${JSON.stringify(answer)} to ${what}, expected =true`);
      emit({ e: 'progress', file: w.file, sent: w.to, length: length.get(w.file) ?? w.to });
    }

    begin('verify');
    const names = job.expect.map((f) => f.name);
    const held = await evaluate(`${JSON.stringify(names)}.map(function(n){var s=require("Storage").read(n);return s===undefined?null:[s.length,E.CRC32(s)];})`,
      job.timeouts.commandMs, 'verify', 'the query for each file\'s length and CRC-32');
    if (!Array.isArray(held) || held.length !== names.length) throw new StageError('verify', `the board answered ${JSON.stringify(held)} to the query for each file's length and CRC-32`);
    job.expect.forEach((f, i) => {
      const h = held[i];
      const actual = Array.isArray(h) ? { length: h[0], crc32: h[1] >>> 0 } : null;
      const expected = { length: f.length, crc32: f.crc32 };
      if (!actual || actual.length !== expected.length || actual.crc32 !== expected.crc32) {
        const has = actual ? `${actual.length} bytes, CRC-32 ${crcText(actual.crc32)}` : 'no such file';
        throw new StageError('verify', `verification failed: Storage file "${f.name}" on the board: ${has}; the image: ${expected.length} bytes, CRC-32 ${crcText(expected.crc32)}. The board was not restarted; flash again`,
          { mismatch: { file: f.name, expected, actual } });
      }
      emit({ e: 'verified', file: f.name, length: actual.length, crc32: actual.crc32 });
    });

    begin('boot');
    const died: string[] = [];
    const watch = (line: string) => {
      if (line === job.boot || /^=undefined$/.test(line) || BANNER.test(line)) return;
      emit({ e: 'console', line });
      if (DEATH_LINE.test(line)) died.push(line);
    };
    lineWatchers.add(watch);
    await send(job.boot + '\n');
    await new Promise((r) => setTimeout(r, job.watchMs));
    lineWatchers.delete(watch);
    if (died.length) throw new StageError('boot', `the app failed when the board booted it: ${died[0]}`);
    if (lost) throw new StageError('boot', `${lost} after booting the app`);
    emit({ e: 'done' });
    finish(0);
  } catch (err: any) {
    const e = err instanceof StageError ? err : new StageError(stage, `espruino-tools failed: ${err && err.message ? err.message : String(err)}`, {}, true);
    const said = toolLog.filter((l) => /error|unable|fail|no '?serialport/i.test(l)).slice(-3);
    emit({ e: 'fail', stage: e.stage, message: e.message + (e.vague && said.length ? ` [espruino-tools: ${said.join(' | ')}]` : ''), ...e.extra });
    finish(1);
  }
}

/** Espruino's start-up banner, printed again by reset() and load(). */
const BANNER = /^( _{4} |\| {2}__\||\|____\||\s+\|_\| espruino\.com| ?\d+v\d+.*G\.Williams|Espruino is Open Source|only by sales of official|http:\/\/espruino\.com\/Donate)/;

async function main(): Promise<void> {
  captureConsole();
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  await run(JSON.parse(text) as UploadJob);
}

main();
