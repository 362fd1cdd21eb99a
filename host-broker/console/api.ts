// The console's endpoints on the control listener: JSON routes for what the
// page shows (devices merged with what the hub saw, topics, events, series,
// transcripts), a device's certificate (adding and removing devices are the
// control API's own POST /devices and DELETE /devices/:id), the
// live stream, and the page itself. Mounted as a control-server extension, so
// they sit behind the same token as the rest of the control API.
import type { Control } from '../control/control';
import { ControlExtension, HttpError, field, intParam, jsonRoute, Route } from '../control/http-server';
import { HubCA } from '../security/ca';
import type { DeviceSecurity } from '../security/device-security';
import { liveRoute } from './live';
import { staticRoutes } from './static';
import type { HubWatch } from './watch';

export interface ConsoleOptions {
  control: Control;
  watch: HubWatch;
  security?: DeviceSecurity;
  /** Where the hub CA lives (device certificates); without it no certificates are issued. */
  dataDir?: string;
}

/** One row of the devices view: a registered device, or a client that connected without one. */
export interface DeviceRow {
  id: string;
  registered: boolean;
  name?: string;
  enabled: boolean;
  online: boolean;
  clientId?: string;
  remoteAddress?: string;
  listener?: string;
  lastSeen?: number;
  connectedAt?: number;
  disconnectReason?: string;
  username?: string;
  auth?: string;
  session?: { persistent: boolean; queued: number; inflight: number; subscriptions: number };
}

export function deviceRows(o: ConsoleOptions): DeviceRow[] {
  const sessions = new Map(o.control.sessions().map((s) => [s.clientId, s]));
  const seen = o.watch.seenClients();
  const rows: DeviceRow[] = [];
  const sessionOf = (clientId?: string) => {
    const s = clientId === undefined ? undefined : sessions.get(clientId);
    return s ? { persistent: s.persistent, queued: s.queued, inflight: s.inflight, subscriptions: s.subscriptions.length } : undefined;
  };
  const registered = new Set<string>();
  for (const d of o.security?.registry.list() ?? []) {
    registered.add(d.id);
    // Its most recent client: an online one first, else the last seen.
    const mine = seen.filter((c) => c.deviceId === d.id).sort((a, b) => Number(b.online) - Number(a.online) || b.lastSeen - a.lastSeen)[0];
    rows.push({
      id: d.id, registered: true, ...(d.name ? { name: d.name } : {}), enabled: d.enabled, online: !!mine?.online,
      ...(mine ? { clientId: mine.clientId, remoteAddress: mine.remoteAddress, listener: mine.listener, lastSeen: mine.lastSeen,
        ...(mine.connectedAt ? { connectedAt: mine.connectedAt } : {}), ...(mine.disconnectReason && !mine.online ? { disconnectReason: mine.disconnectReason } : {}) } : {}),
      ...(d.username ? { username: d.username } : {}),
      auth: [d.username ? 'password' : '', d.certFingerprint ? 'pinned certificate' : 'certificate'].filter(Boolean).join(' or ') + (d.allowInsecure ? '' : ' (TLS only)'),
      ...(sessionOf(mine?.clientId) ? { session: sessionOf(mine?.clientId) } : {}),
    });
  }
  for (const c of seen) {
    if (c.deviceId && registered.has(c.deviceId)) continue;
    rows.push({
      id: c.clientId, registered: false, enabled: true, online: c.online, clientId: c.clientId, remoteAddress: c.remoteAddress,
      listener: c.listener, lastSeen: c.lastSeen, ...(c.connectedAt ? { connectedAt: c.connectedAt } : {}),
      ...(c.disconnectReason && !c.online ? { disconnectReason: c.disconnectReason } : {}), ...(c.username ? { username: c.username } : {}),
      ...(sessionOf(c.clientId) ? { session: sessionOf(c.clientId) } : {}),
    });
  }
  return rows.sort((a, b) => Number(b.online) - Number(a.online) || a.id.localeCompare(b.id));
}

const b64 = (b: Buffer) => b.toString('base64');

function consoleRoutes(o: ConsoleOptions): Route[] {
  const sec = () => {
    if (!o.security) throw new HttpError(404, 'device security is not enabled on this broker');
    return o.security;
  };
  const device = (id: string) => {
    const d = sec().registry.get(id);
    if (!d) throw new HttpError(404, `device ${id} does not exist`);
    return d;
  };
  return [
    jsonRoute('GET', '/console/devices', () => deviceRows(o)),
    jsonRoute('GET', '/topics', () => o.watch.topicValues().map((t) => ({ topic: t.topic, payloadBase64: b64(t.payload), bytes: t.bytes, time: t.time, qos: t.qos, retain: t.retain, from: t.from }))),
    jsonRoute('GET', '/events', ({ query }) => o.watch.recentEvents(intParam(query, 'limit'))),
    jsonRoute('GET', '/series', () => o.watch.allSeries()),
    jsonRoute('GET', '/transcripts', () => o.control.transcripts.clientIds().map((clientId) => ({ clientId, entries: o.control.transcript(clientId).length }))),
    // POST /devices and DELETE /devices/:id are the control API's own (http-server.ts).
    jsonRoute('POST', '/devices/:id/certificate', ({ params, body }) => {
      device(params[0]);
      if (!o.dataDir) throw new HttpError(404, 'this hub has no data dir for its CA');
      const days = field<number>(body, 'days', (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 36500, 'an integer 1..36500', 825);
      const pin = field<boolean>(body, 'pin', (v) => typeof v === 'boolean', 'true or false', true);
      const ca = HubCA.loadOrCreate(o.dataDir);
      const issued = ca.issueDeviceCert(params[0], { days });
      if (pin) sec().registry.update(params[0], { certFingerprint: issued.fingerprint256 });
      return { device: params[0], certPem: issued.certPem, keyPem: issued.keyPem, caPem: ca.certPem, fingerprint256: issued.fingerprint256, notAfter: issued.notAfter.toISOString(), pinned: pin };
    }),
  ];
}

/** The console as a control-server extension: its routes, the live stream and the page. */
export function consoleExtension(o: ConsoleOptions): ControlExtension {
  return {
    routes: consoleRoutes(o),
    raw: [liveRoute(o), ...staticRoutes()],
    close: () => o.watch.close(),
  };
}
