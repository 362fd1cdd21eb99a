// A small Node client for the control HTTP API, for HIL tests in another process
// and the CLI. Method names follow the programmatic Control API. Every request
// carries the hub's token (Authorization: Bearer), from the constructor or
// HOST_BROKER_TOKEN, so each caller gets authentication by using this client.
import * as http from 'http';
import type { BridgeStatus } from '../bridges/types';
import type { RouteStatus } from '../routes/types';
import type { Device, DeviceInput, DevicePatch } from '../security/device-registry';
import type { FaultRule, FaultSpec, PacketType } from './faults';
import type { TranscriptEntry } from './transcript';

export interface MessageJson {
  seq: number; time: number; topic: string; payload: string; payloadBase64: string;
  qos: 0 | 1 | 2; retain: boolean; fromClientId: string | null;
}

export interface DeadLetterJson {
  id: number; route: string; topic: string; payload: string; payloadBase64: string;
  qos: 0 | 1 | 2; retain: boolean; ts: string; attempts: number; error: string; deadAt: string;
}

/** The API answered with an error status; `status` and the server's message are kept. */
export class ControlApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

type ListenerName = 'tcp' | 'tls' | 'ws';

/** The environment variable the client reads the token from when none is given. */
export const TOKEN_ENV = 'HOST_BROKER_TOKEN';

export interface ControlClientOptions {
  /** The hub's control token; default process.env.HOST_BROKER_TOKEN. None: no Authorization header (a hub started without auth). */
  token?: string;
}

export class ControlClient {
  private readonly base: URL;
  private readonly token?: string;

  /** `baseUrl` like http://127.0.0.1:8081 */
  constructor(baseUrl: string, opts: ControlClientOptions = {}) {
    this.base = new URL(baseUrl);
    if (this.base.protocol !== 'http:') throw new Error(`baseUrl: expected an http:// URL, got ${baseUrl}`);
    const token = opts.token ?? process.env[TOKEN_ENV];
    this.token = token === '' ? undefined : token;
  }

  request<T = any>(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = http.request({
        host: this.base.hostname.replace(/^\[|\]$/g, ''), port: this.base.port || 80, method, path,
        agent: false, // no keep-alive sockets left holding the test process open
        headers: {
          ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}),
          ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any;
          try { json = text ? JSON.parse(text) : undefined; } catch { return reject(new ControlApiError(res.statusCode ?? 0, `not JSON: ${text.slice(0, 200)}`)); }
          if (res.statusCode === 401) {
            const hint = this.token === undefined ? `no token was given: set ${TOKEN_ENV} (or pass --token)` : `the token given (--token or ${TOKEN_ENV}) is not this hub's`;
            return reject(new ControlApiError(401, `${json?.error ?? 'authentication required'} (${hint})`));
          }
          if ((res.statusCode ?? 500) >= 400) return reject(new ControlApiError(res.statusCode ?? 0, json?.error ?? `HTTP ${res.statusCode}`));
          resolve(json as T);
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`control API: no answer to ${method} ${path} within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /** `timeoutMs`: how long to wait for an answer (a probe for a hub that may not be there wants a short one). */
  health(timeoutMs?: number) {
    return this.request<{ ok: boolean; listeners: Record<string, number>; refusingConnectionsForMs: number; pendingWaits: number; dataDir?: string }>('GET', '/health', undefined, timeoutMs);
  }
  clients() { return this.request<any[]>('GET', '/clients'); }
  sessions() { return this.request<any[]>('GET', '/sessions'); }

  disconnect(clientId: string, opts: { abrupt?: boolean } = {}) {
    return this.request('POST', `/clients/${encodeURIComponent(clientId)}/disconnect`, { abrupt: opts.abrupt ?? true });
  }

  async transcript(clientId: string, opts: { after?: number } = {}): Promise<TranscriptEntry[]> {
    const q = opts.after !== undefined ? `?after=${opts.after}` : '';
    return (await this.request<{ entries: TranscriptEntry[] }>('GET', `/clients/${encodeURIComponent(clientId)}/transcript${q}`)).entries;
  }

  clearTranscript(clientId?: string) {
    return clientId === undefined ? this.request('DELETE', '/transcripts') : this.request('DELETE', `/clients/${encodeURIComponent(clientId)}/transcript`);
  }

  addFault(spec: FaultSpec) { return this.request<FaultRule>('POST', '/faults', spec); }
  dropNext(spec: { clientId?: string; direction: 'in' | 'out'; cmd: PacketType | '*'; count?: number }) {
    return this.addFault({ ...spec, action: 'drop' });
  }
  delayNext(spec: { clientId?: string; direction: 'in' | 'out'; cmd: PacketType | '*'; count?: number; ms: number }) {
    return this.addFault({ ...spec, action: 'delay' });
  }
  listFaults() { return this.request<FaultRule[]>('GET', '/faults'); }
  removeFault(id: number) { return this.request('DELETE', `/faults/${id}`); }
  clearFaults() { return this.request('DELETE', '/faults'); }

  refuseConnections(ms: number) { return this.request<{ refusingForMs: number }>('POST', '/refuse-connections', { ms }); }

  listeners() { return this.request<Record<string, number>>('GET', '/listeners'); }
  stopListener(name: ListenerName) { return this.request('POST', `/listeners/${name}/stop`); }
  startListener(name: ListenerName) { return this.request<{ port: number }>('POST', `/listeners/${name}/start`); }
  restartListener(name: ListenerName, opts: { downMs?: number } = {}) {
    return this.request<{ port: number }>('POST', `/listeners/${name}/restart`, { downMs: opts.downMs ?? 0 });
  }

  async messages(opts: { since?: number; filter?: string } = {}): Promise<{ lastSeq: number; messages: MessageJson[] }> {
    const q = new URLSearchParams();
    if (opts.since !== undefined) q.set('since', String(opts.since));
    if (opts.filter !== undefined) q.set('filter', opts.filter);
    const qs = q.toString();
    return this.request('GET', `/messages${qs ? `?${qs}` : ''}`);
  }

  /** Long-polls for the next message on `filter` (or one after `since`); rejects with ControlApiError 408 on timeout. */
  async waitForMessage(filter: string, opts: { timeoutMs?: number; since?: number } = {}): Promise<MessageJson> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const body: Record<string, unknown> = { filter, timeoutMs };
    if (opts.since !== undefined) body.since = opts.since;
    return (await this.request<{ message: MessageJson }>('POST', '/messages/wait', body, timeoutMs + 10_000)).message;
  }

  publish(msg: { topic: string; payload?: string; payloadBase64?: string; qos?: 0 | 1 | 2; retain?: boolean }) {
    return this.request('POST', '/publish', msg);
  }

  listRoutes() { return this.request<RouteStatus[]>('GET', '/routes'); }
  getRoute(name: string) { return this.request<RouteStatus>('GET', `/routes/${encodeURIComponent(name)}`); }
  /** Validated by the hub: ControlApiError 400 naming the field, 409 if the name is in use. */
  addRoute(config: Record<string, unknown>) { return this.request<RouteStatus>('POST', '/routes', config); }
  removeRoute(name: string, opts: { keepQueue?: boolean } = {}) {
    return this.request<{ route: string; removed: boolean; discarded: number; keptQueue: boolean }>('DELETE', `/routes/${encodeURIComponent(name)}${opts.keepQueue ? '?keepQueue=1' : ''}`);
  }
  async routeDeadLetters(name: string, opts: { limit?: number } = {}): Promise<DeadLetterJson[]> {
    const q = opts.limit !== undefined ? `?limit=${opts.limit}` : '';
    return (await this.request<{ deadLetters: DeadLetterJson[] }>('GET', `/routes/${encodeURIComponent(name)}/dead-letters${q}`)).deadLetters;
  }
  async requeueDeadLetters(name: string): Promise<number> {
    return (await this.request<{ requeued: number }>('POST', `/routes/${encodeURIComponent(name)}/dead-letters/requeue`)).requeued;
  }

  listBridges() { return this.request<BridgeStatus[]>('GET', '/bridges'); }
  getBridge(name: string) { return this.request<BridgeStatus>('GET', `/bridges/${encodeURIComponent(name)}`); }
  /** Validated by the hub: ControlApiError 400 naming the field, 409 if the name is in use. */
  addBridge(config: Record<string, unknown>) { return this.request<BridgeStatus>('POST', '/bridges', config); }
  removeBridge(name: string, opts: { keepQueue?: boolean } = {}) {
    return this.request<{ bridge: string; removed: boolean; discarded: number; keptQueue: boolean }>('DELETE', `/bridges/${encodeURIComponent(name)}${opts.keepQueue ? '?keepQueue=1' : ''}`);
  }

  devices() { return this.request<Device[]>('GET', '/devices'); }
  device(id: string) { return this.request<Device>('GET', `/devices/${encodeURIComponent(id)}`); }
  /** Validated by the hub: ControlApiError 400 naming the field, 409 if the id exists. Send passwordHash rather than password. */
  addDevice(input: DeviceInput) { return this.request<Device>('POST', '/devices', input); }
  /** Changes the fields given; a device disabled this way is kicked. */
  updateDevice(id: string, patch: DevicePatch) { return this.request<Device & { kicked: number }>('PATCH', `/devices/${encodeURIComponent(id)}`, patch); }
  removeDevice(id: string) { return this.request<{ device: string; removed: boolean; kicked: number }>('DELETE', `/devices/${encodeURIComponent(id)}`); }
  disableDevice(id: string) { return this.request<{ kicked: number }>('POST', `/devices/${encodeURIComponent(id)}/disable`); }
  enableDevice(id: string) { return this.request('POST', `/devices/${encodeURIComponent(id)}/enable`); }
}
