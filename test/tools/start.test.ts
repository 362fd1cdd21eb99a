// `npm start` as a spawned process: host broker + simulated boards + live summary.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTool } from './run';
import { validateConfig } from '../../host-broker/config';
import { startHub } from '../../host-broker/start-hub';
import { brokerTarget, openerFor, parseBrokerUrl, redactUrl } from '../../tools/start';
import { startLocalHub } from '../../tools/hil/hub';

describe('npm start (tools/start.ts)', function () {
  this.timeout(90000);

  it('--duration 5: starts the broker and 3 boards, exits 0 with a final summary that counts telemetry per board', async () => {
    const r = await runTool('tools/start.ts', ['--duration', '5']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /host broker on mqtt:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stdout, /^console: http:\/\/127\.0\.0\.1:\d+\/#token=/m);
    const summary = r.stdout.slice(r.stdout.indexOf('final summary:'));
    assert.match(summary, /boards 3\/3 online \| (\d+) messages/);
    const rows = summary.split('\n').filter((l) => /^esp32-\w+-\d /.test(l));
    assert.equal(rows.length, 3, summary);
    for (const row of rows) {
      const m = /online\s+(\d+)\s+seq (\d+)/.exec(row);
      assert.ok(m && Number(m[1]) > 0, `a board with no telemetry: ${row}`);
    }
  });

  it('prints the console address with its token; --open hands it to $BROWSER, which gets the page, and the API only with the token', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'start-open-'));
    try {
      // A stand-in browser: fetches what the address leads to and writes down what it got.
      const out = path.join(dir, 'seen.json');
      const opener = path.join(dir, 'browser.cjs');
      fs.writeFileSync(opener, `#!${process.execPath}
const url = new URL(process.argv[2]);
const token = /token=([^&]+)/.exec(url.hash)[1];
(async () => {
  const page = await fetch(url.origin + '/');
  const html = await page.text();
  const without = await fetch(url.origin + '/console/devices');
  const withToken = await fetch(url.origin + '/console/devices', { headers: { authorization: 'Bearer ' + token } });
  require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ url: process.argv[2], page: page.status, html, without: without.status, withToken: withToken.status }));
})();
`, { mode: 0o755 });
      const r = await runTool('tools/start.ts', ['--duration', '4', '--boards', '1', '--console-port', '0', '--open'], 60000, { BROWSER: opener });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const m = /^console: (http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]+)$/m.exec(r.stdout);
      assert.ok(m, r.stdout);
      const seen = JSON.parse(fs.readFileSync(out, 'utf8'));
      assert.equal(seen.url, m[1]);
      assert.equal(seen.page, 200);
      assert.match(seen.html, /<title>hub console<\/title>/);
      assert.deepEqual([seen.without, seen.withToken], [401, 200]);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it('openerFor: $BROWSER first, else the platform\'s opener', () => {
    assert.deepEqual(openerFor('http://x/', { BROWSER: '/bin/b' }, 'linux'), ['/bin/b', ['http://x/']]);
    assert.deepEqual(openerFor('http://x/', {}, 'linux'), ['xdg-open', ['http://x/']]);
    assert.deepEqual(openerFor('http://x/', {}, 'darwin'), ['open', ['http://x/']]);
  });

  it('--broker: uses a broker that is already running instead of starting one', async () => {
    const hub = await startLocalHub({});
    try {
      const r = await runTool('tools/start.ts', ['--duration', '3', '--boards', '1', '--board', 'esp8266', '--broker', hub.url]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout, /host broker on/);
      assert.match(r.stdout, new RegExp(`broker ${hub.url.replace(/\./g, '\\.')} \\| boards 1/1 online`));
      const msgs = await hub.control.messages({ filter: 'devices/+/telemetry' });
      assert.ok(msgs.messages.length > 0);
    } finally { await hub.close(); }
  });

  it('--help lists the flags; a bad flag value is refused with a message naming it', async () => {
    const help = await runTool('tools/start.ts', ['--help']);
    assert.equal(help.code, 0);
    for (const f of ['--boards', '--board', '--broker', '--duration', '--console-port', '--open']) assert.ok(help.stdout.includes(f), f);
    const bad = await runTool('tools/start.ts', ['--boards', 'x']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--boards.*expected a whole number/);
    assert.throws(() => parseBrokerUrl('http://x:1'), /expected mqtt:\/\/\[user\[:password\]@\]host\[:port\]/);
    assert.deepEqual(parseBrokerUrl('mqtt://10.0.0.2'), { host: '10.0.0.2', port: 1883 });
  });

  it('--broker takes credentials in the URL (percent-encoded) or as flags; errors never show the password', () => {
    assert.deepEqual(parseBrokerUrl('mqtt://demo:s3cret%40pw@pi.local:1884'), { host: 'pi.local', port: 1884, username: 'demo', password: 's3cret@pw' });
    assert.deepEqual(brokerTarget({ broker: 'mqtt://pi.local', username: 'demo', password: 'pw' }), { host: 'pi.local', port: 1883, username: 'demo', password: 'pw' });
    const secret = 'hunter2-secret';
    for (const [o, why] of [
      [{ broker: `mqtt://demo:${secret}@pi.local:99999` }, /expected mqtt:\/\/.*got "mqtt:\/\/demo:\*\*\*@pi\.local:99999"/],
      [{ broker: `mqtt://demo:${secret}@pi.local:0` }, /port must be 1\.\.65535, got "mqtt:\/\/demo:\*\*\*@pi\.local:0"/],
      [{ broker: `mqtts://demo:${secret}@pi.local` }, /expected mqtt:\/\/.*got "mqtts:\/\/demo:\*\*\*@pi\.local"/],
      [{ broker: `mqtt://demo:${secret}@pi.local`, password: 'again' }, /--password: the --broker URL has a password already/],
      [{ broker: 'mqtt://pi.local', password: secret }, /--password: needs a user name/],
      [{ username: 'demo', password: secret }, /only with --broker/],
    ] as const) {
      assert.throws(() => brokerTarget(o), (e: any) => why.test(e.message) && !e.message.includes(secret), JSON.stringify(o));
    }
    assert.equal(redactUrl(`mqtt://demo:${secret}@h:1`), 'mqtt://demo:***@h:1');
  });

  it('--broker with credentials: the boards and the monitor log in to a hub that requires them; a wrong password fails without printing it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'start-creds-'));
    const hub = await startHub(validateConfig({
      listeners: { tcp: { port: 0 } }, dataDir: dir, memory: true, allowAnonymous: false,
      devices: [{ id: 'demo', username: 'demo', password: 'demo pw@1', publish: { accept: ['devices/#'] }, subscribe: { accept: ['devices/#'] } }],
    }));
    try {
      const url = `mqtt://demo:${encodeURIComponent('demo pw@1')}@127.0.0.1:${hub.ports.tcp}`;
      const r = await runTool('tools/start.ts', ['--duration', '3', '--boards', '1', '--broker', url]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /boards 1\/1 online \| [1-9]\d* messages/);
      assert.match(r.stdout, /mosquitto_sub -h 127\.0\.0\.1 -p \d+ -u demo -P <password>/);
      assert.ok(!(r.stdout + r.stderr).includes('demo pw@1') && !(r.stdout + r.stderr).includes('demo%20pw'), 'the password is never printed');
      const flags = await runTool('tools/start.ts', ['--duration', '2', '--boards', '1', '--broker', `mqtt://127.0.0.1:${hub.ports.tcp}`, '--username', 'demo', '--password', 'demo pw@1']);
      assert.equal(flags.code, 0, flags.stdout + flags.stderr);
      const wrong = await runTool('tools/start.ts', ['--duration', '2', '--boards', '1', '--broker', `mqtt://demo:not-it-xyz@127.0.0.1:${hub.ports.tcp}`]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /npm start: cannot connect to mqtt:\/\/127\.0\.0\.1:\d+ as demo: .*(Bad username or password|Not authorized)/i);
      assert.ok(!(wrong.stdout + wrong.stderr).includes('not-it-xyz'));
    } finally {
      await hub.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
