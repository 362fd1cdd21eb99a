// REST route: one HTTP request per message; the payload is the body, with
// X-MQTT-Topic / X-MQTT-Retain / X-MQTT-QoS headers. Any 2xx accepts; 408, 425,
// 429 and 5xx are retried without limit, other statuses count as a refusal.
// node:http rather than fetch, because fetch refuses a body on GET.
import * as http from 'http';
import * as https from 'https';
import { DeliveryError, describeError, transientHttpStatus } from './errors';
import { QueuedMessage, RestRouteConfig, RouteTarget } from './types';

/**
 * Header values must be ISO-8859-1 without controls; topics are UTF-8. So '%',
 * control characters and non-ASCII are percent-encoded (UTF-8 bytes), which
 * decodeURIComponent() reverses; ordinary topics pass unchanged.
 */
export function encodeTopicHeader(topic: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what must not reach a header
  return topic.replace(/[%\x00-\x1f\x7f-\uffff]+/g, (s) => encodeURIComponent(s));
}

export class RestTarget implements RouteTarget {
  readonly mode = 'single' as const;
  private readonly url: URL;
  private readonly agent: http.Agent;

  constructor(private readonly cfg: RestRouteConfig) {
    this.url = new URL(cfg.uri);
    const Agent = this.url.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: cfg.delivery.concurrency });
  }

  async deliver(batch: QueuedMessage[]): Promise<void> {
    for (const m of batch) await this.send(m);
  }

  /** Socket errors (refused, reset, timeout) are transient: the server may come back. */
  private send(m: QueuedMessage): Promise<void> {
    const mod = this.url.protocol === 'https:' ? https : http;
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': 'application/octet-stream',
      ...this.cfg.headers,
      'Content-Length': m.payload.length,
      'X-MQTT-Topic': encodeTopicHeader(m.topic),
      'X-MQTT-Retain': m.retain ? 'true' : 'false',
      'X-MQTT-QoS': String(m.qos),
    };
    return new Promise<void>((resolve, reject) => {
      const req = mod.request(this.url, { method: this.cfg.method, headers, agent: this.agent, timeout: this.cfg.delivery.timeoutMs }, (res) => {
        const status = res.statusCode ?? 0;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { if (body.length < 300) body += d; });
        res.on('error', (err) => reject(new DeliveryError(describeError(err), false)));
        res.on('end', () => {
          if (status >= 200 && status < 300) return resolve();
          const detail = `HTTP ${status} ${res.statusMessage ?? ''}`.trim() + (body ? `: ${body.trim().slice(0, 200)}` : '');
          reject(new DeliveryError(`${this.cfg.method} ${this.url.origin}${this.url.pathname} -> ${detail}`, !transientHttpStatus(status)));
        });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no response within ${this.cfg.delivery.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => reject(new DeliveryError(`${this.cfg.method} ${this.url.origin}${this.url.pathname}: ${describeError(err)}`, false)));
      req.end(m.payload);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
