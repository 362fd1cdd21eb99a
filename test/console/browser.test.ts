// The hub console in a real headless Chromium (Debian `chromium`, driven by
// playwright-core) against a real hub: simulated boards running the telemetry
// bundle, MQTT.js clients, the control API with its token. Screenshots go to a
// temp dir, or to docs/console/ with UPDATE_SCREENSHOTS=1 (how the ones in
// docs/console.md are made).
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import type { Board } from '../../boards/sim';
import { validateConfig } from '../../host-broker/config';
import { RunningHub, startHub } from '../../host-broker/start-hub';
import { ensureBuilt, ensureConsoleBuilt } from '../../tools/hil/build';
import { startTelemetryBoard } from '../../tools/hil/sim-app';
import { Browser, chromiumMissing, launch } from './chromium';
import { connect } from '../helpers/mqttjs';

// Code passed to page.evaluate runs in the browser; the host tsconfig has no DOM lib.
declare const document: any;
declare const location: any;
declare const window: any;
declare const getComputedStyle: any;
type HTMLCanvasElement = any;

const TOKEN = 'console-test-token-0123456789';
const SHOTS = process.env.UPDATE_SCREENSHOTS ? path.join(__dirname, '..', '..', 'docs', 'console') : fs.mkdtempSync(path.join(os.tmpdir(), 'console-shots-'));

describe('console: in headless Chromium', function () {
  this.timeout(60000);
  let browser: Browser;
  let page: Page;
  let hub: RunningHub;
  let dir: string;
  let mqttUrl: string;
  let base: string;
  const boards: Board[] = [];
  const clients: MqttClient[] = [];

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  const goto = async (view: string) => {
    // Logged in already by the first test; when run alone (mocha -g), log in here.
    if (page.url() === 'about:blank') await page.goto(base);
    if (await page.locator('#login').count()) {
      await page.fill('#login input[name=token]', TOKEN);
      await page.click('#login button[type=submit]');
      await page.waitForSelector('#live.on');
    }
    await page.evaluate((v) => { location.hash = v; }, view);
    await page.waitForSelector(`#view-${view}`);
  };

  before(async function () {
    const why = chromiumMissing();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    ensureBuilt(['esp32']);
    ensureConsoleBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-browser-'));
    fs.mkdirSync(SHOTS, { recursive: true });
    hub = await startHub(validateConfig({
      listeners: { tcp: { port: 0 } },
      control: { port: 0, token: TOKEN },
      dataDir: dir, memory: true, allowAnonymous: true,
      devices: [{ id: 'garage-door', name: 'Garage door', username: 'garage', password: 'garage-pw' }],
    }));
    mqttUrl = `mqtt://127.0.0.1:${hub.ports.tcp}`;
    base = hub.consoleUrl!;
    browser = await launch();
    page = await browser.context.newPage();
    page.on('pageerror', (err) => { throw err; });
  });

  afterEach(async function () {
    // What the page showed when a test failed: its text (and toasts) in the failure output.
    if (this.currentTest?.state === 'failed' && page && !page.isClosed()) {
      const text = await page.evaluate(() => document.body.innerText.slice(0, 3000)).catch(() => '');
      console.log(`      page at failure:\n${text.replace(/^/gm, '        | ')}`);
    }
  });

  after(async () => {
    boards.forEach((b) => b.destroy());
    for (const c of clients) c.end(true);
    await browser?.close();
    await hub?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (!process.env.UPDATE_SCREENSHOTS && fs.existsSync(SHOTS)) fs.rmSync(SHOTS, { recursive: true, force: true });
  });

  it('refuses a request without the token (API, live stream, page data); the login form takes it', async () => {
    for (const p of ['/console/devices', '/clients', '/live', '/health']) {
      assert.equal((await fetch(base.replace(/\/$/, '') + p)).status, 401, p);
    }
    assert.equal((await fetch(base + 'clients', { headers: { authorization: 'Bearer wrong-token' } })).status, 401);
    assert.equal((await fetch(base + 'clients', { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    await page.goto(base);
    await page.waitForSelector('#login input[name=token]');
    assert.equal(await page.evaluate(() => fetch('/clients').then((r) => r.status)), 401, 'the browser has no session yet');
    await page.fill('#login input[name=token]', 'not-it');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#login .error:has-text("wrong token")');
    await shot('login');
    await page.fill('#login input[name=token]', TOKEN);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#view-devices');
    await page.waitForSelector('#live.on');
    assert.equal(await page.evaluate(() => fetch('/clients').then((r) => r.status)), 200, 'the session cookie now lets it in');
    // A change without the console header is refused even with the cookie (a cross-site form cannot add it).
    assert.equal(await page.evaluate(() => fetch('/devices/garage-door/disable', { method: 'POST' }).then((r) => r.status)), 403);
  });

  it('a board connects and shows online within 1 s', async () => {
    await goto('devices');
    const id = 'esp32-kitchen';
    const connected = new Promise<number>((resolve) => {
      const on = (c: { clientId: string }) => { if (c.clientId === id) { hub.broker.off('clientConnected', on); resolve(Date.now()); } };
      hub.broker.on('clientConnected', on);
    });
    boards.push(startTelemetryBoard({ board: 'esp32', config: { id, host: '127.0.0.1', port: hub.ports.tcp!, interval: 200 } }));
    const at = await connected;
    await page.waitForSelector(`tr[data-id="${id}"] .badge.online`, { timeout: 1000 });
    const ms = Date.now() - at;
    assert.ok(ms < 1000, `shown online ${ms} ms after CONNACK`);
    // Two more boards: each reads its own temperatures (seeded by id), for the plots below.
    for (const other of ['esp32-attic', 'esp32-cellar']) {
      boards.push(startTelemetryBoard({ board: 'esp32', config: { id: other, host: '127.0.0.1', port: hub.ports.tcp!, interval: 200 } }));
      await page.waitForSelector(`tr[data-id="${other}"] .badge.online`, { timeout: 5000 });
    }
    const row = await page.textContent(`tr[data-id="${id}"]`);
    assert.match(row!, /127\.0\.0\.1 \(tcp\)/);
    assert.match(row!, /persistent, \d+ queued, \d+ in flight/);
  });

  it('a published message appears in the tail and in the topic tree; filter, pause, text and hex', async () => {
    const c = await connect(mqttUrl, { clientId: 'console-publisher' });
    clients.push(c);
    await goto('messages');
    await c.publishAsync('console/test/hello', 'hello console', { qos: 1, retain: true });
    const row = page.locator('#view-messages tr[data-topic="console/test/hello"]').first();
    await row.waitFor({ timeout: 5000 });
    assert.match(await row.textContent() ?? '', /hello console/);
    assert.match(await row.textContent() ?? '', /console-publisher/);
    await c.publishAsync('console/test/bytes', Buffer.from([0, 1, 2, 0xff]), { qos: 0 });
    await page.waitForSelector('#view-messages tr[data-topic="console/test/bytes"] code.hex:has-text("00 01 02 ff")');

    // The filter box: only telemetry stays.
    await page.fill('#filter', 'devices/+/telemetry');
    await page.waitForSelector('#view-messages tr[data-topic="devices/esp32-kitchen/telemetry"]');
    assert.equal(await page.locator('#view-messages tr[data-topic="console/test/hello"]').count(), 0);
    await page.fill('#filter', 'console/#');
    await shot('messages');
    // Pause: a new message waits until resume.
    await page.click('#pause');
    await c.publishAsync('console/test/later', 'after pause', { qos: 1 });
    await page.waitForSelector('#view-messages p.muted:has-text("1 new message(s) waiting")');
    assert.equal(await page.locator('#view-messages tr[data-topic="console/test/later"]').count(), 0);
    await page.click('#pause');
    await page.waitForSelector('#view-messages tr[data-topic="console/test/later"]');
    await page.fill('#filter', '#/x');
    await page.waitForSelector('#view-messages p.error:has-text("\'#\' last")');
    await page.fill('#filter', '');

    await goto('topics');
    const leaf = page.locator('li[data-topic="console/test/hello"]');
    await leaf.waitFor();
    assert.match(await leaf.textContent() ?? '', /hello console.*retained/);
    await page.waitForSelector('li[data-topic="devices/esp32-kitchen/telemetry"] code.payload:has-text("temp")');
    await shot('topics');
  });

  it('disabling a device kicks it and the page shows it offline; enable lets it back', async () => {
    await goto('devices');
    const c = await connect(mqttUrl, { clientId: 'garage-1', username: 'garage', password: 'garage-pw' });
    clients.push(c);
    const row = 'tr[data-id="garage-door"]';
    await page.waitForSelector(`${row} .badge.online`);
    assert.match(await page.textContent(row) ?? '', /garage-1/);
    await shot('devices');
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    await page.click(`${row} button[data-action=disable]`);
    await closed;
    await page.waitForSelector(`${row} .badge.offline`, { timeout: 3000 });
    await page.waitForSelector(`${row} .badge.disabled`);
    await assert.rejects(connect(mqttUrl, { clientId: 'garage-1', username: 'garage', password: 'garage-pw' }), (e: any) => e.code === 5);
    await page.click(`${row} button[data-action=enable]`);
    await page.waitForSelector(`${row} button[data-action=disable]`);
    clients.push(await connect(mqttUrl, { clientId: 'garage-1', username: 'garage', password: 'garage-pw' }));
    await page.waitForSelector(`${row} .badge.online`);
  });

  it('adds a device from the form and issues its certificate for download', async () => {
    await goto('devices');
    await page.click('text=add device');
    await page.fill('#add-device input[name=id]', 'porch-light');
    await page.fill('#add-device input[name=username]', 'porch');
    await page.fill('#add-device input[name=password]', 'porch-pw');
    await page.click('#add-device button[type=submit]');
    await page.waitForSelector('tr[data-id="porch-light"]');
    assert.equal(hub.registry.get('porch-light')!.username, 'porch');
    page.once('dialog', (d) => void d.accept());
    await page.click('tr[data-id="porch-light"] button[data-action=certificate]');
    const link = page.locator('a[download="porch-light.cert.pem"]');
    await link.waitFor({ timeout: 15000 });
    const download = await Promise.all([page.waitForEvent('download'), link.click()]).then(([d]) => d);
    const pem = fs.readFileSync((await download.path())!, 'utf8');
    assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
    assert.ok(hub.registry.get('porch-light')!.certFingerprint, 'the certificate is pinned');
    page.once('dialog', (d) => void d.accept());
    await page.click('tr[data-id="porch-light"] button[data-action=remove]');
    await page.waitForSelector('tr[data-id="porch-light"]', { state: 'detached' });
    assert.equal(hub.registry.get('porch-light'), undefined);
  });

  it('a plot draws points: each board\'s temperature as its own line', async () => {
    await goto('plots');
    await page.waitForFunction(() => Number(document.querySelector('#chart')?.getAttribute('data-points')) >= 30, null, { timeout: 15000 });
    assert.equal(await page.getAttribute('#chart', 'data-field'), 'temp');
    const legend = await page.textContent('#chart .u-legend');
    for (const id of ['esp32-kitchen', 'esp32-attic', 'esp32-cellar']) assert.ok(legend!.includes(id), `${id} in the legend`);
    // The lines are on the canvas: count pixels in the series colours.
    const coloured = await page.evaluate(() => {
      const cv = document.querySelector('#chart canvas') as HTMLCanvasElement;
      const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
      const want = [[0x25, 0x63, 0xeb], [0xdc, 0x26, 0x26], [0x16, 0xa3, 0x4a]];
      const n = [0, 0, 0];
      for (let i = 0; i < d.length; i += 4) want.forEach((c, k) => { if (Math.abs(d[i] - c[0]) < 40 && Math.abs(d[i + 1] - c[1]) < 40 && Math.abs(d[i + 2] - c[2]) < 40 && d[i + 3] > 200) n[k]++; });
      return n;
    });
    assert.ok(coloured.every((n) => n > 30), `pixels per line: ${coloured.join(', ')}`);
    // Boards differ: their temperatures are not one line drawn three times.
    const series: any = await (await fetch(base + 'series', { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    const means = series.filter((s: any) => /^devices\/esp32-/.test(s.topic))
      .map((s: any) => s.fields.temp.reduce((a: number, b: number) => a + b, 0) / s.fields.temp.length);
    assert.equal(new Set(means.map((m: number) => m.toFixed(1))).size, 3, means.join(', '));
    await page.waitForTimeout(1500);
    await shot('plots');
  });

  it('hub events arrive live and filter by severity and kind', async () => {
    await goto('events');
    await assert.rejects(connect(mqttUrl, { clientId: 'intruder', username: 'garage', password: 'wrong' }), (e: any) => e.code === 4);
    await page.waitForSelector('#view-events tr[data-kind="authentication_failure"]');
    await page.selectOption('#view-events select[aria-label=severity]', 'error');
    await page.waitForSelector('#view-events tr[data-kind="authentication_failure"]', { state: 'detached' });
    await page.selectOption('#view-events select[aria-label=severity]', '');
    await page.selectOption('#view-events select[aria-label=kind]', 'authentication_failure');
    await page.waitForSelector('#view-events tr[data-kind="authentication_failure"]');
    await shot('events');
  });

  it('routes: status and backlog; dead letters requeued and then delivered', async () => {
    // A REST target that refuses (400: a permanent failure, dead-lettered) until it is "fixed".
    let fixed = false;
    const got: string[] = [];
    const target = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => { if (fixed) got.push(body); res.writeHead(fixed ? 200 : 400); res.end(fixed ? 'ok' : 'no'); });
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
    try {
      hub.routes.add({ name: 'to-api', type: 'rest', filter: 'console/route/#', uri: `http://127.0.0.1:${(target.address() as any).port}/in`,
        delivery: { backoff: { initialMs: 20, maxMs: 50 }, timeoutMs: 2000, maxAttempts: 1 } });
      await hub.broker.publish({ topic: 'console/route/a', payload: '{"n":1}', qos: 1 });
      await goto('routes');
      const row = 'tr[data-route="to-api"]';
      await page.waitForSelector(`${row} td[data-label="dead letters"]:text-is("1")`, { timeout: 10000 });
      assert.match(await page.textContent(row) ?? '', /HTTP 400|400/);
      await page.click(`${row} button:has-text("dead letters")`);
      await page.waitForSelector('#view-routes .panel td.topic:has-text("console/route/a")');
      await shot('routes');
      fixed = true;
      await page.click('#view-routes button:has-text("requeue all")');
      await page.waitForSelector('#view-routes .panel p.muted:has-text("No dead letters")', { timeout: 5000 });
      await page.waitForSelector(`${row} td[data-label="delivered"]:has-text("1")`, { timeout: 10000 });
      assert.deepEqual(got, ['{"n":1}']);
    } finally {
      await hub.routes.remove('to-api');
      await new Promise((r) => target.close(r));
    }
  });

  it('HIL: adds a fault rule from the form; shows a client\'s transcript', async () => {
    if (!hub.broker.clients().some((c) => c.clientId === 'esp32-kitchen')) {
      boards.push(startTelemetryBoard({ board: 'esp32', config: { id: 'esp32-kitchen', host: '127.0.0.1', port: hub.ports.tcp!, interval: 200 } }));
      await hub.control!.waitForMessage('devices/esp32-kitchen/telemetry');
    }
    await goto('hil');
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    const addRule = async (clientId: string, direction: string, cmd: string, action: string) => {
      await page.fill('#view-hil input[name=clientId]', clientId);
      await page.selectOption('#view-hil select[name=direction]', direction);
      await page.selectOption('#view-hil select[name=cmd]', cmd);
      await page.selectOption('#view-hil select[name=action]', action);
      await page.fill('#view-hil input[name=ms]', '300');
      await page.click('#view-hil button:has-text("add fault rule")');
    };
    // A rule for a board not here yet stays listed until it is removed.
    await addRule('bench-board-7', 'in', 'connect', 'drop');
    await page.waitForSelector('#view-hil td:has-text("connect from the client")');
    const faults: any = await (await fetch(base + 'faults', auth)).json();
    assert.deepEqual(faults.map((f: any) => [f.clientId, f.direction, f.cmd, f.action, f.remaining]), [['bench-board-7', 'in', 'connect', 'drop', 1]]);
    await page.click('#view-hil tr:has-text("bench-board-7") button:has-text("remove")');
    await page.waitForSelector('#view-hil p.muted:has-text("No fault rules")');
    assert.deepEqual(await (await fetch(base + 'faults', auth)).json(), []);
    // One delayed PUBACK to a running board shows in its transcript.
    await addRule('esp32-kitchen', 'out', 'puback', 'delay');
    await page.selectOption('#view-hil select[aria-label=client]', 'esp32-kitchen');
    for (let i = 0; i < 50 && !(await page.locator('#view-hil tr.fault').count()); i++) {
      await page.waitForTimeout(200);
      await page.click('#view-hil button:has-text("refresh")');
    }
    await page.waitForSelector('#view-hil tr.fault td:has-text("delayed")');
    await page.waitForSelector('#view-hil td:has-text("devices/esp32-kitchen/telemetry")');
    await shot('hil');
  });

  it('fits a phone screen: no sideways scrolling, tables become cards', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const view of ['devices', 'messages', 'topics', 'events', 'plots', 'hil']) {
      await goto(view);
      await page.waitForTimeout(300);
      const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(over <= 0, `${view}: ${over} px wider than the screen`);
    }
    await goto('devices');
    assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('table.cards thead')!).display), 'none');
    await shot('phone-devices');
    await goto('plots');
    await page.waitForTimeout(500);
    await shot('phone-plots');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('weighs under 200 KB: what a first visit transfers for the page, its script and its style', async () => {
    const p = await browser.context.newPage();
    const sizes: { url: string; body: number; headers: number; raw: number }[] = [];
    p.on('requestfinished', async (req) => {
      const url = new URL(req.url());
      if (url.pathname !== '/' && !url.pathname.startsWith('/assets/')) return;
      const s = await req.sizes();
      const res = await req.response();
      sizes.push({ url: url.pathname, body: s.responseBodySize, headers: s.responseHeadersSize, raw: (await res!.body()).length });
    });
    await p.route('**/*', (route) => route.continue({ headers: { ...route.request().headers(), 'cache-control': 'no-cache' } }));
    await p.goto(base);
    await p.waitForSelector('#view-devices');
    await p.waitForTimeout(200);
    await p.close();
    const paths = sizes.map((x) => x.url).sort();
    assert.deepEqual(paths, ['/', '/assets/app.css', '/assets/app.js']);
    const transferred = sizes.reduce((n, x) => n + x.body + x.headers, 0);
    const raw = sizes.reduce((n, x) => n + x.raw, 0);
    console.log(`      page weight: ${(transferred / 1024).toFixed(1)} KB transferred (gzip), ${(raw / 1024).toFixed(1)} KB uncompressed: ${sizes.map((x) => `${x.url} ${(x.body / 1024).toFixed(1)} KB`).join(', ')}`);
    assert.ok(raw < 200 * 1024, `${raw} bytes uncompressed`);
    assert.ok(transferred < 200 * 1024, `${transferred} bytes transferred`);
  });
});
