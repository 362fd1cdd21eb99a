// Authentication of the control listener: the one gate (auth.ts) in front of
// the JSON API, the console's live stream and any extension route, over real HTTP.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Broker } from '../../host-broker/broker';
import { validateConfig } from '../../host-broker/config';
import { ControlAuth, isLoopback, resetStoredToken, resolveControlSecret, SESSION_COOKIE, TOKEN_FILE } from '../../host-broker/control/auth';
import { createControl } from '../../host-broker/control/control';
import { ControlApiError, ControlClient } from '../../host-broker/control/http-client';
import { ControlServer, startControlServer } from '../../host-broker/control/http-server';
import type { HubEvent } from '../../host-broker/hooks';
import { hashPassword } from '../../host-broker/security/password';
import { startHub } from '../../host-broker/start-hub';

const TOKEN = 'the-right-token-123';

async function req(url: string, init: RequestInit = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const r = await fetch(url, init);
  const text = await r.text();
  let json: any;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = text; }
  return { status: r.status, json, headers: r.headers };
}

describe('control: authentication', function () {
  this.timeout(20000);
  let broker: Broker;
  let srv: ControlServer;
  let events: HubEvent[];

  beforeEach(async () => {
    broker = new Broker();
    events = [];
    const auth = new ControlAuth({ hash: hashPassword(TOKEN), report: (e) => events.push(e) });
    srv = await startControlServer(createControl(broker), {
      auth,
      extensions: [{ raw: [
        // What a /metrics route would look like: behind the gate, no code of its own for it.
        { method: 'GET', path: '/metrics', handle: (_q, res) => { res.end('hub_up 1\n'); } },
        { method: 'GET', path: '/open', public: true, handle: (_q, res) => { res.end('open'); } },
      ] }],
    });
  });
  afterEach(async () => { await srv.close(); await broker.close(); });

  it('refuses a request without the token (401, WWW-Authenticate), a bad scheme and a wrong token; takes the right one', async () => {
    const none = await req(`${srv.url}/clients`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate')!, /^Bearer /);
    assert.match(none.json.error, /authentication required: send "Authorization: Bearer <token>"/);
    assert.match((await req(`${srv.url}/clients`, { headers: { authorization: `Basic ${TOKEN}` } })).json.error, /expected "Bearer <token>"/);
    assert.equal((await req(`${srv.url}/clients`, { headers: { authorization: 'Bearer nope' } })).status, 401);
    assert.equal((await req(`${srv.url}/clients`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    // Unknown paths are 401 too: nothing about the API shows without the token.
    assert.equal((await req(`${srv.url}/no-such-thing`)).status, 401);
    assert.equal((await req(`${srv.url}/no-such-thing`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);
    assert.ok(events.some((e) => e.kind === 'authentication_failure' && e.objectId === 'control-api'), 'a wrong token raises a hub event');
  });

  it('extension routes sit behind the same gate unless public (a /metrics route needs no auth code of its own)', async () => {
    assert.equal((await req(`${srv.url}/metrics`)).status, 401);
    const ok = await req(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.deepEqual([ok.status, ok.json], [200, 'hub_up 1\n']);
    assert.equal((await req(`${srv.url}/open`)).status, 200);
  });

  it('the ControlClient sends the token (option or HOST_BROKER_TOKEN) and says what is wrong on 401', async () => {
    assert.equal((await new ControlClient(srv.url, { token: TOKEN }).health()).ok, true);
    const saved = process.env.HOST_BROKER_TOKEN;
    try {
      process.env.HOST_BROKER_TOKEN = TOKEN;
      assert.equal((await new ControlClient(srv.url).health()).ok, true);
      delete process.env.HOST_BROKER_TOKEN;
      await assert.rejects(new ControlClient(srv.url).health(), (e: any) => e instanceof ControlApiError && e.status === 401 && /no token was given: set HOST_BROKER_TOKEN/.test(e.message));
      await assert.rejects(new ControlClient(srv.url, { token: 'wrong' }).health(), (e: any) => e.status === 401 && /is not this hub's/.test(e.message));
    } finally {
      if (saved === undefined) delete process.env.HOST_BROKER_TOKEN; else process.env.HOST_BROKER_TOKEN = saved;
    }
  });

  it('console login: a session cookie (HttpOnly, SameSite=Strict); changes need the x-hub-console header; logout ends it', async () => {
    assert.equal((await req(`${srv.url}/login`, { method: 'POST', body: JSON.stringify({ token: 'nope' }) })).status, 401);
    assert.match((await req(`${srv.url}/login`, { method: 'POST', body: '{}' })).json.error, /^token: required/);
    const login = await req(`${srv.url}/login`, { method: 'POST', body: JSON.stringify({ token: TOKEN }) });
    assert.equal(login.status, 200);
    const setCookie = login.headers.get('set-cookie')!;
    assert.match(setCookie, new RegExp(`^${SESSION_COOKIE}=[\\w-]{20,}; HttpOnly; SameSite=Strict; Path=/`));
    const cookie = setCookie.split(';')[0];
    assert.equal((await req(`${srv.url}/clients`, { headers: { cookie } })).status, 200);
    const noHeader = await req(`${srv.url}/refuse-connections`, { method: 'POST', headers: { cookie }, body: '{"ms":0}' });
    assert.equal(noHeader.status, 403);
    assert.match(noHeader.json.error, /x-hub-console/);
    assert.equal((await req(`${srv.url}/refuse-connections`, { method: 'POST', headers: { cookie, 'x-hub-console': '1' }, body: '{"ms":0}' })).status, 200);
    assert.equal((await req(`${srv.url}/logout`, { method: 'POST', headers: { cookie } })).status, 200);
    assert.equal((await req(`${srv.url}/clients`, { headers: { cookie } })).status, 401);
    assert.equal((await req(`${srv.url}/clients`, { headers: { cookie: `${SESSION_COOKIE}=made-up` } })).status, 401);
  });

  it('ten wrong tokens from one address: 429 for a while, even with the right token', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await req(`${srv.url}/clients`, { headers: { authorization: `Bearer wrong-${i}` } })).status, 401);
    const blocked = await req(`${srv.url}/clients`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(blocked.status, 429);
    assert.match(blocked.json.error, /too many wrong tokens from .*; try again in \d+ s/);
    assert.equal((await req(`${srv.url}/login`, { method: 'POST', body: JSON.stringify({ token: TOKEN }) })).status, 429);
  });

  it('isLoopback: 127.0.0.0/8, ::1 and localhost only', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'pi.local']) assert.ok(!isLoopback(h), h);
  });
});

describe('control: the hub\'s token (start-hub)', function () {
  this.timeout(30000);
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-token-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cfg = (control: Record<string, unknown>) => validateConfig({ listeners: { tcp: { port: 0 } }, control: { port: 0, ...control }, dataDir: dir, memory: true });

  it('first start makes a token and keeps only its scrypt hash (0600); later starts take the same token and print none', async () => {
    const first = await startHub(cfg({}));
    let token: string;
    try {
      token = first.controlToken!;
      assert.match(token, /^[\w-]{32}$/);
      const file = path.join(dir, TOKEN_FILE);
      assert.equal(first.controlTokenFile, file);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const stored = fs.readFileSync(file, 'utf8');
      assert.ok(!stored.includes(token), 'the token itself is not stored');
      assert.match(JSON.parse(stored).hash, /^scrypt\$/);
      assert.equal((await new ControlClient(first.controlServer!.url, { token }).health()).ok, true);
    } finally { await first.close(); }
    const again = await startHub(cfg({}));
    try {
      assert.equal(again.controlToken, undefined, 'printed only once');
      assert.equal((await new ControlClient(again.controlServer!.url, { token }).health()).ok, true);
      // A reset (host-broker control-token reset) takes effect on the running hub at once.
      const fresh = resetStoredToken(dir).token;
      await assert.rejects(new ControlClient(again.controlServer!.url, { token }).health(), (e: any) => e.status === 401);
      assert.equal((await new ControlClient(again.controlServer!.url, { token: fresh }).health()).ok, true);
    } finally { await again.close(); }
  });

  it('control.token or control.tokenHash from the config: no file is written', async () => {
    const hub = await startHub(cfg({ token: 'my-own-password' }));
    try {
      assert.equal(hub.controlToken, undefined);
      assert.ok(!fs.existsSync(path.join(dir, TOKEN_FILE)));
      assert.equal((await new ControlClient(hub.controlServer!.url, { token: 'my-own-password' }).health()).ok, true);
    } finally { await hub.close(); }
    assert.equal(resolveControlSecret(dir, { tokenHash: hashPassword('x-password') }).source, 'config');
    assert.throws(() => validateConfig({ control: { port: 0, token: 'short' } }), /control\.token: expected at least 8 characters/);
    assert.throws(() => validateConfig({ control: { port: 0, tokenHash: 'nope' } }), /control\.tokenHash/);
    assert.throws(() => validateConfig({ control: { port: 0, auth: false, token: 'long-enough' } }), /control\.auth: false turns authentication off/);
  });

  it('auth: false is refused on a non-loopback address (0.0.0.0) and allowed on 127.0.0.1', async () => {
    await assert.rejects(startHub(cfg({ auth: false, host: '0.0.0.0' })), /control\.auth: false is allowed only on a loopback address; the control API on 0\.0\.0\.0 needs a token/);
    const hub = await startHub(cfg({ auth: false }));
    try {
      assert.equal((await new ControlClient(hub.controlServer!.url, { token: '' }).health()).ok, true);
    } finally { await hub.close(); }
  });
});
