// Turns route failures into `route_failure` hub events, at most `perSecond` per
// route: a target that is down for an hour must not flood $hub/events. What is
// held back is counted and reported in a summary event.
import type { HubEvent, Severity } from '../hooks';

export interface RouteFailureInput {
  route: string;
  severity: Severity;
  message: string;
  msg?: { topic: string; qos: number; payloadBytes: number };
}

export class RouteFailureEvents {
  private readonly windows = new Map<string, { start: number; sent: number; held: number; timer: NodeJS.Timeout | null }>();

  constructor(private readonly report: (ev: HubEvent) => void, private readonly perSecond = 5) {}

  raise(input: RouteFailureInput): void {
    const now = Date.now();
    let w = this.windows.get(input.route);
    if (!w) { w = { start: now, sent: 0, held: 0, timer: null }; this.windows.set(input.route, w); }
    if (now - w.start >= 1000) { w.start = now; w.sent = 0; }
    if (w.sent >= this.perSecond) {
      w.held++;
      if (!w.timer) {
        const win = w;
        win.timer = setTimeout(() => { win.timer = null; this.flush(input.route, input.severity); }, 1000 - (now - w.start));
        win.timer.unref();
      }
      return;
    }
    w.sent++;
    this.emit(input);
  }

  private flush(route: string, severity: Severity): void {
    const w = this.windows.get(route);
    if (!w || !w.held) return;
    const held = w.held;
    w.held = 0;
    w.start = Date.now();
    w.sent = 1;
    this.emit({ route, severity, message: `${held} more failures of route ${route} were not reported separately (rate limit ${this.perSecond}/s)` });
  }

  private emit(input: RouteFailureInput): void {
    const ev: HubEvent = { kind: 'route_failure', severity: input.severity, objectType: 'route', objectId: input.route, message: input.message };
    if (input.msg) ev.packet = { cmd: 'publish', topic: input.msg.topic, qos: input.msg.qos, payloadBytes: input.msg.payloadBytes };
    try { this.report(ev); } catch {}
  }

  close(): void {
    for (const [route, w] of this.windows) {
      if (w.timer) { clearTimeout(w.timer); w.timer = null; this.flush(route, 'warning'); }
    }
  }
}
