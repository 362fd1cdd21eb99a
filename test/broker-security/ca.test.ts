import { strict as assert } from 'assert';
import { X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HubCA } from '../../host-broker/security/ca';

describe('security/ca: the hub certificate authority', function () {
  this.timeout(30000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates the CA once in the data dir (key mode 0600) and loads the same one after', () => {
    const a = HubCA.loadOrCreate(dir);
    const p = HubCA.paths(dir);
    assert.equal(fs.statSync(p.key).mode & 0o777, 0o600);
    const b = HubCA.loadOrCreate(dir);
    assert.equal(a.certPem, b.certPem);
    const x = new X509Certificate(a.certPem);
    assert.equal(x.ca, true);
  });

  it('issues a device certificate with CN = device id, signed by the CA, client auth only', () => {
    const ca = HubCA.loadOrCreate(dir);
    const c = ca.issueDeviceCert('sensor-7');
    const x = new X509Certificate(c.certPem);
    assert.match(x.subject, /CN=sensor-7/);
    assert.equal(x.checkIssued(new X509Certificate(ca.certPem)), true);
    assert.equal(x.verify(new X509Certificate(ca.certPem).publicKey), true);
    assert.equal(x.ca, false);
    assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(c.fingerprint256, x.fingerprint256);
    assert.equal(x.checkPrivateKey(require('crypto').createPrivateKey(c.keyPem)), true);
  });

  it('issues a server certificate for the listener hosts, keeps it while the list is the same, and reissues it when the list changes', () => {
    const ca = HubCA.loadOrCreate(dir);
    const s1 = ca.loadOrIssueServerCert(dir, ['localhost', '127.0.0.1', '::1']);
    assert.equal(s1.reissued, true);
    const x = new X509Certificate(s1.certPem);
    assert.equal(x.checkHost('localhost'), 'localhost');
    assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(x.checkIP('::1'), '::1');
    const same = ca.loadOrIssueServerCert(dir, ['0:0:0:0:0:0:0:1', 'LOCALHOST', '127.0.0.1']);
    assert.deepEqual([same.certPem, same.reissued], [s1.certPem, false], 'the same list in another order and spelling: reused');
    const s2 = ca.loadOrIssueServerCert(dir, ['localhost', '127.0.0.1', '::1', 'hub.local']);
    assert.equal(s2.reissued, true, 'a name added');
    assert.equal(new X509Certificate(s2.certPem).checkHost('hub.local'), 'hub.local');
    const s3 = ca.loadOrIssueServerCert(dir, ['localhost', '127.0.0.1', '::1']);
    assert.equal(s3.reissued, true, 'a name removed');
    assert.equal(new X509Certificate(s3.certPem).checkHost('hub.local'), undefined, 'the removed name is no longer valid');
  });

  it('refuses to silently replace a CA whose key went missing', () => {
    const d2 = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-'));
    try {
      HubCA.loadOrCreate(d2);
      fs.unlinkSync(HubCA.paths(d2).key);
      assert.throws(() => HubCA.loadOrCreate(d2), /ca\.key\.pem is missing/);
    } finally {
      fs.rmSync(d2, { recursive: true, force: true });
    }
  });
});
