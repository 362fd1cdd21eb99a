// GET /metrics on the control listener: the Prometheus text format, as an
// extension of the control server (it goes through the same request dispatch).
import type { ControlExtension } from '../control/http-server';
import type { HubMetrics } from './hub-metrics';

export function metricsExtension(metrics: HubMetrics): ControlExtension {
  return {
    raw: [{
      method: 'GET', path: '/metrics',
      async handle(_req, res) {
        const body = await metrics.text();
        res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
        res.end(body);
      },
    }],
  };
}
