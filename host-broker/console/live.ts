// GET /live: the console's live feed as Server-Sent Events. One batch per
// flush of the watch (messages, hub events, plot samples), the devices table
// when a client comes or goes (and every 2 s if a counter changed), the routes
// every 2 s if they changed. EventSource reconnects by itself.
import type * as http from 'http';
import type { RawRoute } from '../control/http-server';
import { deviceRows, type ConsoleOptions } from './api';
import type { LiveBatch } from './watch';

const REFRESH_MS = 2000;
const HEARTBEAT_MS = 15_000;

export function liveRoute(o: ConsoleOptions): RawRoute {
  return {
    method: 'GET',
    path: '/live',
    handle(req: http.IncomingMessage, res: http.ServerResponse) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
      res.socket?.setNoDelay(true);
      const send = (event: string, data: unknown) => { if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`); };
      let lastDevices = '';
      let lastRoutes = '';
      const devices = () => {
        const text = JSON.stringify(deviceRows(o));
        if (text !== lastDevices) { lastDevices = text; if (!res.destroyed) res.write(`event: devices\ndata: ${text}\n\n`); }
      };
      const routes = () => {
        if (!o.control.hasRoutes()) return;
        const text = JSON.stringify(o.control.listRoutes());
        if (text !== lastRoutes) { lastRoutes = text; if (!res.destroyed) res.write(`event: routes\ndata: ${text}\n\n`); }
      };
      send('hello', { time: Date.now(), routes: o.control.hasRoutes(), devices: !!o.security });
      devices();
      routes();
      const unsubscribe = o.watch.subscribe((b: LiveBatch) => {
        if (b.clientsChanged) devices();
        if (b.messages.length || b.events.length || b.samples.length || b.skipped) {
          send('batch', {
            messages: b.messages.map((m) => ({ seq: m.seq, time: m.time, topic: m.topic, qos: m.qos, retain: m.retain, from: m.from, bytes: m.bytes, payloadBase64: m.payload.toString('base64') })),
            skipped: b.skipped, events: b.events, samples: b.samples,
          });
        }
      });
      const refresh = setInterval(() => { devices(); routes(); }, REFRESH_MS);
      const heartbeat = setInterval(() => { if (!res.destroyed) res.write(': keepalive\n\n'); }, HEARTBEAT_MS);
      const stop = () => { unsubscribe(); clearInterval(refresh); clearInterval(heartbeat); };
      res.on('close', stop);
      req.on('error', stop);
    },
  };
}
