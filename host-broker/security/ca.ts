// The hub's own certificate authority: it signs device client certificates
// (CN = device id) and the TLS listener's server certificate, so mutual TLS
// works with no outside PKI. Keys come from Node's crypto (fast RSA keygen);
// node-forge builds and signs the X.509 certificates.
import { generateKeyPairSync, randomBytes, X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import type Forge from 'node-forge';
import { certSanKeys, sanKey } from './server-names';

// node-forge (~10 MB of RSS) is loaded when a certificate is first issued or
// read: a hub without TLS, and commands that only need HubCA.paths(), never load it.
let forgeLib: typeof Forge | undefined;
const forge = (): typeof Forge => (forgeLib ??= require('node-forge') as typeof Forge);

export interface IssuedCert {
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint as Node's TLS reports it (AA:BB:...), for pinning in the registry. */
  fingerprint256: string;
  serial: string;
  notAfter: Date;
}

const DAY_MS = 24 * 3600 * 1000;

function newKeyPair(bits: number): { keyPem: string; key: Forge.pki.rsa.PrivateKey; pub: Forge.pki.rsa.PublicKey } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    keyPem: privateKey,
    key: forge().pki.privateKeyFromPem(privateKey) as Forge.pki.rsa.PrivateKey,
    pub: forge().pki.publicKeyFromPem(publicKey) as Forge.pki.rsa.PublicKey,
  };
}

function serialNumber(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // positive INTEGER
  return b.toString('hex');
}

function validity(cert: Forge.pki.Certificate, days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new Error(`days: expected an integer 1..36500, got ${days}`);
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 5 * 60 * 1000); // tolerate small clock skew between hub and device
  cert.validity.notAfter = new Date(now + days * DAY_MS);
}

function writeSecret(file: string, data: string): void {
  fs.writeFileSync(file, data, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

export class HubCA {
  readonly certPem: string;
  private readonly cert: Forge.pki.Certificate;
  private readonly key: Forge.pki.rsa.PrivateKey;

  private constructor(certPem: string, keyPem: string) {
    this.certPem = certPem;
    this.cert = forge().pki.certificateFromPem(certPem);
    this.key = forge().pki.privateKeyFromPem(keyPem) as Forge.pki.rsa.PrivateKey;
  }

  /** A new CA held in memory only (tests, or before saving). */
  static create(opts: { commonName?: string; days?: number; bits?: number } = {}): { ca: HubCA; keyPem: string } {
    const kp = newKeyPair(opts.bits ?? 2048);
    const cert = forge().pki.createCertificate();
    cert.publicKey = kp.pub;
    cert.serialNumber = serialNumber();
    validity(cert, opts.days ?? 3650);
    const subject = [{ name: 'commonName', value: opts.commonName ?? 'host-broker hub CA' }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(kp.key, forge().md.sha256.create());
    const certPem = forge().pki.certificateToPem(cert);
    return { ca: new HubCA(certPem, kp.keyPem), keyPem: kp.keyPem };
  }

  static fromPem(certPem: string, keyPem: string): HubCA {
    return new HubCA(certPem, keyPem);
  }

  /** Paths of the CA files in a data directory. */
  static paths(dataDir: string) {
    const dir = path.join(dataDir, 'ca');
    return { dir, cert: path.join(dir, 'ca.cert.pem'), key: path.join(dir, 'ca.key.pem'),
      serverCert: path.join(dir, 'server.cert.pem'), serverKey: path.join(dir, 'server.key.pem') };
  }

  /** The CA of `dataDir`, created (key 0600) on first use. */
  static loadOrCreate(dataDir: string, opts: { commonName?: string; days?: number } = {}): HubCA {
    const p = HubCA.paths(dataDir);
    if (fs.existsSync(p.cert) && fs.existsSync(p.key)) {
      return HubCA.fromPem(fs.readFileSync(p.cert, 'utf8'), fs.readFileSync(p.key, 'utf8'));
    }
    if (fs.existsSync(p.cert) !== fs.existsSync(p.key)) {
      throw new Error(`hub CA in ${p.dir}: one of ca.cert.pem / ca.key.pem is missing; restore it or remove both to make a new CA (devices would need new certificates)`);
    }
    fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    const { ca, keyPem } = HubCA.create(opts);
    writeSecret(p.key, keyPem);
    fs.writeFileSync(p.cert, ca.certPem);
    return ca;
  }

  /** A client certificate for a device: CN = device id, extendedKeyUsage clientAuth. */
  issueDeviceCert(deviceId: string, opts: { days?: number; bits?: number } = {}): IssuedCert {
    return this.issue([{ name: 'commonName', value: deviceId }], opts.days ?? 825, opts.bits ?? 2048, [
      { name: 'extKeyUsage', clientAuth: true },
    ]);
  }

  /** The TLS listener's certificate, valid for the given host names and IP addresses. */
  issueServerCert(opts: { hosts?: string[]; days?: number; bits?: number } = {}): IssuedCert {
    const hosts = opts.hosts && opts.hosts.length ? opts.hosts : ['localhost', '127.0.0.1', '::1'];
    const altNames = hosts.map((h) => (net.isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
    return this.issue([{ name: 'commonName', value: hosts[0] }], opts.days ?? 825, opts.bits ?? 2048, [
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ]);
  }

  /**
   * The server certificate kept in `dataDir`, reissued when missing, expiring within a
   * day, not from this CA, or naming other hosts than `hosts` (any order): a name the
   * hub no longer answers to is dropped as soon as one it now answers to is added.
   */
  loadOrIssueServerCert(dataDir: string, hosts: string[] = ['localhost', '127.0.0.1', '::1']): { certPem: string; keyPem: string; reissued: boolean } {
    const p = HubCA.paths(dataDir);
    if (fs.existsSync(p.serverCert) && fs.existsSync(p.serverKey)) {
      const certPem = fs.readFileSync(p.serverCert, 'utf8');
      const x = new X509Certificate(certPem);
      const fresh = new Date(x.validTo).getTime() - Date.now() > DAY_MS;
      const has = certSanKeys(x.subjectAltName);
      const want = new Set(hosts.map(sanKey));
      const same = has.size === want.size && [...want].every((k) => has.has(k));
      if (fresh && same && x.checkIssued(new X509Certificate(this.certPem))) {
        return { certPem, keyPem: fs.readFileSync(p.serverKey, 'utf8'), reissued: false };
      }
    }
    fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    const issued = this.issueServerCert({ hosts });
    writeSecret(p.serverKey, issued.keyPem);
    fs.writeFileSync(p.serverCert, issued.certPem);
    return { certPem: issued.certPem, keyPem: issued.keyPem, reissued: true };
  }

  private issue(subject: Forge.pki.CertificateField[], days: number, bits: number, extra: any[]): IssuedCert {
    const kp = newKeyPair(bits);
    const cert = forge().pki.createCertificate();
    cert.publicKey = kp.pub;
    cert.serialNumber = serialNumber();
    validity(cert, days);
    cert.setSubject(subject);
    cert.setIssuer(this.cert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.cert.generateSubjectKeyIdentifier().getBytes() },
      ...extra,
    ]);
    cert.sign(this.key, forge().md.sha256.create());
    const certPem = forge().pki.certificateToPem(cert);
    return {
      certPem,
      keyPem: kp.keyPem,
      fingerprint256: new X509Certificate(certPem).fingerprint256,
      serial: cert.serialNumber,
      notAfter: cert.validity.notAfter,
    };
  }
}
