// Topic mappings: which hub topics go up and under which name, which upstream
// topics come down and where they land. Pure functions over TopicMapping.
import { checkTopic, topicMatches } from '../../firmware/topic';
import type { QoS } from '../store/types';
import type { TopicMapping } from './types';

/** The upstream side of a mapping's filter: what an in/both mapping subscribes to there. */
export function remoteFilter(m: TopicMapping): string {
  return m.remotePrefix + m.filter.slice(m.localPrefix.length);
}

const goesOut = (m: TopicMapping) => m.direction === 'out' || m.direction === 'both';
const comesIn = (m: TopicMapping) => m.direction === 'in' || m.direction === 'both';

/** Swaps `from` for `to` at the start of `topic`; null if the topic lacks the prefix or the result is not a topic name. */
function swapPrefix(topic: string, from: string, to: string): string | null {
  if (!topic.startsWith(from)) return null;
  const out = to + topic.slice(from.length);
  return checkTopic(out) ? null : out;
}

/**
 * Where a hub topic goes upstream: the first out/both mapping whose filter
 * matches decides (one copy per message, whatever else matches), with the
 * mapping's QoS as the most a message keeps. null: no mapping takes it.
 */
export function outbound(mappings: readonly TopicMapping[], topic: string): { topic: string; qos: QoS } | null {
  for (const m of mappings) {
    if (!goesOut(m) || !topicMatches(m.filter, topic)) continue;
    const remote = swapPrefix(topic, m.localPrefix, m.remotePrefix);
    if (remote !== null) return { topic: remote, qos: m.qos };
  }
  return null;
}

/** Where an upstream message lands on the hub: the first in/both mapping whose upstream filter matches. */
export function inbound(mappings: readonly TopicMapping[], topic: string): string | null {
  for (const m of mappings) {
    if (!comesIn(m) || !topicMatches(remoteFilter(m), topic)) continue;
    const local = swapPrefix(topic, m.remotePrefix, m.localPrefix);
    if (local !== null) return local;
  }
  return null;
}

/** The upstream subscriptions of the in/both mappings (one per distinct filter, highest QoS). */
export function subscriptions(mappings: readonly TopicMapping[]): { topic: string; qos: QoS }[] {
  const byFilter = new Map<string, QoS>();
  for (const m of mappings) {
    if (!comesIn(m)) continue;
    const f = remoteFilter(m);
    byFilter.set(f, Math.max(byFilter.get(f) ?? 0, m.qos) as QoS);
  }
  return [...byFilter].map(([topic, qos]) => ({ topic, qos }));
}

/** Whether the upstream would send a message on this topic back down to us (our own subscription matches it). */
export function echoedBack(mappings: readonly TopicMapping[], remoteTopic: string): boolean {
  return mappings.some((m) => comesIn(m) && topicMatches(remoteFilter(m), remoteTopic));
}
