// Logs as operations read them: readable on a terminal, journal lines under
// systemd, JSON otherwise, a size-rotated log.file; and start-up failures that
// name the listener, the data dir or the file.
import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import mqtt from 'mqtt';
import { validateConfig } from '../../host-broker/config';
import { resolveFormat, stdoutIsJournal } from '../../host-broker/log';
import { BIN, runCli, startCli } from './run-cli';

interface Launched { out(): string; stdout(): string; err(): string; waitFor(re: RegExp): Promise<RegExpExecArray>; stop(): Promise<number | null> }

/** Starts a command; its output is read from a pipe, or through `readOut` when stdout goes elsewhere. */
function launch(cmd: string[], opts: { env?: Record<string, string>; stdoutFd?: number; readOut?: () => string } = {}): Launched {
  const p = spawn(cmd[0], cmd.slice(1), { env: { ...process.env, ...opts.env }, stdio: ['ignore', opts.stdoutFd ?? 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout?.on('data', (d) => { out += d; });
  p.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => setTimeout(() => r(code), 100)));
  const read = () => (opts.readOut ? opts.readOut() : out);
  return {
    out: read,
    stdout: () => out,
    err: () => err,
    async waitFor(re) {
      const deadline = Date.now() + 20000;
      for (;;) {
        const m = re.exec(read());
        if (m) return m;
        if (p.exitCode !== null || Date.now() > deadline) throw new Error(`no ${re} in the output; stdout: ${read()}; stderr: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop() {
      if (p.exitCode === null) p.kill('SIGTERM');
      return exited;
    },
  };
}

const hubCmd = (...args: string[]) => [process.execPath, BIN, ...args];

describe('logs: formats, rotation, and errors that name what failed', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-logs-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('auto picks journal under systemd, pretty on a terminal, JSON otherwise; a log file gets JSON', () => {
    const tty = { stdoutIsTTY: true, journal: false };
    const pipe = { stdoutIsTTY: false, journal: false };
    const journal = { stdoutIsTTY: false, journal: true };
    assert.equal(resolveFormat({}, tty), 'pretty');
    assert.equal(resolveFormat({}, pipe), 'json');
    assert.equal(resolveFormat({}, journal), 'journal');
    assert.equal(resolveFormat({ file: '/x/hub.log' }, tty), 'json');
    assert.equal(resolveFormat({ format: 'json' }, tty), 'json');
    assert.equal(resolveFormat({ format: 'pretty', file: '/x' }, pipe), 'pretty');
  });

  it('JOURNAL_STREAM counts only when it names the stream stdout is', () => {
    const f = path.join(dir, 'out');
    const fd = fs.openSync(f, 'w');
    try {
      const st = fs.fstatSync(fd);
      assert.equal(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd), true);
      assert.equal(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd), false);
      assert.equal(stdoutIsJournal({ JOURNAL_STREAM: 'garbage' }, fd), false);
      assert.equal(stdoutIsJournal({}, fd), false);
    } finally { fs.closeSync(fd); }
  });

  it('log config fields are validated, naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [{ log: { format: 'xml' } }, /^log\.format: expected one of auto, pretty, json, journal, got "xml"/],
      [{ log: { file: '' } }, /^log\.file: expected a non-empty string/],
      [{ log: { file: 'h.log', maxSize: '10MB' } }, /^log\.maxSize: expected a size like "10M"/],
      [{ log: { file: 'h.log', maxFiles: 0 } }, /^log\.maxFiles: expected an integer 1\.\.1000/],
      [{ log: { maxFiles: 3 } }, /^log\.maxFiles: needs log\.file/],
      [{ log: { file: 'h.log', format: 'journal' } }, /^log\.format: "journal" is for stdout under systemd/],
      [{ log: { rotate: true } }, /^log\.rotate: unknown field/],
    ];
    for (const [cfg, re] of bad) assert.throws(() => validateConfig(cfg), (e: any) => re.test(e.message), JSON.stringify(cfg));
    const ok = validateConfig({ log: { file: 'logs/hub.log', maxSize: '5M', maxFiles: 3, format: 'pretty', level: 'debug' } }, '/etc/hub');
    assert.deepEqual(ok.log, { level: 'debug', format: 'pretty', file: '/etc/hub/logs/hub.log', maxSize: '5M', maxFiles: 3 });
  });

  it('to a pipe: pino JSON lines', async () => {
    const hub = await startCli(['start', '--port', '0', '--data-dir', dir, '--allow-anonymous']);
    try {
      const l = hub.lines.find((x) => x.msg === 'listening');
      assert.equal(l.level, 30);
      assert.equal(l.name, 'host-broker');
    } finally { assert.equal(await hub.stop(), 0); }
  });

  it('on a terminal: one readable line per record with the level as a word (run under script(1) for a pty)', async function () {
    if (spawnSync('script', ['--version']).error) { console.log('      skipped: script(1) (util-linux) is not installed, so no pty'); this.skip(); }
    const hub = launch(['script', '-qfec', hubCmd('start', '--port', '0', '--data-dir', dir, '--allow-anonymous').join(' '), '/dev/null']);
    try {
      await hub.waitFor(/listening/);
    } finally { await hub.stop(); }
    const line = hub.out().split(/\r?\n/).find((x) => x.includes('listening'))!;
    assert.doesNotMatch(line, /^\{"level"/, 'not JSON');
    // eslint-disable-next-line no-control-regex
    const plain = line.replace(/\u001b\[[0-9;]*m/g, '');
    assert.match(plain, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: listening \{"ports":\{"tcp":\d+\}/);
  });

  it('under systemd (JOURNAL_STREAM names stdout): one line per record with a syslog priority, no timestamp', async () => {
    const outFile = path.join(dir, 'journal.out');
    const fd = fs.openSync(outFile, 'w');
    const st = fs.fstatSync(fd);
    const hub = launch(hubCmd('start', '--port', '0', '--data-dir', path.join(dir, 'd')),
      { env: { JOURNAL_STREAM: `${st.dev}:${st.ino}` }, stdoutFd: fd, readOut: () => fs.readFileSync(outFile, 'utf8') });
    fs.closeSync(fd);
    try { await hub.waitFor(/listening/); } finally { assert.equal(await hub.stop(), 0); }
    const lines = hub.out().trim().split('\n');
    assert.match(lines[0], /^<4>WARN: no enabled devices and anonymous access is off.* \{"dataDir":"[^"]+"\}$/);
    const listening = lines.find((x) => x.startsWith('<6>INFO: listening '))!;
    assert.ok(listening, hub.out());
    assert.deepEqual(Object.keys(JSON.parse(listening.slice('<6>INFO: listening '.length))), ['ports', 'dataDir', 'store', 'allowAnonymous', 'devices']);
    for (const l of lines) assert.match(l, /^<[2-7]>[A-Z]+: /);
  });

  it('under systemd, a hub that cannot start says why at priority err', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    const outFile = path.join(dir, 'journal.out');
    const fd = fs.openSync(outFile, 'w');
    const st = fs.fstatSync(fd);
    try {
      // systemd connects stdout and stderr to the same journal stream.
      const p = spawnSync(process.execPath, [BIN, 'start', '--port', String(port), '--data-dir', path.join(dir, 'd'), '--allow-anonymous'],
        { env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` }, stdio: ['ignore', fd, fd] });
      assert.equal(p.status, 1);
    } finally { fs.closeSync(fd); busy.close(); }
    assert.match(fs.readFileSync(outFile, 'utf8'), new RegExp(`^<3>host-broker: tcp listener on 127\\.0\\.0\\.1:${port}: address in use`, 'm'));
  });

  it('log.file: JSON lines, rotated by size keeping maxFiles (hub.log, hub.log.1, hub.log.2), nothing on stdout', async () => {
    const cfg = path.join(dir, 'hub.json');
    fs.writeFileSync(cfg, JSON.stringify({ listeners: { tcp: { port: 0 } }, allowAnonymous: true, log: { file: 'logs/hub.log', maxSize: '1K', maxFiles: 2 } }));
    const logs = path.join(dir, 'logs');
    const readAll = () => (fs.existsSync(logs) ? fs.readdirSync(logs).sort().map((f) => fs.readFileSync(path.join(logs, f), 'utf8')).join('') : '');
    const hub = launch(hubCmd('start', '--config', cfg, '--data-dir', path.join(dir, 'd')), { readOut: readAll });
    try {
      const port = Number((await hub.waitFor(/"tcp":(\d+)/))[1]);
      // Each connect and disconnect logs a line of ~120 bytes: 40 clients make ~10 KB.
      for (let i = 0; i < 40; i++) {
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `c${i}`, reconnectPeriod: 0 });
        await c.endAsync();
      }
      await hub.waitFor(/"clientId":"c39","reason"/);
    } finally { assert.equal(await hub.stop(), 0); }
    assert.deepEqual(fs.readdirSync(logs).sort(), ['hub.log', 'hub.log.1', 'hub.log.2']);
    for (const f of ['hub.log.1', 'hub.log.2']) {
      const size = fs.statSync(path.join(logs, f)).size;
      assert.ok(size >= 1024 && size < 1400, `${f} is ${size} bytes`);
    }
    const last = fs.readFileSync(path.join(logs, 'hub.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(last[last.length - 1].msg, 'stopping', 'the last line is written before exit');
    assert.equal(hub.stdout(), '');
  });

  it('EADDRINUSE names the listener, its address and the setting that moves it', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      let r = await runCli(['start', '--port', String(port), '--data-dir', dir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^host-broker: tcp listener on 127\\.0\\.0\\.1:${port}: address in use \\(EADDRINUSE\\).*\\(--port or listeners\\.tcp\\.port\\)`));
      r = await runCli(['start', '--port', '0', '--control-port', String(port), '--data-dir', dir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`control listener on 127\\.0\\.0\\.1:${port}: address in use \\(EADDRINUSE\\).*--control-port`));
    } finally { busy.close(); }
  });

  it('data dir errors name the path: not creatable, a damaged database, not writable by the user', async () => {
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    let r = await runCli(['start', '--port', '0', '--data-dir', path.join(dir, 'file', 'data')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`data dir ${dir}/file/data: cannot create it \\(ENOTDIR\\)`));
    const damaged = path.join(dir, 'damaged');
    fs.mkdirSync(damaged);
    fs.writeFileSync(path.join(damaged, 'hub.db'), Buffer.alloc(4096, 7));
    r = await runCli(['start', '--port', '0', '--data-dir', damaged]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${damaged}/hub\\.db: not a valid SQLite database .*host-broker restore`));
    // Root may write anywhere: try as nobody when we are root, else with the directory made read-only.
    const asRoot = process.getuid?.() === 0;
    if (asRoot && spawnSync('setpriv', ['--version']).error) { console.log('      (the not-writable case skipped: running as root without setpriv(1))'); return; }
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro, { mode: asRoot ? 0o755 : 0o555 });
    fs.chmodSync(dir, 0o755); // nobody must reach ro
    const cmd = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN] : [process.execPath, BIN];
    const p = spawnSync(cmd[0], [...cmd.slice(1), 'start', '--port', '0', '--data-dir', ro], { encoding: 'utf8' });
    assert.equal(p.status, 1, p.stderr);
    assert.match(p.stderr, new RegExp(`data dir ${ro}: not writable by (user|uid) \\S+ \\((EACCES|EROFS)\\)`));
  });

  it('a second hub on the same data dir is refused, naming the data dir and the running hub\'s pid; kill -9 frees it', async () => {
    const first = await startCli(['start', '--port', '0', '--data-dir', dir]);
    try {
      const r = await runCli(['start', '--port', '0', '--data-dir', dir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`data dir ${dir} is in use by another host-broker process \\(pid ${first.proc.pid}\\)`));
    } finally {
      await new Promise<void>((res) => { first.proc.once('exit', () => res()); first.proc.kill('SIGKILL'); });
    }
    const again = await startCli(['start', '--port', '0', '--data-dir', dir]);
    assert.equal(await again.stop(), 0);
  });
});
