// The host side runs compiled: `host-broker` and `npm start` load build/
// (bin/build-host.cjs, esbuild per file), never a TypeScript loader, and
// rebuild first when a source is newer than the build.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from './run-cli';
import { RUNTIME_ENVIRONMENT } from '../../host-broker/service';

const ROOT = path.join(__dirname, '..', '..');
const node = (args: string[], timeout = 60000) => spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout });

describe('host side compiled to build/', function () {
  this.timeout(120000);

  it('the host-broker command recompiles a changed source before it runs, then finds build/ current', async () => {
    assert.equal(node(['bin/build-host.cjs']).status, 0);
    const src = path.join(ROOT, 'host-broker', 'events.ts');
    await new Promise((r) => setTimeout(r, 50));
    const now = new Date(); // newer than the build just checked
    fs.utimesSync(src, now, now);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-build-'));
    try {
      const first = await runCli(['devices', 'list', '--data-dir', dir], { timeoutMs: 60000 });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /compiled \d+ files into build\/ \(host-broker\/events\.ts changed\)/);
      const second = await runCli(['devices', 'list', '--data-dir', dir]);
      assert.equal(second.code, 0, second.stderr);
      assert.doesNotMatch(second.stderr, /compiled/);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it('a launcher that rebuilds does it in a child process: esbuild (its worker thread and service process) never lives in the hub', async () => {
    const src = path.join(ROOT, 'host-broker', 'events.ts');
    await new Promise((r) => setTimeout(r, 50));
    const now = new Date(); // newer than the last build
    fs.utimesSync(src, now, now);
    const probe = `const b = require('./bin/build-host.cjs'); const why = b.ensureHostBuilt(() => undefined);
      console.log(JSON.stringify({ why, esbuild: Object.keys(require.cache).some((f) => f.includes('esbuild')) }));`;
    const r = node(['-e', probe]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { why: 'host-broker/events.ts changed', esbuild: false });
  });

  it('where the checkout is read-only, a stale build still runs, with a warning saying how to rebuild', () => {
    const build = require(path.join(ROOT, 'bin', 'build-host.cjs')) as { ensureHostBuilt(log: (l: string) => void, rebuild?: () => string): string; staleReason(): string };
    build.ensureHostBuilt(() => undefined);
    const src = path.join(ROOT, 'host-broker', 'events.ts');
    const now = new Date(); // newer than the build just checked
    fs.utimesSync(src, now, now);
    const lines: string[] = [];
    const readOnly = () => { throw Object.assign(new Error('read-only file system'), { code: 'EROFS' }); };
    assert.equal(build.ensureHostBuilt((l) => lines.push(l), readOnly), '');
    assert.match(lines.join('\n'), /warning: build\/ is out of date \(host-broker\/events\.ts changed\) and cannot be rebuilt here \(EROFS\).*npm run build:host/);
    const other = () => { throw Object.assign(new Error('boom'), { code: 'EIO' }); };
    assert.throws(() => build.ensureHostBuilt(() => undefined, other), /boom/);
    assert.notEqual(build.ensureHostBuilt(() => undefined), '', 'rebuilt once writable');
    assert.equal(build.staleReason(), '');
  });

  it('build/ holds JavaScript only, and the compiled CLI loads no TypeScript compiler or loader', () => {
    assert.equal(node(['bin/build-host.cjs']).status, 0);
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else files.push(e.name);
      }
    };
    walk(path.join(ROOT, 'build'));
    assert.ok(files.includes('cli.js') && files.includes('start.js') && files.includes('host-broker-cli.js'));
    assert.deepEqual(files.filter((f) => f.endsWith('.ts')), []);
    const r = node(['-e', `require('./build/host-broker-cli.js'); require('./build/host-broker/cli.js'); require('./build/tools/start.js');
      console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /node_modules[\\\\/](tsx|typescript|esbuild)[\\\\/]/.test(k))))`]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  it('the memory tuning is the same on both launchers\' first line, for the bench (RUNTIME) and in the systemd unit', () => {
    const { RUNTIME } = require(path.join(ROOT, 'bin', 'build-host.cjs')) as { RUNTIME: { env: Record<string, string>; nodeArgs: string[] } };
    const env = Object.entries(RUNTIME.env).map(([k, v]) => `${k}=${v}`);
    for (const bin of ['host-broker.cjs', 'start.cjs']) {
      const first = fs.readFileSync(path.join(ROOT, 'bin', bin), 'utf8').split('\n')[0];
      assert.equal(first, `#!/usr/bin/env -S ${env.join(' ')} node ${RUNTIME.nodeArgs.join(' ')}`, bin);
    }
    assert.deepEqual(RUNTIME_ENVIRONMENT, [...env, `NODE_OPTIONS=${RUNTIME.nodeArgs.join(' ')}`]);
  });

  it('npm start (bin/start.cjs) runs the compiled tools: hub, a simulated board, telemetry', () => {
    const r = node(['bin/start.cjs', '--duration', '3', '--boards', '1', '--board', 'esp8266']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /boards 1\/1 online \| [1-9]\d* messages/);
  });
});
