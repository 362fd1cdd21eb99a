// TLS on a LAN: the server certificate the hub CA issues names every address
// the hub listens on (every interface address and the host name for --host
// 0.0.0.0) and the names given with --tls-name, and is reissued when that list
// changes. A device that reaches the hub by another name than localhost (here:
// 127.0.0.1 with the TLS server name set, as tests must stay on this machine)
// verifies it against the hub CA.
import { strict as assert } from 'assert';
import { X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import mqtt from 'mqtt';
import { resolveStartConfig } from '../../host-broker/cli';
import { validateConfig } from '../../host-broker/config';
import { HubCA } from '../../host-broker/security/ca';
import { checkServerName, serverCertNames } from '../../host-broker/security/server-names';
import { startHub } from '../../host-broker/start-hub';

describe('TLS on a LAN: the names in the hub\'s server certificate', function () {
  this.timeout(30000);

  describe('serverCertNames', () => {
    const interfaces = {
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }, { address: '::1', family: 'IPv6', internal: true, scopeid: 0 }],
      eth0: [{ address: '192.168.1.20', family: 'IPv4', internal: false }, { address: 'fd00::20', family: 'IPv6', internal: false, scopeid: 0 },
        { address: 'fe80::1', family: 'IPv6', internal: false, scopeid: 2 }],
      wlan0: [{ address: '10.0.0.7', family: 'IPv4', internal: false }],
    } as unknown as ReturnType<typeof os.networkInterfaces>;

    it('bound to 127.0.0.1: the loopback names and the host name (and its .local mDNS name)', () => {
      assert.deepEqual(serverCertNames('127.0.0.1', [], { hostname: 'pi', interfaces }), ['localhost', '127.0.0.1', '::1', 'pi', 'pi.local']);
    });

    it('bound to 0.0.0.0: every IPv4 interface address, then --tls-name names; no duplicates', () => {
      assert.deepEqual(serverCertNames('0.0.0.0', ['pi.local', 'hub.example.org', '10.0.0.7'], { hostname: 'pi', interfaces }),
        ['localhost', '127.0.0.1', '::1', 'pi', 'pi.local', '192.168.1.20', '10.0.0.7', 'hub.example.org']);
    });

    it('bound to ::: IPv6 addresses too, but not link-local ones (a certificate cannot name their zone)', () => {
      const names = serverCertNames('::', [], { hostname: 'pi', interfaces });
      assert.ok(names.includes('fd00::20') && names.includes('192.168.1.20') && !names.includes('fe80::1'), names.join(' '));
    });

    it('bound to one address or name: that one; a dotted host name gets no .local', () => {
      assert.deepEqual(serverCertNames('192.168.1.20', [], { hostname: 'pi.lan', interfaces }), ['localhost', '127.0.0.1', '::1', 'pi.lan', '192.168.1.20']);
    });

    it('with this machine\'s real interfaces and 0.0.0.0, every IPv4 address of it is named', () => {
      const names = serverCertNames('0.0.0.0');
      for (const list of Object.values(os.networkInterfaces())) {
        for (const a of list ?? []) if (a.family === 'IPv4') assert.ok(names.includes(a.address), `${a.address} in ${names.join(' ')}`);
      }
      assert.ok(names.includes(os.hostname()));
    });

    it('checkServerName takes host names and IP addresses, and says what is wrong with anything else', () => {
      for (const ok of ['pi.local', 'hub', 'a-b.example.org', '10.0.0.1', 'fd00::1', 'raspberrypi.local.']) assert.equal(checkServerName(ok), null, ok);
      for (const bad of ['', 'has space', 'under/score', '-lead.local', 'x'.repeat(64) + '.local']) assert.match(checkServerName(bad) ?? '', /expected a host name/, bad);
    });
  });

  describe('config and flags', () => {
    it('listeners.tls.names and --tls-name (repeatable) add to the list; bad names are refused naming the field', () => {
      const cfg = validateConfig({ listeners: { tls: { port: 0, names: ['pi.local'] } } });
      assert.deepEqual(cfg.listeners.tls!.names, ['pi.local']);
      assert.throws(() => validateConfig({ listeners: { tls: { port: 0, names: ['ok', 'not ok'] } } }), /^ConfigError: listeners\.tls\.names\[1\]: expected a host name/);
      assert.throws(() => validateConfig({ listeners: { tls: { port: 0, names: 'pi.local' } } }), /listeners\.tls\.names: expected a list/);
      assert.throws(() => validateConfig({ listeners: { tls: { port: 0, keyFile: 'k', certFile: 'c', names: ['x'] } } }), /listeners\.tls\.names: names are for the certificate the hub CA issues/);
      const flags = resolveStartConfig({ tlsPort: 0, tlsName: ['pi.local', '192.168.1.20'] }, '/work');
      assert.deepEqual(flags.listeners.tls!.names, ['pi.local', '192.168.1.20']);
      assert.throws(() => resolveStartConfig({ tlsName: ['pi.local'] }, '/work'), /--tls-name: needs a TLS listener/);
      assert.throws(() => resolveStartConfig({ tlsPort: 0, tlsName: ['bad name'] }, '/work'), /--tls-name\[0\]: expected a host name/);
    });
  });

  describe('a running hub', () => {
    let dir: string;
    before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-names-')); });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const start = (names: string[]) => startHub(validateConfig({ listeners: { tls: { port: 0, names } }, dataDir: dir, memory: true, allowAnonymous: true }));
    const connectAs = (port: number, servername: string) => mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
      servername, ca: HubCA.loadOrCreate(dir).certPem, rejectUnauthorized: true, reconnectPeriod: 0, connectTimeout: 5000, clientId: `by-${servername}`,
    });
    const serverCert = () => new X509Certificate(fs.readFileSync(HubCA.paths(dir).serverCert));

    it('a device reaching the hub as pi.local (a --tls-name) verifies it; a name not in the certificate fails verification', async () => {
      const hub = await start(['pi.local']);
      try {
        const c = await connectAs(hub.ports.tls!, 'pi.local');
        await c.endAsync();
        const host = await connectAs(hub.ports.tls!, os.hostname());
        await host.endAsync();
        await assert.rejects(connectAs(hub.ports.tls!, 'elsewhere.local'), /altnames|Hostname\/IP does not match/);
        const san = serverCert().subjectAltName!;
        assert.match(san, /DNS:pi\.local/);
        assert.match(san, /DNS:localhost/);
        assert.match(san, /IP Address:127\.0\.0\.1/);
      } finally {
        await hub.close();
      }
    });

    it('the certificate is reissued when the list changes, and kept when it does not', async () => {
      const before = serverCert().fingerprint256;
      let hub = await start(['pi.local']);
      await hub.close();
      assert.equal(serverCert().fingerprint256, before, 'same names: the same certificate');
      hub = await start(['hub.lan']);
      try {
        assert.notEqual(serverCert().fingerprint256, before, 'reissued');
        assert.equal(serverCert().checkHost('pi.local'), undefined, 'a name dropped from the list is no longer in it');
        const c = await connectAs(hub.ports.tls!, 'hub.lan');
        await c.endAsync();
        // A plain TLS client sees the same certificate the file holds.
        const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
          const s = tls.connect({ host: '127.0.0.1', port: hub.ports.tls!, servername: 'hub.lan', ca: HubCA.loadOrCreate(dir).certPem }, () => { resolve(s.getPeerCertificate()); s.destroy(); });
          s.on('error', reject);
        });
        assert.equal(peer.fingerprint256, serverCert().fingerprint256);
      } finally {
        await hub.close();
      }
    });
  });
});
