// Runs one of the tools as a spawned process (as `npm start` / `npm run ...` would) and collects its output.
import { spawn } from 'child_process';
import * as path from 'path';

export const ROOT = path.join(__dirname, '..', '..');

export interface Run { code: number | null; stdout: string; stderr: string }

export function runTool(script: string, args: string[], timeoutMs = 60000, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${script} ${args.join(' ')} did not exit within ${timeoutMs} ms; output:\n${stdout}\n${stderr}`)); }, timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}
