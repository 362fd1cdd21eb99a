// The network layer of a bridge link: a byte stream to the upstream for an
// mqtt:// (TCP), mqtts:// (TLS), ws:// or wss:// (WebSocket, subprotocol
// "mqtt") URL. Nothing MQTT happens here.
import * as fs from 'fs';
import * as net from 'net';
import type { Duplex } from 'stream';
import * as tls from 'tls';
import type * as WS from 'ws';
import { BridgeConfigError } from './config';
import type { BridgeTls } from './types';

const DEFAULT_PORTS: Record<string, number> = { 'mqtt:': 1883, 'mqtts:': 8883, 'ws:': 80, 'wss:': 443 };

/** PEM material read from the files a bridge's `tls` names. */
export interface TlsMaterial { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string; rejectUnauthorized: boolean }

/**
 * Reads and checks the TLS files once, when the bridge is added: a missing file,
 * a bad PEM or a key that does not belong to the certificate is a config error
 * naming the field, not a failure at every reconnect.
 */
export function loadTlsMaterial(t: BridgeTls | undefined, field: string): TlsMaterial | undefined {
  if (!t) return undefined;
  const read = (k: 'caFile' | 'certFile' | 'keyFile') => {
    const file = t[k];
    if (file === undefined) return undefined;
    try { return fs.readFileSync(file); } catch (err: any) { throw new BridgeConfigError(`${field}.${k}`, `cannot read ${file} (${err.code ?? err.message})`); }
  };
  const m: TlsMaterial = { ca: read('caFile'), cert: read('certFile'), key: read('keyFile'), rejectUnauthorized: t.verifyServer };
  if (t.servername !== undefined) m.servername = t.servername;
  try {
    tls.createSecureContext({ ca: m.ca, cert: m.cert, key: m.key });
  } catch (err: any) {
    const which = /key/i.test(err.message) && m.key ? 'keyFile' : /ca|certificate authority/i.test(err.message) && m.ca && !m.cert ? 'caFile' : m.cert ? 'certFile' : 'caFile';
    throw new BridgeConfigError(`${field}.${which}`, `not usable PEM (${err.message})`);
  }
  return m;
}

export interface Endpoint { scheme: string; host: string; port: number; where: string }

export function endpoint(url: URL): Endpoint {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol];
  return { scheme: url.protocol, host, port, where: `${url.hostname}:${port}` };
}

/** Opens the stream; rejects with the socket/TLS/WebSocket error. The caller bounds the time it may take. */
export function openTransport(url: URL, material: TlsMaterial | undefined): { stream: Promise<Duplex>; abort(): void } {
  const ep = endpoint(url);
  const servername = material?.servername ?? (net.isIP(ep.host) ? undefined : ep.host);
  let abort = () => undefined as void;
  const stream = new Promise<Duplex>((resolve, reject) => {
    if (ep.scheme === 'ws:' || ep.scheme === 'wss:') {
      // Loaded only for a WebSocket bridge, as for the WebSocket listener (server.ts).
      const { WebSocket, createWebSocketStream } = require('ws') as typeof WS;
      const ws = new WebSocket(url, ['mqtt'], {
        ...(ep.scheme === 'wss:' ? { ca: material?.ca, cert: material?.cert, key: material?.key, rejectUnauthorized: material?.rejectUnauthorized ?? true, ...(servername ? { servername } : {}) } : {}),
      });
      abort = () => ws.terminate();
      ws.once('open', () => {
        ws.removeAllListeners('error');
        const s = createWebSocketStream(ws);
        resolve(s);
      });
      ws.once('error', reject);
      return;
    }
    const sock = ep.scheme === 'mqtts:'
      ? tls.connect({ host: ep.host, port: ep.port, ca: material?.ca, cert: material?.cert, key: material?.key,
        rejectUnauthorized: material?.rejectUnauthorized ?? true, ...(servername ? { servername } : {}) })
      : net.connect({ host: ep.host, port: ep.port });
    abort = () => sock.destroy();
    const ready = () => { sock.off('error', reject); sock.setNoDelay(true); resolve(sock); };
    sock.once(ep.scheme === 'mqtts:' ? 'secureConnect' : 'connect', ready);
    sock.once('error', reject);
  });
  return { stream, abort: () => abort() };
}
