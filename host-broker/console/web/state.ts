// What the page knows, filled by the first fetches and kept current by the
// live stream (/live). Views read it; `changed` tells the active view to redraw.
export interface DeviceRow {
  id: string; registered: boolean; name?: string; enabled: boolean; online: boolean; clientId?: string;
  remoteAddress?: string; listener?: string; lastSeen?: number; connectedAt?: number; disconnectReason?: string;
  username?: string; auth?: string; session?: { persistent: boolean; queued: number; inflight: number; subscriptions: number };
}
export interface Message { seq: number; time: number; topic: string; qos: number; retain: boolean; from: string | null; bytes: number; payloadBase64: string }
export interface TopicValue { topic: string; payloadBase64: string; bytes: number; time: number; qos: number; retain: boolean; from: string | null }
export interface HubEvent { seq: number; time: number; kind: string; severity: 'info' | 'warning' | 'error'; objectType: string; objectId: string; message: string; packet?: Record<string, unknown> }
export interface Series { topic: string; from: string | null; time: number[]; fields: Record<string, (number | null)[]> }
export interface RouteStatus {
  name: string; type: string; filter: string; queueDepth: number; deadLetters: number; state: string;
  stats: { enqueued: number; delivered: number; failedAttempts: number; dropped: number; deadLettered: number; lastError?: string; lastErrorAt?: string; lastDeliveredAt?: string };
}

export type Topic = 'devices' | 'topics' | 'messages' | 'events' | 'series' | 'routes' | 'live';

export const MAX_MESSAGES = 1000;
export const MAX_EVENTS = 1000;
export const SERIES_POINTS = 600;

export const state = {
  devices: [] as DeviceRow[],
  topics: new Map<string, TopicValue>(),
  messages: [] as Message[],
  /** Messages the hub left out of the live stream (too many at once). */
  skipped: 0,
  events: [] as HubEvent[],
  series: new Map<string, Series>(),
  /** null: this hub has no route manager. */
  routes: null as RouteStatus[] | null,
  live: false,
};

const listeners = new Set<(what: Topic) => void>();
export function onChange(fn: (what: Topic) => void): void { listeners.add(fn); }
export function changed(what: Topic): void { for (const fn of listeners) fn(what); }

export function addMessages(list: Message[], skipped: number): void {
  state.messages.push(...list);
  if (state.messages.length > MAX_MESSAGES) state.messages.splice(0, state.messages.length - MAX_MESSAGES);
  state.skipped += skipped;
  for (const m of list) {
    if (m.retain && m.bytes === 0) state.topics.delete(m.topic);
    else state.topics.set(m.topic, { topic: m.topic, payloadBase64: m.payloadBase64, bytes: m.bytes, time: m.time, qos: m.qos, retain: m.retain, from: m.from });
  }
  changed('messages');
  changed('topics');
}

export function addEvents(list: HubEvent[]): void {
  state.events.push(...list);
  if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
  changed('events');
}

export function addSamples(list: { topic: string; from: string | null; time: number; values: Record<string, number> }[]): void {
  for (const x of list) {
    let s = state.series.get(x.topic);
    if (!s) state.series.set(x.topic, s = { topic: x.topic, from: x.from, time: [], fields: {} });
    const n = s.time.length;
    s.time.push(x.time);
    for (const [k, v] of Object.entries(x.values)) (s.fields[k] ??= new Array(n).fill(null)).push(v);
    for (const col of Object.values(s.fields)) if (col.length < s.time.length) col.push(null);
    if (s.time.length > SERIES_POINTS) {
      s.time.shift();
      for (const col of Object.values(s.fields)) col.shift();
    }
  }
  if (list.length) changed('series');
}
