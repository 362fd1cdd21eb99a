// The hub's logger: pino, written for whoever reads it. A person at a terminal
// gets one readable line per record (pino-pretty); systemd's journal gets one
// line per record with a syslog priority prefix (`<3>`, sd-daemon(3)) so
// `journalctl -p warning` works; anything else (a pipe, a file, a log shipper)
// gets pino's JSON lines. `log.file` writes to a file rotated by size, the
// logrotate way (hub.log, hub.log.1 ... hub.log.N), by rotating-file-stream.
import * as fs from 'fs';
import * as path from 'path';
import type { Writable } from 'stream';
import pino from 'pino';
import type PinoPretty from 'pino-pretty';
import type * as Rfs from 'rotating-file-stream';

// Loaded only for the format and destination that use them (a terminal, a log
// file): a hub under systemd or logging JSON does not carry them.
const pretty: typeof PinoPretty = ((o: Parameters<typeof PinoPretty>[0]) => (require('pino-pretty') as typeof PinoPretty)(o)) as typeof PinoPretty;
const createStream: typeof Rfs.createStream = ((...a: Parameters<typeof Rfs.createStream>) => (require('rotating-file-stream') as typeof Rfs).createStream(...a)) as typeof Rfs.createStream;

export const LOG_FORMATS = ['auto', 'pretty', 'json', 'journal'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogConfig {
  level?: string;
  /** auto (the default): journal under systemd, pretty on a terminal, JSON otherwise; a file gets JSON. */
  format?: LogFormat;
  /** Write here instead of stdout, rotated by size. */
  file?: string;
  /** Rotate when the file passes this size: a number and K, M or G ("10M"). */
  maxSize?: string;
  /** Rotated files kept (hub.log.1 is the newest); older ones are deleted. */
  maxFiles?: number;
}

export const LOG_DEFAULTS = { maxSize: '10M', maxFiles: 5 };
export const LOG_SIZE_RE = /^[1-9][0-9]*[KMG]$/;

/** What the process writes to, as far as choosing a format goes. */
export interface LogTarget {
  stdoutIsTTY: boolean;
  /** stdout is connected to systemd's journal (JOURNAL_STREAM names it). */
  journal: boolean;
}

/** systemd sets JOURNAL_STREAM=<device>:<inode> of the stream it connected to the journal; `fd` 1 is stdout, 2 stderr. */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch {
    return false;
  }
}

export function currentTarget(): LogTarget {
  return { stdoutIsTTY: !!process.stdout.isTTY, journal: stdoutIsJournal() };
}

/** The format `auto` stands for, given where the lines go. */
export function resolveFormat(cfg: LogConfig, target: LogTarget): Exclude<LogFormat, 'auto'> {
  const f = cfg.format ?? 'auto';
  if (f !== 'auto') return f;
  if (cfg.file) return 'json';
  if (target.journal) return 'journal';
  return target.stdoutIsTTY ? 'pretty' : 'json';
}

/** syslog priorities of pino's levels (fatal=crit, error=err, warn=warning, info, debug). */
const PRIORITY: Record<number, number> = { 60: 2, 50: 3, 40: 4, 30: 6, 20: 7, 10: 7 };
/** Fields the journal records itself (time, pid, host) or that every line has. */
const JOURNAL_OMIT = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

function journalStream(destination: number | Writable) {
  return pretty({
    destination, sync: true, colorize: false, hideObject: true, ignore: 'time,pid,hostname,name',
    customPrettifiers: { level: (_v, _k, log, extras) => `<${PRIORITY[(log as any).level] ?? 6}>${extras.label}` },
    // The fields as one JSON object on the same line: journald splits records at newlines.
    messageFormat: (log, key) => {
      const rest: Record<string, unknown> = {};
      for (const k of Object.keys(log)) if (!JOURNAL_OMIT.has(k)) rest[k] = log[k];
      const msg = String(log[key] ?? '').replace(/\r?\n/g, '\\n');
      return Object.keys(rest).length ? `${msg} ${JSON.stringify(rest)}` : msg;
    },
  });
}

function prettyStream(destination: number | Writable, colorize: boolean) {
  return pretty({ destination, sync: typeof destination === 'number', colorize, singleLine: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname,name' });
}

export interface HubLogger {
  logger: pino.Logger;
  format: Exclude<LogFormat, 'auto'>;
  /** The file written, when log.file is set. */
  file?: string;
  /** Writes out what is buffered and closes the file. */
  close(): Promise<void>;
}

/** Opens the log file's stream; a directory that cannot be written is named in the error. */
function openRotating(file: string, cfg: LogConfig): Writable {
  const dir = path.dirname(file);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err: any) {
    throw new Error(`log.file: cannot write to ${dir} (${err.code ?? err.message})`, { cause: err });
  }
  return createStream(path.basename(file), {
    path: dir, size: cfg.maxSize ?? LOG_DEFAULTS.maxSize, rotate: cfg.maxFiles ?? LOG_DEFAULTS.maxFiles,
  });
}

export function createHubLogger(cfg: LogConfig, target: LogTarget = currentTarget()): HubLogger {
  const format = resolveFormat(cfg, target);
  const file = cfg.file ? path.resolve(cfg.file) : undefined;
  if (file && format === 'journal') throw new Error('log.format: "journal" is for stdout under systemd; a log.file gets "json" or "pretty"');
  const fileStream = file ? openRotating(file, cfg) : undefined;
  const out: number | Writable = fileStream ?? 1;
  const stream = format === 'journal' ? journalStream(out)
    : format === 'pretty' ? prettyStream(out, !file && target.stdoutIsTTY)
      : fileStream ?? pino.destination({ dest: 1, sync: true });
  const logger = pino({ level: cfg.level ?? 'info', base: { name: 'host-broker' } }, stream);
  return {
    logger, format, ...(file ? { file } : {}),
    close: () => new Promise<void>((resolve) => {
      logger.flush();
      if (!fileStream) return resolve();
      // Ending the pretty transform ends its destination too; wait for the file itself.
      fileStream.once('finish', () => resolve());
      fileStream.once('error', () => resolve());
      if (stream !== fileStream) (stream as Writable).end(); else fileStream.end();
    }),
  };
}
