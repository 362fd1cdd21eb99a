// Per-device message filters: which topics a device may publish to, which
// filters it may subscribe to, and which messages it may then receive. A policy
// has an accept list, a reject list, or both: allowed = (no accept list, or
// accepted) and not rejected. The hub's own topics ($hub/..., where hub events
// are published) are never reached by default: a device reads them only when an
// accept filter names them.
import { topicMatches } from '../../firmware/topic';
import { assertValidFilter, filterCovers } from './filter-algebra';

export interface TopicPolicy {
  /** When present, only these filters are allowed. */
  accept?: string[];
  /** Never allowed, even when accepted. */
  reject?: string[];
}

/** Validate a policy read from config, the CLI or the database; returns a clean copy or throws naming the field. */
export function parseTopicPolicy(value: unknown, field: string): TopicPolicy | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${field}: expected an object like {"accept": ["a/#"]} or {"reject": ["b/+"]}`);
  }
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (key !== 'accept' && key !== 'reject') throw new Error(`${field}.${key}: unknown key; expected "accept" and/or "reject"`);
  }
  const out: TopicPolicy = {};
  for (const key of ['accept', 'reject'] as const) {
    const list = v[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new Error(`${field}.${key}: expected an array of topic filters`);
    list.forEach((f, i) => assertValidFilter(f, `${field}.${key}[${i}]`));
    out[key] = list.slice() as string[];
  }
  return out;
}

/** May a client under `policy` publish to `topic` (a topic name, no wildcards)? */
export function policyAllowsTopic(policy: TopicPolicy | undefined, topic: string): boolean {
  if (!policy) return true;
  if (policy.accept && !policy.accept.some((f) => topicMatches(f, topic))) return false;
  if (policy.reject && policy.reject.some((f) => topicMatches(f, topic))) return false;
  return true;
}

/**
 * The hub's own topics, read only through an accept filter that names them: hub events
 * ($hub/events/...: device ids, addresses, failed logins) and its counters ($SYS/...:
 * how many devices, how busy; metrics/sys-topics.ts).
 */
export const HUB_TOPICS = ['$hub/#', '$SYS/#'];

/**
 * May a client under `policy` subscribe to `filter`? Like Mosquitto's ACLs:
 * - with an accept list, the filter must lie wholly inside an accepted filter;
 * - it is refused only when it lies wholly inside one rejected filter. A filter
 *   that merely overlaps rejected topics (say "#" with "reject": ["secret/#"])
 *   is granted, and each message is checked on its way out instead
 *   (policyAllowsDelivery), so nothing rejected reaches the device while a
 *   monitor subscribed to "#" keeps working;
 * - a filter inside the hub's topics (`hubTopics`, default $hub/#) needs an
 *   accept filter that covers it.
 */
export function policyAllowsFilter(policy: TopicPolicy | undefined, filter: string, hubTopics: readonly string[] = HUB_TOPICS): boolean {
  if (!policy?.accept && hubTopics.some((h) => filterCovers(h, filter))) return false;
  if (!policy) return true;
  if (policy.accept && !policy.accept.some((f) => filterCovers(f, filter))) return false;
  if (policy.reject && policy.reject.some((f) => filterCovers(f, filter))) return false;
  return true;
}

/**
 * May a client whose subscribe policy is `policy` receive a message on `topic`?
 * Asked for every message before it is delivered (retained and queued ones
 * included): accepted (if there is an accept list), not rejected, and a topic
 * among the hub's own only when an accept filter matches it.
 */
export function policyAllowsDelivery(policy: TopicPolicy | undefined, topic: string, hubTopics: readonly string[] = HUB_TOPICS): boolean {
  if (!policy?.accept && hubTopics.some((h) => topicMatches(h, topic))) return false;
  return policyAllowsTopic(policy, topic);
}
