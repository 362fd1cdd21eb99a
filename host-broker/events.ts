// Hub events: errors MQTT cannot report to a device, published by the hub as
// JSON on <prefix>/<severity>/<object-type>/<object-id>.
import type { Packet } from 'mqtt-packet';
import type { HubEvent } from './hooks';

export interface EventsOptions {
  /** Publish events over MQTT (they are always emitted as broker 'hubEvent'). Default true. */
  enabled: boolean;
  /** Topic prefix; default '$hub/events'. */
  prefix: string;
}

export const DEFAULT_EVENTS: EventsOptions = { enabled: true, prefix: '$hub/events' };

/** One topic level from an arbitrary id: '/', '+', '#' and U+0000 would change the topic's shape. */
export function topicLevel(id: string): string {
  let s = '';
  for (const ch of id) s += ch === '/' || ch === '+' || ch === '#' || ch === '\u0000' ? '_' : ch;
  return s === '' ? '_' : s;
}

export function eventTopic(prefix: string, ev: HubEvent): string {
  return `${prefix}/${ev.severity}/${topicLevel(ev.objectType)}/${topicLevel(ev.objectId)}`;
}

/** The JSON body: time first, then the event's fields. */
export function eventPayload(ev: HubEvent, now = new Date()): Buffer {
  return Buffer.from(JSON.stringify({
    time: now.toISOString(), severity: ev.severity, objectType: ev.objectType, objectId: ev.objectId,
    kind: ev.kind, message: ev.message, ...(ev.packet ? { packet: ev.packet } : {}),
  }));
}

/** What an event may say about a packet: never the payload itself. */
export function packetSummary(p: Packet | { cmd: string; [k: string]: any }): NonNullable<HubEvent['packet']> {
  const a = p as any;
  const s: NonNullable<HubEvent['packet']> = { cmd: a.cmd };
  if (typeof a.topic === 'string') s.topic = a.topic;
  if (typeof a.messageId === 'number') s.messageId = a.messageId;
  if (a.cmd === 'publish') {
    s.qos = a.qos;
    if (a.payload != null) s.payloadBytes = Buffer.byteLength(a.payload);
  }
  return s;
}
