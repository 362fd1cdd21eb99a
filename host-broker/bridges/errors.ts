// Why a bridge link failed, in words an operator can act on. Socket, TLS and
// WebSocket errors and CONNACK refusals become a LinkError with a reason and a
// severity: 'error' when the configuration (credentials, certificates, client
// id) must change, 'warning' when the upstream or the network is away and a
// retry may well succeed.
import type { Severity } from '../hooks';

export class LinkError extends Error {
  constructor(readonly reason: string, readonly severity: Severity = 'warning', readonly code?: string) {
    super(reason);
    this.name = 'LinkError';
  }
}

/** [MQTT-3.2.2-4..5] CONNACK return codes 1-5. */
const CONNACK_REASONS: Record<number, string> = {
  1: 'the upstream refused the connection: unacceptable protocol version (it does not speak MQTT 3.1.1)',
  2: 'the upstream refused the connection: client id rejected (check clientId)',
  3: 'the upstream refused the connection: server unavailable',
  4: 'the upstream refused the connection: bad user name or password (check username and password)',
  5: 'the upstream refused the connection: not authorized (check the credentials, the client certificate, or the upstream\'s rules for this client id)',
};

export function connackError(code: number): LinkError {
  const reason = CONNACK_REASONS[code] ?? `the upstream refused the connection with CONNACK return code ${code}`;
  return new LinkError(`${reason} [CONNACK ${code}]`, code === 3 ? 'warning' : 'error', `CONNACK_${code}`);
}

const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED']);

/** Turns whatever a socket, TLS or WebSocket connection threw into a LinkError. `where` is host:port. */
export function describeLinkError(err: unknown, where: string, servername?: string): LinkError {
  if (err instanceof LinkError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const msg = e?.message ?? String(err);
  const tls = (reason: string) => new LinkError(`TLS: ${reason}`, 'error', code);
  if (code && UNTRUSTED.has(code)) return tls(`the certificate of ${where} is not signed by a CA this bridge trusts (give its CA as tls.caFile) [${code}]`);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return tls(`the certificate of ${where} is not for ${servername ?? where} (${e.reason ?? msg}); connect by the name it holds, or set tls.servername [${code}]`);
  if (code === 'CERT_HAS_EXPIRED') return tls(`the certificate of ${where} has expired [${code}]`);
  if (code === 'CERT_NOT_YET_VALID') return tls(`the certificate of ${where} is not valid yet (check this machine's clock) [${code}]`);
  // OpenSSL alerts sent by the upstream: it did not accept the certificate we showed (or that we showed none).
  if (code && /^ERR_SSL_.*ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_REQUIRED|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|HANDSHAKE_FAILURE)$/.test(code)) {
    const alert = code.replace(/^ERR_SSL_[A-Z0-9]+_ALERT_/, '').toLowerCase().replace(/_/g, ' ');
    return tls(`${where} refused the handshake with alert "${alert}": it did not accept this bridge's client certificate (tls.certFile/keyFile), or needs one [${code}]`);
  }
  if (code && /^ERR_SSL_|^ERR_OSSL_/.test(code)) return tls(`${msg} [${code}]`);
  if (code === 'ECONNREFUSED') return new LinkError(`connection refused by ${where}: nothing listens there (upstream down?) [ECONNREFUSED]`, 'warning', code);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new LinkError(`cannot resolve the host name of ${where} (DNS) [${code}]`, 'warning', code);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new LinkError(`the connection to ${where} was reset [${code}]`, 'warning', code);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENETDOWN') return new LinkError(`${where} is unreachable: no route to it [${code}]`, 'warning', code);
  if (code === 'ETIMEDOUT') return new LinkError(`the connection to ${where} timed out [ETIMEDOUT]`, 'warning', code);
  const http = /Unexpected server response: (\d+)/.exec(msg);
  if (http) return new LinkError(`${where} refused the WebSocket upgrade with HTTP ${http[1]} (check the URL path, e.g. /mqtt)`, 'error', `HTTP_${http[1]}`);
  return new LinkError(`${msg}${code ? ` [${code}]` : ''}`, 'warning', code);
}
