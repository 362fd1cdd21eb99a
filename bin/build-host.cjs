#!/usr/bin/env node
// Compiles the host side (host-broker/, the tools `npm start` runs, boards/sim)
// from TypeScript to CommonJS in build/, one file per source, with esbuild: the
// same per-file transform tsx applies when tests and dev tools run the sources,
// so the compiled hub behaves as the tested one, without a compiler loaded at
// run time. `npm ci` runs it (prepare); `host-broker` and `npm start` call
// ensureHostBuilt(), which rebuilds only when a source is newer than the build
// (one stat per source file). Files the code reads next to itself at run time
// (board profiles, the simulator's runtime, the HIL agent) are copied along.
// The host-broker command gets the CLI as one bundled file too
// (build/host-broker-cli.js, npm packages left outside): one module to load
// instead of ~75 takes ~17 % off its startup CPU.
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const OUT = path.join(ROOT, 'build');
/** The bundled CLI, what bin/host-broker.cjs runs. */
const CLI_BUNDLE = 'host-broker-cli.js';
const STAMP = path.join(OUT, 'build-stamp.json');
const LOCK = path.join(ROOT, '.build-host.lock');
/** What runs compiled: the CLI, the library entry, npm start, and the bench's broker processes (measured as shipped). */
const ENTRIES = ['host-broker/cli.ts', 'host-broker/index.ts', 'tools/start.ts', 'bench/brokers/ours-process.ts', 'bench/brokers/bridge-edge-process.ts'];
/**
 * How the launchers run node (their first line: bin/README.md), for whatever
 * else starts the compiled hub and should measure or run it the same way.
 */
const RUNTIME = { env: { MALLOC_MMAP_THRESHOLD_: '131072' }, nodeArgs: ['--max-semi-space-size=4'] };
/** Read by the code relative to its own directory (boards/profiles.ts, boards/sim/index.ts, tools/hil/drivers.ts). */
const ASSET_DIRS = [['boards', /\.json$/], ['boards/sim/runtime', /\.js$/], ['tools/hil', /^agent\.js$/]];
/** Bump when the options below change, so an old build is not taken for a current one. */
const FORMAT = 2;

function assets() {
  const out = [];
  for (const [dir, re] of ASSET_DIRS) for (const f of fs.readdirSync(path.join(ROOT, dir))) if (re.test(f)) out.push(`${dir}/${f}`);
  return out;
}

/** Why build/ must be (re)built, or '' when it is current. */
function staleReason() {
  let stamp;
  try { stamp = JSON.parse(fs.readFileSync(STAMP, 'utf8')); } catch { return 'build/ is missing'; }
  if (stamp.format !== FORMAT) return 'the build script changed';
  for (const f of [...stamp.inputs, 'bin/build-host.cjs']) {
    let mtime;
    try { mtime = fs.statSync(path.join(ROOT, f)).mtimeMs; } catch { return `${f} is gone`; }
    if (mtime > stamp.builtAt) return `${f} changed`;
  }
  return '';
}

function build() {
  const esbuild = require('esbuild');
  const startedAt = Date.now();
  // Which files of this project the entries reach (packages stay outside).
  const graph = esbuild.buildSync({
    absWorkingDir: ROOT, entryPoints: ENTRIES, bundle: true, write: false, metafile: true,
    packages: 'external', platform: 'node', format: 'cjs', outdir: OUT, logLevel: 'silent',
  });
  const sources = Object.keys(graph.metafile.inputs).filter((f) => f.endsWith('.ts')).sort();
  const tmp = `${OUT}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  esbuild.buildSync({
    absWorkingDir: ROOT, entryPoints: sources, outdir: tmp, outbase: '.',
    format: 'cjs', platform: 'node', target: 'node20', logLevel: 'error',
  });
  esbuild.buildSync({
    absWorkingDir: ROOT, entryPoints: ['host-broker/cli.ts'], bundle: true, packages: 'external',
    outfile: path.join(tmp, CLI_BUNDLE), format: 'cjs', platform: 'node', target: 'node20', logLevel: 'error',
  });
  const copied = assets();
  for (const f of copied) {
    fs.mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(tmp, f));
  }
  fs.writeFileSync(path.join(tmp, 'build-stamp.json'), JSON.stringify({ format: FORMAT, builtAt: startedAt, inputs: [...sources, ...copied] }, null, 1));
  // Swap the new tree in whole: a process starting meanwhile sees the old build or the new one.
  const old = `${OUT}.old-${process.pid}`;
  if (fs.existsSync(OUT)) fs.renameSync(OUT, old);
  fs.renameSync(tmp, OUT);
  fs.rmSync(old, { recursive: true, force: true });
  return sources.length;
}

function sleepMs(ms) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); }

/** Errors that mean this checkout is read-only for us (a service in its sandbox, another user's install). */
const READ_ONLY = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Builds when stale; one process at a time (the others wait, then find it current).
 * Returns why it built, or ''. Where the checkout cannot be written, a stale build
 * still runs, with a warning saying how to rebuild; a missing one is an error.
 */
function ensureHostBuilt(log = (line) => process.stderr.write(line + '\n'), rebuild = buildInChild) {
  const why = staleReason();
  if (!why) return '';
  try {
    return rebuild(log);
  } catch (err) {
    if (!READ_ONLY.has(err.code) || !fs.existsSync(STAMP)) throw err;
    log(`host-broker: warning: build/ is out of date (${why}) and cannot be rebuilt here (${err.code}); running it as it is. Rebuild with \`npm run build:host\` (or \`npm ci\`) as the checkout's owner.`);
    return '';
  }
}

/**
 * Builds in a child node process: esbuild's synchronous API keeps a worker thread and
 * its service process alive for the rest of the process that called it (~15 MB of RSS,
 * and a child a supervisor sees), which a hub or npm start must not carry for its life.
 */
function buildInChild(log) {
  const r = require('child_process').spawnSync(process.execPath, [__filename, '--json'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  let res;
  try { res = JSON.parse(r.stdout); } catch {
    throw new Error(`bin/build-host.cjs ended with ${r.error ? r.error.message : r.status ?? r.signal} and no result${r.stdout ? `: ${r.stdout.trim()}` : ''}`);
  }
  if (res.error) throw Object.assign(new Error(res.error), { code: res.code });
  for (const line of res.lines) log(line);
  return res.why;
}

function buildLocked(log) {
  let why = staleReason();
  if (!why) return '';
  const deadline = Date.now() + 60000;
  for (;;) {
    try { fs.mkdirSync(LOCK); break; } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      // A builder that died leaves its lock: take it over once it is clearly stale.
      try { if (Date.now() - fs.statSync(LOCK).mtimeMs > 60000) fs.rmSync(LOCK, { recursive: true, force: true }); } catch { /* gone meanwhile */ }
      if (Date.now() > deadline) throw new Error(`another build holds ${LOCK} for over a minute`, { cause: err });
      sleepMs(50);
    }
  }
  try {
    why = staleReason();
    if (!why) return '';
    const t0 = Date.now();
    const n = build();
    log(`host-broker: compiled ${n} files into build/ (${why}) in ${Date.now() - t0} ms`);
    return why;
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

module.exports = { ensureHostBuilt, staleReason, OUT, CLI_BUNDLE, RUNTIME };

if (require.main === module && process.argv[2] === '--json') {
  // For buildInChild(): the result, or the error with its code (a read-only checkout), as one JSON line.
  const lines = [];
  let res;
  try { res = { why: buildLocked((line) => lines.push(line)), lines }; } catch (err) { res = { error: err.message, code: err.code }; }
  process.stdout.write(JSON.stringify(res) + '\n');
} else if (require.main === module) {
  try {
    if (!ensureHostBuilt((line) => process.stdout.write(line + '\n'), buildLocked)) process.stdout.write('host-broker: build/ is current\n');
  } catch (err) {
    process.stderr.write(`host-broker: build failed: ${err.message}\n`);
    process.exit(1);
  }
}
