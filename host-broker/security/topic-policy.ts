// Per-device message filters: which topics a device may publish to, which
// filters it may subscribe to, and which messages it may then receive. A policy
// has an accept list, a reject list, or both: allowed = (no accept list, or
// accepted) and not rejected. The hub's own topics ($hub/..., where hub events
// are published) are never reached by default: a device reads them only when an
// accept filter names them.
import { checkFilter, topicMatches } from '../../firmware/topic';
import { validate, type Schema } from '../config-schema';
import { filterCovers } from './filter-algebra';

export interface TopicPolicy {
  /** When present, only these filters are allowed. */
  accept?: string[];
  /** Never allowed, even when accepted. */
  reject?: string[];
}

/** An error in a policy: "<field>: <what was expected>". */
class PolicyError extends Error {
  constructor(readonly field: string, expected: string) { super(`${field}: ${expected}`); }
}

const filterList = (what: string, example: string[]): Schema => ({
  kind: 'list', expected: 'an array of topic filters', example, doc: what,
  of: { kind: 'string', type: 'a topic filter', doc: 'an MQTT topic filter', check: (f) => { const why = checkFilter(f); return why ? `${why} (in ${JSON.stringify(f)})` : null; } },
});

/** A policy as config files, the CLI and the control API give it. */
export const POLICY_SCHEMA: Schema = {
  kind: 'object', doc: 'Topic filters: `accept` (when present, only these), `reject` (never these, even when accepted).',
  fields: {
    accept: filterList('When present, only topics matching one of these filters are allowed.', ['devices/dev1/#']),
    reject: filterList('Topics matching one of these are never allowed, even when accepted.', ['devices/+/secret/#']),
  },
};

/** Validate a policy read from config, the CLI or the database; returns a clean copy or throws naming the field. */
export function parseTopicPolicy(value: unknown, field: string): TopicPolicy | undefined {
  if (value === undefined || value === null) return undefined;
  return validate(POLICY_SCHEMA, value, field, { Err: PolicyError }) as TopicPolicy;
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
