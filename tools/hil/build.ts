// Builds the firmware when dist/ is missing or older than its sources, so the
// tools always run the bundles that match the checkout.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The checkout: the first directory up from here with a package.json (this file also runs compiled, from build/tools/hil). */
function findRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) throw new Error(`no package.json above ${dir}`);
  }
}

export const ROOT = findRoot(__dirname);
export const DIST = path.join(ROOT, 'dist');

function newest(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const f of fs.readdirSync(p)) t = Math.max(t, newest(path.join(p, f)));
  return t;
}

export function bundleFile(board: string, name: 'mqtt-client' | 'telemetry'): string {
  return path.join(DIST, board, name + '.js');
}

/** Why dist/ must be rebuilt for `boards`, or '' when it is up to date. */
export function staleReason(boards: string[]): string {
  const sources = Math.max(newest(path.join(ROOT, 'firmware')), newest(path.join(ROOT, 'rollup.config.mjs')),
    ...fs.readdirSync(path.join(ROOT, 'boards')).filter((f) => f.endsWith('.json')).map((f) => newest(path.join(ROOT, 'boards', f))));
  for (const b of boards) {
    for (const name of ['mqtt-client', 'telemetry'] as const) {
      const f = bundleFile(b, name);
      if (!fs.existsSync(f)) return `${path.relative(ROOT, f)} is missing`;
      if (fs.statSync(f).mtimeMs < sources) return `${path.relative(ROOT, f)} is older than the firmware sources`;
    }
  }
  return '';
}

function rollup(what: string): void {
  const bin = path.join(ROOT, 'node_modules', 'rollup', 'dist', 'bin', 'rollup');
  const r = spawnSync(process.execPath, [bin, '-c', 'rollup.config.mjs', '--silent'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} build failed (rollup exit ${r.status}):\n${r.stderr || r.stdout}`);
}

/** Runs `rollup -c` when needed; returns the reason it built, or '' if it did not. Throws if the build fails. */
export function ensureBuilt(boards: string[], log: (line: string) => void = () => undefined): string {
  const why = staleReason(boards);
  if (!why) return '';
  log(`building the firmware (${why}) ...`);
  rollup('firmware');
  const still = staleReason(boards);
  if (still) throw new Error(`firmware build ran but ${still}`);
  return why;
}

const CONSOLE_SRC = path.join(ROOT, 'host-broker', 'console', 'web');
const CONSOLE_OUT = ['index.html', 'app.js', 'app.css'].map((f) => path.join(DIST, 'console', f));

/** Why dist/console must be rebuilt, or ''. */
export function consoleStaleReason(): string {
  const sources = Math.max(newest(CONSOLE_SRC), newest(path.join(ROOT, 'rollup.config.mjs')));
  for (const f of CONSOLE_OUT) {
    if (!fs.existsSync(f)) return `${path.relative(ROOT, f)} is missing`;
    if (fs.statSync(f).mtimeMs < sources) return `${path.relative(ROOT, f)} is older than its sources`;
  }
  return '';
}

/** Builds the hub console (the same `rollup -c`) when dist/console is missing or stale. */
export function ensureConsoleBuilt(log: (line: string) => void = () => undefined): string {
  const why = consoleStaleReason();
  if (!why) return '';
  log(`building the console (${why}) ...`);
  rollup('console');
  const still = consoleStaleReason();
  if (still) throw new Error(`console build ran but ${still}`);
  return why;
}
