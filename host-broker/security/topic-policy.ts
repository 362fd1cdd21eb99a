// Per-device message filters: which topics a device may publish to and which
// filters it may subscribe to. A policy has an accept list, a reject list, or
// both: allowed = (no accept list, or accepted) and not rejected.
import { topicMatches } from '../../firmware/topic';
import { assertValidFilter, filterCovers, filtersIntersect } from './filter-algebra';

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
 * May a client under `policy` subscribe to `filter`? Strict on purpose: the
 * filter must lie wholly inside an accepted filter, and must not reach any
 * rejected topic at all (so with "reject": ["secret/#"], a subscription to "#"
 * is refused rather than silently leaking secret/...).
 */
export function policyAllowsFilter(policy: TopicPolicy | undefined, filter: string): boolean {
  if (!policy) return true;
  if (policy.accept && !policy.accept.some((f) => filterCovers(f, filter))) return false;
  if (policy.reject && policy.reject.some((f) => filtersIntersect(f, filter))) return false;
  return true;
}
