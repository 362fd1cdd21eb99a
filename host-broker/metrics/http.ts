// GET /metrics on the control listener: the Prometheus text format.
import type { ControlServer } from '../control/http-server';
import type { HubMetrics } from './hub-metrics';

export function serveMetrics(server: ControlServer, metrics: HubMetrics): void {
  server.handle('GET', '/metrics', async (_req, res) => {
    const body = await metrics.text();
    res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  });
}
