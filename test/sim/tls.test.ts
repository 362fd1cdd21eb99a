import { strict as assert } from 'assert';
import * as tls from 'tls';
import { createBoard, Board } from '../../boards/sim';
import { makeCerts } from '../broker/tls-certs';
import { until } from './peer';

describe('sim: tls sockets (ESP32 profile)', function () {
  this.timeout(20000);
  let certs: ReturnType<typeof makeCerts>;
  let otherCa: string;
  let server: tls.Server;
  let port: number;
  const peers: { authorized: boolean; cn: string }[] = [];
  const cleanup: (() => unknown)[] = [];

  before(async () => {
    certs = makeCerts();
    otherCa = makeCerts().ca;
    server = tls.createServer({ key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true, rejectUnauthorized: false }, (s) => {
      const cert = s.getPeerCertificate();
      peers.push({ authorized: s.authorized, cn: cert && cert.subject ? String(cert.subject.CN) : '' });
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  afterEach(() => { while (cleanup.length) cleanup.pop()!(); });

  function board(): Board {
    const b = createBoard({ board: 'esp32' });
    cleanup.push(() => b.destroy());
    return b;
  }
  const script = (opts: string) => `
    var ev = [], got = "";
    var s = require("tls").connect({ host: "127.0.0.1", port: ${port}${opts} }, function () { ev.push("connect"); s.write("\\x00\\xffsecure"); });
    s.on("data", function (d) { got += d; });
    s.on("error", function (e) { ev.push("error:" + e.code + ":" + e.message); });
    s.on("close", function (e) { ev.push("close:" + e); });`;

  it('connects with the CA and a client certificate, binary-safe both ways', async () => {
    const b = board();
    b.context.opts = { ca: certs.ca, key: certs.client.key, cert: certs.client.cert };
    b.eval(script(', ca: opts.ca, key: opts.key, cert: opts.cert'));
    await until('the echo', () => b.eval('got') === '\x00\xffsecure');
    assert.deepEqual(peers.at(-1), { authorized: true, cn: 'device-42' });
  });

  it('a server not signed by the given CA fails as an SSL handshake error', async () => {
    const b = board();
    b.context.ca = otherCa;
    b.eval(script(', ca: ca'));
    await until('close', () => b.eval('ev').includes('close:true'));
    assert.deepEqual([...b.eval('ev')], ['error:-13:SSL handshake failed', 'close:true']);
  });

  it('without a CA the server is not verified (as mbedTLS on the board)', async () => {
    const b = board();
    b.eval(script(''));
    await until('the echo', () => b.eval('got') === '\x00\xffsecure');
    assert.equal(peers.at(-1)!.authorized, false);
  });
});
