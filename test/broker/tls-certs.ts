// Throwaway certificates for the TLS listener tests: a CA, a server certificate
// for 127.0.0.1, a client certificate signed by the CA and one that is not.
// Keys come from node:crypto (fast); node-forge builds and signs the certificates.
import { generateKeyPairSync } from 'crypto';
import forge from 'node-forge';

export interface Pem { key: string; cert: string }

function keyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e), pem };
}

let serial = 1;
function certificate(cn: string, subjectKey: forge.pki.rsa.PublicKey, issuer: { cert: forge.pki.Certificate | null; key: forge.pki.rsa.PrivateKey }, ext: any[]): forge.pki.Certificate {
  const c = forge.pki.createCertificate();
  c.publicKey = subjectKey;
  c.serialNumber = (serial++).toString(16).padStart(2, '0');
  c.validity.notBefore = new Date(Date.now() - 60_000);
  c.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  c.setSubject([{ name: 'commonName', value: cn }]);
  c.setIssuer(issuer.cert ? issuer.cert.subject.attributes : [{ name: 'commonName', value: cn }]);
  c.setExtensions(ext);
  c.sign(issuer.key, forge.md.sha256.create());
  return c;
}

export function makeCerts(): { ca: string; server: Pem; client: Pem; stranger: Pem } {
  const caKeys = keyPair();
  const caCert = certificate('test hub CA', caKeys.publicKey, { cert: null, key: caKeys.privateKey },
    [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }]);
  const leaf = (cn: string, issuer: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey }, server: boolean): Pem => {
    const k = keyPair();
    const ext: any[] = [{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: server, clientAuth: !server }];
    if (server) ext.push({ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] });
    return { key: k.pem, cert: forge.pki.certificateToPem(certificate(cn, k.publicKey, issuer, ext)) };
  };
  const ca = { cert: caCert, key: caKeys.privateKey };
  const otherKeys = keyPair();
  const otherCa = certificate('some other CA', otherKeys.publicKey, { cert: null, key: otherKeys.privateKey }, [{ name: 'basicConstraints', cA: true }]);
  return {
    ca: forge.pki.certificateToPem(caCert),
    server: leaf('127.0.0.1', ca, true),
    client: leaf('device-42', ca, false),
    stranger: leaf('device-x', { cert: otherCa, key: otherKeys.privateKey }, false),
  };
}
