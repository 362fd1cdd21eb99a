// A listener that cannot bind says which one, where, and what to change:
// "tcp listener on 127.0.0.1:1883: address in use (EADDRINUSE) ...".
const HINTS: Record<string, string> = {
  EADDRINUSE: 'address in use (EADDRINUSE): another process (another hub, mosquitto) listens there; stop it or choose another port',
  EACCES: 'permission denied (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port from 1024 up',
  EADDRNOTAVAIL: 'address not available (EADDRNOTAVAIL): it is not an address of this machine',
};

/** Which setting moves each listener, for the message. */
const SETTINGS: Record<string, string> = {
  tcp: '--port or listeners.tcp.port', tls: '--tls-port or listeners.tls.port', ws: '--ws-port or listeners.ws.port',
  control: '--control-port or control.port',
};

export function listenError(listener: string, host: string, port: number, err: NodeJS.ErrnoException): Error {
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const why = err.code && HINTS[err.code] ? HINTS[err.code] : err.message;
  const setting = SETTINGS[listener] ? ` (${SETTINGS[listener]})` : '';
  const e = new Error(`${listener} listener on ${where}: ${why}${setting}`, { cause: err }) as NodeJS.ErrnoException;
  if (err.code) e.code = err.code;
  return e;
}
