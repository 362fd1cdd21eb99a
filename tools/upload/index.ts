// Uploads a board image (tools/image.ts) to a board and checks it: runs child.ts,
// which drives espruino-tools in a process of its own, hands it the job on stdin,
// and turns its JSON event lines back into calls of `onEvent`. Resolves only when
// the board holds every file byte for byte (length and CRC-32 read back) and booted
// the app; otherwise rejects with what failed, where.
import { spawn } from 'child_process';
import * as path from 'path';
import { fileDigest, imageCommands, PIECE, StorageFile } from '../image';
import { Stage, UploadEvent, UploadJob, UploadTimeouts } from './protocol';

export { Stage, UploadEvent } from './protocol';

export interface UploadOptions {
  /** A serial device (/dev/ttyUSB0, COM3) or tcp://host:port. */
  port: string;
  baud: number;
  files: StorageFile[];
  /** Characters per Storage.write command (default: the image's). */
  piece?: number;
  timeouts?: Partial<UploadTimeouts>;
  /** How long to listen to the board after boot; default 3 s. */
  watchMs?: number;
  onEvent?: (ev: UploadEvent) => void;
}

export const DEFAULT_TIMEOUTS: UploadTimeouts = { openMs: 15000, connectMs: 10000, commandMs: 20000 };

/** A failed upload: the stage it failed in, and for a verification failure the file that differs. */
export class UploadError extends Error {
  constructor(readonly stage: Stage | 'process', message: string, readonly mismatch?: Extract<UploadEvent, { e: 'fail' }>['mismatch']) {
    super(message);
  }
}

const CHILD = path.join(__dirname, 'child.ts');

export function uploadImage(o: UploadOptions): Promise<void> {
  const { writes, boot } = imageCommands(o.files, o.piece ?? PIECE);
  const job: UploadJob = {
    port: o.port,
    baud: o.baud,
    writes,
    expect: o.files.map(fileDigest),
    boot,
    watchMs: o.watchMs ?? 3000,
    timeouts: { ...DEFAULT_TIMEOUTS, ...o.timeouts },
  };
  const t = job.timeouts;
  // Every stage has its own timeout in the child; this one only catches a child that hangs.
  const limitMs = t.openMs + t.connectMs + t.commandMs * (writes.length + 3) + job.watchMs + 15000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stage: Stage | 'process' = 'process';
    let failure: UploadError | null = null;
    let done = false;
    let stderr = '';
    let buf = '';
    const handle = (line: string) => {
      let ev: UploadEvent;
      try { ev = JSON.parse(line); } catch { stderr += line + '\n'; return; }
      if (ev.e === 'stage') stage = ev.stage;
      if (ev.e === 'fail') failure = new UploadError(ev.stage, ev.message, ev.mismatch);
      if (ev.e === 'done') done = true;
      o.onEvent?.(ev);
    };
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) handle(line);
      }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    const timer = setTimeout(() => {
      failure = new UploadError(stage, `the upload did not finish within ${Math.round(limitMs / 1000)} s (stuck in stage ${stage})`);
      child.kill('SIGKILL');
    }, limitMs);
    child.on('error', (err) => { clearTimeout(timer); reject(new UploadError('process', `cannot start the upload process: ${err.message}`)); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (buf.trim()) handle(buf);
      if (failure) return reject(failure);
      if (code === 0 && done) return resolve();
      const tail = stderr.trim().split('\n').slice(-5).join(' | ');
      reject(new UploadError(stage, `the upload process ended (${signal ?? `exit code ${code}`}) without finishing stage ${stage}${tail ? `: ${tail}` : ''}`));
    });
    // Credentials travel on the pipe, never in argv or a file.
    child.stdin.end(JSON.stringify(job));
  });
}
