// The names and addresses the TLS listener's certificate must carry, so that a
// device can verify the hub by whatever it connects to: the loopback names, the
// machine's host name (and <host>.local, its mDNS name on a Raspberry Pi), the
// address the listener is bound to, or every interface address when it is bound
// to all of them (0.0.0.0 / ::), and names given explicitly (--tls-name).
import * as net from 'net';
import * as os from 'os';

type Interfaces = ReturnType<typeof os.networkInterfaces>;

/** Every name and address, deduplicated, in a stable order (loopback first). */
export function serverCertNames(bindHost: string, extra: readonly string[] = [], opts: { hostname?: string; interfaces?: Interfaces } = {}): string[] {
  const hostname = opts.hostname ?? os.hostname();
  const names = ['localhost', '127.0.0.1', '::1', hostname];
  if (!hostname.includes('.') && hostname !== 'localhost') names.push(`${hostname}.local`);
  if (bindHost === '0.0.0.0' || bindHost === '::') {
    for (const list of Object.values(opts.interfaces ?? os.networkInterfaces())) {
      for (const a of list ?? []) {
        // 0.0.0.0 takes IPv4 only; :: takes both. Link-local IPv6 needs a zone a certificate cannot name.
        if (a.family === 'IPv6' && (bindHost === '0.0.0.0' || a.scopeid)) continue;
        names.push(a.address);
      }
    }
  } else {
    names.push(bindHost);
  }
  names.push(...extra);
  const seen = new Set<string>();
  return names.filter((n) => {
    const key = sanKey(n);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A name as a certificate compares it: DNS names case-insensitively, IPv6 addresses in one spelling. */
export function sanKey(name: string): string {
  if (net.isIPv6(name)) return `IP:${expandIPv6(name)}`;
  if (net.isIPv4(name)) return `IP:${name}`;
  return `DNS:${name.toLowerCase()}`;
}

function expandIPv6(ip: string): string {
  let s = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = v4[1].split('.').map(Number);
    s = s.slice(0, -v4[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

/** The SAN entries of a certificate (Node's X509Certificate.subjectAltName text) as sanKey()s. */
export function certSanKeys(subjectAltName: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) out.add(sanKey(part.slice(4)));
    else if (part.startsWith('IP Address:')) out.add(sanKey(part.slice(11)));
  }
  return out;
}

/** Checks a --tls-name / listeners.tls.names entry: a DNS name or an IP address; returns an error message or null. */
export function checkServerName(name: string): string | null {
  if (net.isIP(name)) return null;
  if (name.length > 253 || !/^(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/.test(name)) {
    return `expected a host name (letters, digits, '-', dots between labels) or an IP address, got ${JSON.stringify(name)}`;
  }
  return null;
}
