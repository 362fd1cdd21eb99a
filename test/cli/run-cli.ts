// Runs the real `host-broker` command (bin/host-broker.cjs: the compiled hub in build/) as a child process.
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

export const BIN = path.resolve(__dirname, '../../bin/host-broker.cjs');

export interface CliResult { code: number | null; stdout: string; stderr: string }

export function runCli(args: string[], opts: { cwd?: string; input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = opts.env ? { ...process.env, ...opts.env } : undefined;
    const p = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`host-broker ${args.join(' ')} did not finish`)); }, opts.timeoutMs ?? 20000);
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
    p.stdin.end(opts.input ?? '');
  });
}

export interface RunningCli {
  proc: ChildProcess; ports: Record<string, number>; lines: any[];
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** The control token it printed at its first start (waits for the stderr line, up to 5 s). */
  token(): Promise<string>;
  stop(): Promise<number | null>;
}

/** The token from host-broker's first-start notice on stderr. */
export const TOKEN_LINE = /token \(shown only this once[^\n]*\n\s+(\S+)\n/;

/** Starts `host-broker start ...` and resolves once it logged "listening" (with the ports it got). */
export function startCli(args: string[], opts: { cwd?: string } = {}): Promise<RunningCli> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: any[] = [];
    let buf = '';
    let stderr = '';
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no "listening" line; stderr: ${stderr}`)); }, 20000);
    proc.stderr!.on('data', (d) => { stderr += d; });
    proc.stdout!.on('data', (d) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let j: any;
        try { j = JSON.parse(line); } catch { continue; }
        lines.push(j);
        if (j.msg === 'listening') {
          clearTimeout(t);
          resolve({
            proc, ports: j.ports, lines,
            stderr: () => stderr,
            token: async () => {
              for (let i = 0; i < 100; i++) {
                const m = TOKEN_LINE.exec(stderr);
                if (m) return m[1];
                await new Promise((r) => setTimeout(r, 50));
              }
              throw new Error(`no token notice on stderr: ${stderr}`);
            },
            stop: () => new Promise((r) => {
              if (proc.exitCode !== null) return r(proc.exitCode);
              proc.once('exit', (code) => r(code));
              proc.kill('SIGTERM');
            }),
          });
        }
      }
    });
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`host-broker exited with ${code} before listening: ${stderr}`)); });
  });
}
