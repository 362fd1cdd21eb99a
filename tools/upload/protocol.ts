// What tools/upload/index.ts (the parent) and tools/upload/child.ts (the process
// that runs espruino-tools) tell each other. The job goes to the child as one JSON
// document on its stdin (it holds credentials: never argv, never a file); the child
// answers with one JSON event per stdout line.
import { FileDigest, WriteCommand } from '../image';

export interface UploadTimeouts {
  /** Opening the port (espruino-tools looks a missing serial port up 5 times, 0.5 s apart). */
  openMs: number;
  /** From open to the board's first answer at the console. */
  connectMs: number;
  /** Each console command (a Storage.write may wait for a flash erase or compaction). */
  commandMs: number;
}

export interface UploadJob {
  /** A serial device, or tcp://host:port (a board or interpreter with a telnet console). */
  port: string;
  baud: number;
  /** The image's Storage writes, sent in order, one console line each. */
  writes: WriteCommand[];
  /** What the board must then hold. */
  expect: FileDigest[];
  /** Sent after verification passes: boots the app. */
  boot: string;
  /** How long to keep listening to the board after boot for an app that dies at once. */
  watchMs: number;
  timeouts: UploadTimeouts;
}

export type Stage = 'open' | 'connect' | 'stop' | 'upload' | 'verify' | 'boot';

export type UploadEvent =
  /** A stage begins. */
  | { e: 'stage'; stage: Stage }
  /** The board answered: what process.env says it is. */
  | { e: 'board'; board: string; version: string }
  /** `sent` of `length` characters of `file` are written and acknowledged by the board. */
  | { e: 'progress'; file: string; sent: number; length: number }
  /** A file read back as expected. */
  | { e: 'verified'; file: string; length: number; crc32: number }
  /** A line the board printed after boot. */
  | { e: 'console'; line: string }
  /** What failed; the child exits non-zero after it. `mismatch` when a file read back differs. */
  | { e: 'fail'; stage: Stage; message: string; mismatch?: { file: string; expected: { length: number; crc32: number }; actual: { length: number; crc32: number } | null } }
  | { e: 'done' };
